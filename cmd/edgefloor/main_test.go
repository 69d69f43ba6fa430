package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

const body = `{"event":"DOCUMENTS.INVOICE.DELIVERED","company_id":"53a4e05d-42f0-4e76-acd6-968ab4558c6f","event_timestamp":"2026-11-30T08:00:00+02:00","event_data":{"invoice_id":"floor-1"}}`

// TestEveryLevelStoresAWebhook starts each level on 127.0.0.1:0 and posts one
// webhook: a level that stopped storing (or answering) would measure nothing.
func TestEveryLevelStoresAWebhook(t *testing.T) {
	for _, level := range []string{"store", "checked", "service"} {
		t.Run(level, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			out, w := io.Pipe()
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, []string{"-data-dir", t.TempDir(), "-level", level}, w)
				_ = w.Close()
			}()
			line, err := bufio.NewReader(out).ReadString('\n')
			if err != nil {
				t.Fatalf("no banner: %v (run: %v)", err, <-done)
			}
			url := strings.TrimSpace(line[strings.Index(line, "http://"):])
			go func() { _, _ = io.Copy(io.Discard, out) }()
			res, err := http.Post(url, "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			_ = res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Errorf("status %d, want 200", res.StatusCode)
			}
			if level != "store" { // the levels that authenticate refuse a wrong secret
				res, err := http.Post(strings.Replace(url, "secret=", "secret=wrong", 1), "application/json", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				_ = res.Body.Close()
				if res.StatusCode != http.StatusUnauthorized {
					t.Errorf("wrong secret: status %d, want 401", res.StatusCode)
				}
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestBadFlagsSayWhatToFix(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-level", "store"}, "-data-dir is required"},
		{[]string{"-data-dir", "x", "-level", "fast"}, `-level "fast": want store, checked or service`},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		args := tt.args
		if args[0] == "-data-dir" {
			args = append([]string{"-data-dir", dir}, args[2:]...)
		}
		err := run(context.Background(), args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run %v: %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}
