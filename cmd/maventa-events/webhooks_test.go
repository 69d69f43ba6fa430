package main

import (
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

const (
	whCompany   = "6f1c2a77-6c1f-4a55-9b36-3f5f1e2d9a11"
	whAPIKey    = "api-key-webhooks-1"
	whVendorKey = "vendor-key-webhooks"
)

// startSandbox runs a fake Maventa with one company and returns the
// environment the service would use to reach it.
func startSandbox(t *testing.T) (*sandbox.Sandbox, map[string]string) {
	t.Helper()
	sb := sandbox.New(sandbox.Config{Seed: 3, Logger: quietLog()})
	sb.AddCompany(sandbox.Company{ID: whCompany, APIKey: whAPIKey, VendorAPIKey: whVendorKey, Name: "Webhook Oy", BID: "1234567-8"})
	srv, err := sandbox.Start(sb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return sb, map[string]string{
		"MAVENTA_AX_URL": srv.AXURL, "MAVENTA_RECEIVABLES_URL": srv.ReceivablesURL,
		"MAVENTA_VENDOR_API_KEY": whVendorKey, "MAVENTA_COMPANY_CREDENTIALS": whCompany + "=" + whAPIKey,
	}
}

// runCLI runs one command as main would and returns what it printed.
func runCLI(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut syncBuffer
	err = run(context.Background(), append([]string{"maventa-events"}, args...), envFunc(env), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestWebhooksRegisterListDeleteRoundTripNeverPrintsASecret(t *testing.T) {
	_, env := startSandbox(t)
	secrets := []string{"s3cr3t-in-query", "s3cr3t-in-basic-auth", "vendor-key-s3cr3t"}
	tests := []struct {
		name         string
		args         []string
		wantDest     string // as printed
		wantWarnings []string
		wantType     string
	}{
		{"https with ?secret= registers without warnings",
			[]string{"-url", "https://hooks.example.com/webhooks/maventa?secret=s3cr3t-in-query"},
			"https://hooks.example.com/webhooks/maventa?secret=REDACTED", nil, "VENDOR_WEBHOOK"},
		{"http with a Basic-auth password warns about clear text only",
			[]string{"-url", "http://maventa:s3cr3t-in-basic-auth@127.0.0.1:8080/webhooks/maventa", "-type", "WEBHOOK"},
			"http://maventa:REDACTED@127.0.0.1:8080/webhooks/maventa", []string{"not https"}, "WEBHOOK"},
		{"no secret at all warns that the service will answer 401",
			[]string{"-url", "https://hooks.example.com/webhooks/maventa", "-vendor-key", "vendor-key-s3cr3t"},
			"https://hooks.example.com/webhooks/maventa", []string{"carries no secret"}, "VENDOR_WEBHOOK"},
		{"http without a secret gets both warnings",
			[]string{"-url", "http://hooks.example.com/webhooks/maventa?other=1", "-events", "DOCUMENTS.*.*"},
			"http://hooks.example.com/webhooks/maventa?other=1", []string{"not https", "carries no secret"}, "VENDOR_WEBHOOK"},
	}
	noSecret := func(t *testing.T, where, s string) {
		t.Helper()
		for _, sec := range secrets {
			if strings.Contains(s, sec) {
				t.Fatalf("%s shows the secret %q:\n%s", where, sec, s)
			}
		}
	}
	var ids []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, err := runCLI(t, env, append([]string{"webhooks", "register", "-json"}, tt.args...)...)
			if err != nil {
				t.Fatalf("register: %v\n%s", err, errOut)
			}
			noSecret(t, "stdout", out)
			noSecret(t, "stderr", errOut)
			var v notificationView
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Fatalf("-json output is not JSON: %v\n%s", err, out)
			}
			if v.ID == "" || v.Destination != tt.wantDest || v.DestinationType != tt.wantType {
				t.Fatalf("registered %+v, want destination %s type %s", v, tt.wantDest, tt.wantType)
			}
			for _, w := range tt.wantWarnings {
				if !strings.Contains(errOut, "warning: ") || !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks the warning %q:\n%s", w, errOut)
				}
			}
			if tt.wantWarnings == nil && errOut != "" {
				t.Errorf("unexpected stderr: %s", errOut)
			}
			ids = append(ids, v.ID)
		})
	}

	// Maventa holds the real URLs, secrets intact: only our output is redacted.
	api, err := maventa.New(maventa.Config{AXBaseURL: env["MAVENTA_AX_URL"], VendorAPIKey: maventa.NewSecret(whVendorKey)},
		maventa.StaticCredentials(map[string]string{whCompany: whAPIKey}), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	stored, err := api.ListNotifications(context.Background(), whCompany)
	if err != nil {
		t.Fatal(err)
	}
	var real []string
	for _, n := range stored {
		real = append(real, n.Destination)
		if strings.Contains(n.Destination, "hooks.example.com/webhooks/maventa?secret=") && !slices.Equal(n.Events, events.WebhookEventPatterns) {
			t.Errorf("default events %v, want %v", n.Events, events.WebhookEventPatterns)
		}
	}
	if !slices.Contains(real, "https://hooks.example.com/webhooks/maventa?secret=s3cr3t-in-query") ||
		!slices.Contains(real, "http://maventa:s3cr3t-in-basic-auth@127.0.0.1:8080/webhooks/maventa") {
		t.Fatalf("Maventa holds %v: the registered URLs must keep their secrets", real)
	}

	t.Run("list shows every registration redacted", func(t *testing.T) {
		out, errOut, err := runCLI(t, env, "webhooks", "list")
		if err != nil {
			t.Fatalf("list: %v\n%s", err, errOut)
		}
		noSecret(t, "list", out+errOut)
		for _, want := range append(ids, "ID", "DESTINATION", "secret=REDACTED", "maventa:REDACTED@", "NETWORKS.*", "SERVICES.*") {
			if !strings.Contains(out, want) {
				t.Errorf("list lacks %q:\n%s", want, out)
			}
		}
		out, _, err = runCLI(t, env, "webhooks", "list", "--json")
		if err != nil {
			t.Fatal(err)
		}
		noSecret(t, "list --json", out)
		var views []notificationView
		if err := json.Unmarshal([]byte(out), &views); err != nil || len(views) != len(ids) {
			t.Fatalf("list --json: %v, %d entries\n%s", err, len(views), out)
		}
		if !strings.Contains(out, `"vendor_key": "REDACTED"`) {
			t.Errorf("the vendor key is not shown redacted:\n%s", out)
		}
	})

	t.Run("delete removes each registration", func(t *testing.T) {
		for i, id := range ids {
			args := []string{"webhooks", "delete", "-id", id}
			if i == 0 {
				args = append(args, "-json")
			}
			out, errOut, err := runCLI(t, env, args...)
			if err != nil || !strings.Contains(out, id) {
				t.Fatalf("delete %s: %v\n%s%s", id, err, out, errOut)
			}
			if i == 0 && !json.Valid([]byte(out)) {
				t.Fatalf("delete -json is not JSON: %s", out)
			}
		}
		out, _, err := runCLI(t, env, "webhooks", "list")
		if err != nil || !strings.Contains(out, "no webhooks registered") {
			t.Fatalf("after delete: %v\n%s", err, out)
		}
		if _, _, err := runCLI(t, env, "webhooks", "delete", "-id", ids[0]); err == nil || !strings.Contains(err.Error(), "404") {
			t.Fatalf("deleting twice: %v, want Maventa's 404", err)
		}
	})
}

