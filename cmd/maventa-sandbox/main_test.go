package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestRunServesTokenEndpoint(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	env := map[string]string{"MAVENTA_SANDBOX_SEED": "9", "MAVENTA_SANDBOX_DEMO_API_KEY": "env-key"}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-ax-addr", "127.0.0.1:0", "-receivables-addr", "127.0.0.1:0", "-admin-addr", "127.0.0.1:0",
			"-scenario-invoices", "3"}, func(k string) string { return env[k] }, pw, io.Discard)
		pw.Close()
	}()
	lines := map[string]string{}
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		if line == "Ready." {
			break
		}
		k, v, _ := strings.Cut(line, ":")
		lines[k] = strings.TrimSpace(v)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	axURL := lines["AX API"]
	fields := map[string]string{}
	for _, f := range strings.Fields(lines["Demo company"]) {
		k, v, _ := strings.Cut(f, "=")
		fields[k] = v
	}
	if axURL == "" || fields["client_secret"] != "env-key" {
		t.Fatalf("output %v", lines)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {fields["client_id"]},
		"client_secret": {fields["client_secret"]}, "vendor_api_key": {fields["vendor_api_key"]}}
	resp, err := http.PostForm(axURL+"/oauth2/token", form)
	if err != nil {
		t.Fatal(err)
	}
	var tok map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != 200 || tok["access_token"] == "" {
		t.Fatalf("token %d %v", resp.StatusCode, tok)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}