func TestWebhooksErrorsAreClearAndSecretFree(t *testing.T) {
	_, env := startSandbox(t)
	twoCompanies := map[string]string{}
	for k, v := range env {
		twoCompanies[k] = v
	}
	twoCompanies["MAVENTA_COMPANY_CREDENTIALS"] = whCompany + "=" + whAPIKey + ",7a2d3b88-7d2f-4b66-8c47-4f6f2e3e0b22=other-key"
	noCreds := map[string]string{"MAVENTA_AX_URL": env["MAVENTA_AX_URL"]}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no subcommand", env, []string{"webhooks"}, "usage: maventa-events webhooks"},
		{"unknown subcommand", env, []string{"webhooks", "frob"}, `unknown webhooks command "frob"`},
		{"register without -url", env, []string{"webhooks", "register"}, "-url is required"},
		{"register with a non-http URL does not echo it", env, []string{"webhooks", "register", "-url", "ftp://u:s3cr3t@host/x"}, "absolute http(s) URL"},
		{"unknown type", env, []string{"webhooks", "register", "-url", "https://h/x?secret=a", "-type", "EMAIL"}, `-type "EMAIL"`},
		{"vendor key on a company webhook", env, []string{"webhooks", "register", "-url", "https://h/x?secret=a", "-type", "WEBHOOK", "-vendor-key", "k"}, "needs -type VENDOR_WEBHOOK"},
		{"empty events", env, []string{"webhooks", "register", "-url", "https://h/x?secret=a", "-events", " , "}, "-events is empty"},
		{"delete without -id", env, []string{"webhooks", "delete"}, "-id is required"},
		{"several companies need -company", twoCompanies, []string{"webhooks", "list"}, "choose one with -company"},
		{"no credentials", noCreds, []string{"webhooks", "list"}, "no Maventa company credentials"},
		{"Maventa refuses a company it does not know", env, []string{"webhooks", "list", "-company", "00000000-0000-0000-0000-000000000000"}, "no credentials for company"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, err := runCLI(t, tt.env, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			for _, s := range []string{err.Error(), out, errOut} {
				if strings.Contains(s, "s3cr3t") || strings.Contains(s, whAPIKey) || strings.Contains(s, whVendorKey) {
					t.Fatalf("a secret was printed: %s", s)
				}
			}
		})
	}
	if err := run(context.Background(), []string{"maventa-events", "webhooks", "list", "-company", whCompany}, envFunc(twoCompanies), io.Discard, io.Discard); err != nil {
		t.Fatalf("-company picks among several: %v", err)
	}
}

func TestRedactURLHidesWebhookSecrets(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"secret query parameter", "https://h/webhooks/maventa?secret=abc", "https://h/webhooks/maventa?secret=REDACTED"},
		{"basic auth password", "https://maventa:abc@h/webhooks/maventa", "https://maventa:REDACTED@h/webhooks/maventa"},
		{"both, other parameters kept in order", "https://u:p@h/x?z=1&secret=abc&a=2", "https://u:REDACTED@h/x?z=1&secret=REDACTED&a=2"},
		{"repeated and differently cased names", "https://h/x?Secret=a&secret=b&api_token=c", "https://h/x?Secret=REDACTED&secret=REDACTED&api_token=REDACTED"},
		{"user without password is kept", "https://maventa@h/x", "https://maventa@h/x"},
		{"nothing secret", "https://h/x?page=2", "https://h/x?page=2"},
		{"unparseable", "https://h/x\x7f?secret=abc", "(unparseable URL hidden)"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redactURL(tt.in); got != tt.want {
				t.Fatalf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	if got := redactText(`post "https://u:pw@h/x?secret=s" failed`); strings.Contains(got, "pw") || strings.Contains(got, "=s\"") {
		t.Fatalf("redactText left a secret: %s", got)
	}
}
