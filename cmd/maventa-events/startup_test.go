package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
)

// TestConfigurationErrorsStopBeforeAnythingStarts runs the real entry point
// with one wrong setting each: the service must stop at once with one line per
// problem naming the flag, the variable and what is accepted, before it has
// created its data directory or said a word about NATS.
func TestConfigurationErrorsStopBeforeAnythingStarts(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string // every one must be in the error
	}{
		{"company credentials that are not uuid=key", map[string]string{"MAVENTA_COMPANY_CREDENTIALS": "abc"}, nil,
			[]string{"MAVENTA_COMPANY_CREDENTIALS", "uuid=key"}},
		{"a company id that is not a UUID", map[string]string{"MAVENTA_COMPANY_CREDENTIALS": "not-a-uuid=key"}, nil,
			[]string{"MAVENTA_COMPANY_CREDENTIALS", "MAVENTA_CREDENTIALS_FILE", `"not-a-uuid" is not a UUID`}},
		{"a listen address without a host part", map[string]string{"LISTEN_ADDR": "8080"}, nil,
			[]string{"-listen / LISTEN_ADDR", `:8080`, `got "8080"`}},
		{"an admin address that is no address", map[string]string{"ADMIN_LISTEN": "localhost"}, nil,
			[]string{"-admin-listen / ADMIN_LISTEN", "host:port"}},
		{"a duration without a unit", map[string]string{"POLL_INTERVAL": "60"}, nil,
			[]string{"-poll-interval / POLL_INTERVAL", "no unit", "60s"}},
		{"a duration without a unit as a flag", nil, []string{"-poll-interval", "60"},
			[]string{"-poll-interval / POLL_INTERVAL", "no unit"}},
		{"a duration that is no duration", map[string]string{"WEBHOOK_REQUEST_TIMEOUT": "soon"}, nil,
			[]string{"-request-timeout / WEBHOOK_REQUEST_TIMEOUT", "90s, 5m, 2h or 7d", `"soon"`}},
		{"an unknown log level", map[string]string{"LOG_LEVEL": "verbose"}, nil,
			[]string{"-log-level / LOG_LEVEL", "debug, info, warn or error", `"verbose"`}},
		{"an unknown log format", map[string]string{"LOG_FORMAT": "xml"}, nil,
			[]string{"-log-format / LOG_FORMAT", "text or json"}},
		{"a boolean spelled yes", map[string]string{"DEV": "yes"}, nil,
			[]string{"-dev / DEV", "true or false", `"yes"`}},
		{"an unknown fsync policy", map[string]string{"NATS_SYNC": "sometimes"}, nil,
			[]string{"-nats-sync / NATS_SYNC", "default, always or an interval"}},
		{"a negative body limit", map[string]string{"WEBHOOK_MAX_BODY": "-1"}, nil,
			[]string{"-max-body / WEBHOOK_MAX_BODY", "positive whole number"}},
		{"a port that is no number", map[string]string{"NATS_EMBEDDED_PORT": "x"}, nil,
			[]string{"-nats-port / NATS_EMBEDDED_PORT", "whole number"}},
		{"a rate that is no number", map[string]string{"MAVENTA_REQUESTS_PER_SECOND": "fast"}, nil,
			[]string{"-maventa-rps / MAVENTA_REQUESTS_PER_SECOND", "want a number"}},
		{"a port out of range", map[string]string{"NATS_EMBEDDED_PORT": "70000"}, nil,
			[]string{"-nats-port / NATS_EMBEDDED_PORT", "1-65535"}},
		{"an http URL for NATS", map[string]string{"NATS_URL": "http://127.0.0.1:8222"}, nil,
			[]string{"-nats-url / NATS_URL", "nats://host:4222"}},
		{"a Maventa URL without a scheme", map[string]string{"MAVENTA_AX_URL": "ax.maventa.com"}, nil,
			[]string{"-maventa-ax-url / MAVENTA_AX_URL", "https://"}},
		{"an embedded server on every interface", map[string]string{"NATS_EMBEDDED_HOST": "0.0.0.0"}, nil,
			[]string{"-nats-host / NATS_EMBEDDED_HOST", "NATS_EMBEDDED_ALLOW_REMOTE"}},
		{"a client certificate without its key", map[string]string{"NATS_TLS_CERT": "c.pem"}, nil,
			[]string{"NATS_TLS_CERT", "NATS_TLS_KEY", "both"}},
		{"webhooks kept shorter than their duplicate window", map[string]string{"WEBHOOK_MAX_AGE": "1m"}, nil,
			[]string{"-webhook-max-age / WEBHOOK_MAX_AGE", "-dedup-window / DEDUP_WINDOW"}},
		{"quarantine kept shorter than the duplicate window", map[string]string{"QUARANTINE_MAX_AGE": "1m"}, nil,
			[]string{"QUARANTINE_MAX_AGE", "DEDUP_WINDOW"}},
		{"events kept shorter than their duplicate window", map[string]string{"EVENT_MAX_AGE": "1h"}, nil,
			[]string{"-event-max-age / EVENT_MAX_AGE", "-event-dedup-window / EVENT_DEDUP_WINDOW"}},
		{"dead letters kept shorter than their duplicate window", map[string]string{"DEADLETTER_MAX_AGE": "1m"}, nil,
			[]string{"-deadletter-max-age / DEADLETTER_MAX_AGE", "2m0s"}},
		{"processed markers shorter than Maventa's retries", map[string]string{"PROCESSED_TTL": "1h", "POLL_LOOKBACK": "1h"}, nil,
			[]string{"-processed-ttl / PROCESSED_TTL", "25h"}},
		{"a look-back beyond the processed markers", map[string]string{"POLL_LOOKBACK": "9d"}, nil,
			[]string{"-poll-lookback / POLL_LOOKBACK", "-processed-ttl / PROCESSED_TTL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), "data")
			env := map[string]string{"LISTEN_ADDR": "127.0.0.1:0", "WEBHOOK_SECRETS": testSecret, "DATA_DIR": dataDir, "NATS_EMBEDDED_PORT": "-1"}
			for k, v := range tt.env {
				env[k] = v
			}
			var stdout, stderr syncBuffer
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := run(ctx, append([]string{"maventa-events"}, tt.args...), envFunc(env), &stdout, &stderr)
			if err == nil {
				t.Fatal("the service started")
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("want one line, got:\n%s", msg)
			}
			if strings.Contains(msg, "credentials: maventa") {
				t.Errorf("error stutters: %q", msg)
			}
			if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("DATA_DIR was created (%v): something started before the configuration was checked", err)
			}
			if strings.Contains(strings.ToLower(stderr.String()), "nats") {
				t.Errorf("the service spoke of NATS before stopping:\n%s", stderr.String())
			}
		})
	}
}

func TestEveryConfigurationProblemIsReportedAtOnce(t *testing.T) {
	env := map[string]string{"POLL_INTERVAL": "60", "LOG_LEVEL": "verbose", "DEV": "yes"}
	err := run(context.Background(), []string{"maventa-events"}, envFunc(env), io.Discard, io.Discard)
	var ce *ConfigError
	if !errors.As(err, &ce) || len(ce.Problems) != 3 {
		t.Fatalf("want 3 problems, got %v", err)
	}
	if lines := strings.Split(err.Error(), "\n"); len(lines) != 3 {
		t.Fatalf("want one line per problem, got:\n%s", err)
	}
}

func TestHelpListsTheCommandsFirstAndExitsZero(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
		var stdout syncBuffer
		if err := run(context.Background(), append([]string{"maventa-events"}, args...), envFunc(nil), &stdout, io.Discard); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		out := stdout.String()
		cmds, flags := strings.Index(out, "commands:"), strings.Index(out, "-listen")
		if cmds < 0 || flags < 0 || cmds > flags {
			t.Fatalf("%v: want the commands, then serve's flags:\n%s", args, out)
		}
		for _, c := range []string{"received", "tail", "reconcile", "webhooks", "dlq", "status", "config", "probe"} {
			if !strings.Contains(out[:flags], "  "+c) {
				t.Errorf("%v: command %s not listed", args, c)
			}
		}
	}
	for _, cmd := range []string{"serve", "received", "status", "tail", "config"} {
		var stderr syncBuffer
		if err := run(context.Background(), []string{"maventa-events", cmd, "-h"}, envFunc(nil), io.Discard, &stderr); err != nil {
			t.Errorf("%s -h: %v", cmd, err)
		}
		if !strings.Contains(stderr.String(), "usage: maventa-events "+cmd) {
			t.Errorf("%s -h printed:\n%s", cmd, stderr.String())
		}
		if cmd == "config" && !strings.Contains(stderr.String(), "config -table") {
			t.Errorf("config -h does not mention -table:\n%s", stderr.String())
		}
	}
}

func TestAnUnknownFlagIsOneLineWithAHint(t *testing.T) {
	for _, cmd := range [][]string{{"-no-such-flag"}, {"serve", "-no-such-flag"}, {"received", "-no-such-flag"}, {"status", "-no-such-flag"}} {
		var stdout, stderr syncBuffer
		err := run(context.Background(), append([]string{"maventa-events"}, cmd...), envFunc(nil), &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), "-no-such-flag") || !strings.Contains(err.Error(), "-h' lists the flags") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: got %v", cmd, err)
		}
		if stdout.String()+stderr.String() != "" {
			t.Errorf("%v: printed more than the error:\n%s%s", cmd, stdout.String(), stderr.String())
		}
	}
}

func TestConfigPrintsTheEffectiveSettingsWithSecretsRedacted(t *testing.T) {
	env := map[string]string{
		"LISTEN_ADDR": ":9999", "WEBHOOK_SECRETS": "s3cret-one,s3cret-two", "NATS_PASSWORD": "nats-pw-value",
		"MAVENTA_VENDOR_API_KEY": "vendor-key-value", "MAVENTA_COMPANY_CREDENTIALS": "53a4e05d-42f0-4e76-acd6-968ab4558c6f=company-key-value",
	}
	var stdout syncBuffer
	if err := run(context.Background(), []string{"maventa-events", "config", "-poll-interval", "5m"}, envFunc(env), &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	out := stdout.String()
	for _, want := range []string{
		`(?m)^LISTEN_ADDR=:9999\s+# environment$`,
		`(?m)^POLL_INTERVAL=5m\s+# flag$`,
		`(?m)^DEDUP_WINDOW=2m\s+# default$`,
		`(?m)^ADMIN_LISTEN=''\s+# default$`,
		`(?m)^WEBHOOK_SECRETS=<redacted>\s+# environment$`,
		`(?m)^NATS_PASSWORD=<redacted>\s+# environment$`,
		`(?m)^MAVENTA_VENDOR_API_KEY=<redacted>\s+# environment$`,
		`(?m)^MAVENTA_COMPANY_CREDENTIALS=<redacted>\s+# environment$`,
		`(?m)^POLL_HOLDER=\S+-\d+\s+# default: host name and process id$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("no line matching %s in:\n%s", want, out)
		}
	}
	for _, secret := range []string{"s3cret-one", "s3cret-two", "nats-pw-value", "vendor-key-value", "company-key-value"} {
		if strings.Contains(out, secret) {
			t.Errorf("config printed the secret %q", secret)
		}
	}
	if n := strings.Count(out, "\n"); n != len(options)+2 {
		t.Errorf("want a header, one line per option and the credentials line, got %d lines", n)
	}

	stdout = syncBuffer{}
	if err := run(context.Background(), []string{"maventa-events", "config", "-table"}, envFunc(nil), &stdout, io.Discard); err != nil || stdout.String() != optionsMarkdown() {
		t.Fatalf("config -table must print the documentation's table: %v", err)
	}
	if err := run(context.Background(), []string{"maventa-events", "config"}, envFunc(map[string]string{"DEV": "yes"}), io.Discard, io.Discard); err == nil {
		t.Fatal("config accepted a configuration that serve refuses")
	}
}

// TestAWrongNATSURLStopsWithTheDialError: a NATS that never answers is waited
// for, saying so and for how long, and then the service stops with the real
// dial error instead of claiming to be connected and retrying forever.
func TestAWrongNATSURLStopsWithTheDialError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "nats://" + ln.Addr().String()
	ln.Close() // nothing listens there now

	tests := []struct {
		name, url, dialErr string
	}{
		{"nothing listens on the port", refused, "connection refused"},
		{"the host does not exist", "nats://no-such-host.invalid:4222", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"LISTEN_ADDR": "127.0.0.1:0", "WEBHOOK_SECRETS": testSecret, "NATS_URL": tt.url, "NATS_CONNECT_TIMEOUT": "1s"}
			var stderr syncBuffer
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := run(ctx, []string{"maventa-events"}, envFunc(env), io.Discard, &stderr)
			var te *natsstore.ConnectTimeoutError
			if !errors.As(err, &te) {
				t.Fatalf("want a connect timeout, got %v\n%s", err, stderr.String())
			}
			if !strings.Contains(err.Error(), "NATS_CONNECT_TIMEOUT") || !strings.Contains(err.Error(), "NATS_URL") {
				t.Errorf("error names neither the URL's nor the timeout's option: %v", err)
			}
			if tt.dialErr != "" && (te.Err == nil || !strings.Contains(err.Error(), tt.dialErr)) {
				t.Errorf("error hides the dial error %q: %v", tt.dialErr, err)
			}
			logs := stderr.String()
			if !strings.Contains(logs, "waiting for it") || !strings.Contains(logs, "gives_up_after=1s") {
				t.Errorf("the log does not say that it waits, and how long:\n%s", logs)
			}
			if tt.dialErr != "" && !strings.Contains(logs, tt.dialErr) {
				t.Errorf("the log does not show the dial error %q:\n%s", tt.dialErr, logs)
			}
			if strings.Contains(logs, `msg="nats connected"`) {
				t.Errorf("the log claims a connection:\n%s", logs)
			}
		})
	}
}

// TestEmbeddedNATSFailuresNameTheOption: each way the embedded server cannot
// start is reported at once with its cause and the option that fixes it.
func TestEmbeddedNATSFailuresNameTheOption(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)

	aFile := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(aFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	inUse := t.TempDir()
	other, err := natsstore.OpenBroker(context.Background(), natsstore.BrokerConfig{DataDir: inUse}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	readOnly := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		env  map[string]string
		want []string
		skip string
	}{
		{"the port is in use", map[string]string{"NATS_EMBEDDED_PORT": busyPort}, []string{"NATS_EMBEDDED_PORT", "address already in use", busyPort}, ""},
		{"DATA_DIR is a file", map[string]string{"DATA_DIR": aFile}, []string{"-data-dir / DATA_DIR", "not a directory"}, ""},
		{"DATA_DIR is used by another process", map[string]string{"DATA_DIR": inUse}, []string{"-data-dir / DATA_DIR", "in use by another process"}, ""},
		{"DATA_DIR is not writable", map[string]string{"DATA_DIR": readOnly}, []string{"-data-dir / DATA_DIR", "permission denied"},
			map[bool]string{true: "root writes anywhere"}[os.Geteuid() == 0]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skip != "" {
				t.Skip(tt.skip)
			}
			env := map[string]string{"LISTEN_ADDR": "127.0.0.1:0", "WEBHOOK_SECRETS": testSecret, "DATA_DIR": t.TempDir(), "NATS_EMBEDDED_PORT": "-1"}
			for k, v := range tt.env {
				env[k] = v
			}
			// A service that starts anyway runs until this deadline, then fails the test.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := run(ctx, []string{"maventa-events"}, envFunc(env), io.Discard, io.Discard)
			if err == nil {
				t.Fatal("the service started")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "?") {
				t.Errorf("error guesses instead of naming the cause: %v", err)
			}
		})
	}
}

// TestEmbeddedNATSRequiresTheGeneratedCredentials: the embedded server's port
// refuses anonymous and wrong clients; its credentials are in DATA_DIR, mode
// 0600; the CLI finds them there by itself.
func TestEmbeddedNATSRequiresTheGeneratedCredentials(t *testing.T) {
	s := startService(t, nil)
	path := filepath.Join(s.dataDir, natsstore.EmbeddedCredentialsFile)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode %v, want 0600", st.Mode().Perm())
	}
	for name, opts := range map[string][]nats.Option{
		"anonymous":      nil,
		"wrong password": {nats.UserInfo("maventa-events", "guess")},
	} {
		nc, err := nats.Connect(s.bareURL, append(opts, nats.MaxReconnects(0))...)
		if err == nil {
			// Were it connected: a forged webhook, a stream purge.
			pubErr := nc.Publish("maventa.webhooks.53a4e05d-42f0-4e76-acd6-968ab4558c6f.DOCUMENTS.INVOICE.DELIVERED", []byte(sampleWebhook))
			_, reqErr := nc.Request("$JS.API.STREAM.PURGE.MAVENTA_WEBHOOKS", nil, 2*time.Second)
			nc.Close()
			t.Fatalf("%s client connected (publish: %v, purge: %v)", name, pubErr, reqErr)
		}
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Errorf("%s client: want an authorization error, got %v", name, err)
		}
	}
	if code, _ := s.post(t, sampleWebhook); code != 200 {
		t.Fatalf("post: %d", code)
	}
	var out syncBuffer
	env := envFunc(map[string]string{"DATA_DIR": s.dataDir})
	if err := run(context.Background(), []string{"maventa-events", "received", "-nats-url", s.bareURL}, env, &out, io.Discard); err != nil {
		t.Fatalf("the CLI with the service's DATA_DIR: %v", err)
	}
	if !strings.Contains(out.String(), `"invoice_number":"1003"`) {
		t.Fatalf("received:\n%s", out.String())
	}
	if err := run(context.Background(), []string{"maventa-events", "status", "-nats-url", s.bareURL}, env, io.Discard, io.Discard); err != nil {
		t.Fatalf("status with the service's DATA_DIR: %v", err)
	}
	err = run(context.Background(), []string{"maventa-events", "status", "-nats-url", s.bareURL}, envFunc(map[string]string{"DATA_DIR": t.TempDir()}), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "DATA_DIR") {
		t.Fatalf("the CLI without credentials must say where they are expected, got %v", err)
	}
}

// TestTheBannerSuggestsACommandThatWorks: with the embedded server moved to
// another port and DATA_DIR, the command the banner suggests reaches this
// service, not whatever listens on 4222.
func TestTheBannerSuggestsACommandThatWorks(t *testing.T) {
	dataDir := t.TempDir()
	env := map[string]string{"LISTEN_ADDR": "127.0.0.1:0", "WEBHOOK_SECRETS": "", "DEV": "true", "DATA_DIR": dataDir,
		"NATS_EMBEDDED_PORT": "-1", "LOG_LEVEL": "warn", "POLL_ENABLED": "false"}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"maventa-events"}, envFunc(env), pw, io.Discard)
		pw.Close()
		done <- err
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	var baseURL, secret, command string
	sc := bufio.NewScanner(pr)
	for command == "" && sc.Scan() {
		line := sc.Text()
		if u, ok := strings.CutPrefix(line, "maventa-events listening on "); ok {
			baseURL = u
		}
		if rest, ok := strings.CutPrefix(line, "  dev secret:  "); ok {
			secret, _, _ = strings.Cut(rest, " ")
		}
		if line == "See it stored:" && sc.Scan() {
			command = strings.TrimSpace(sc.Text())
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if command == "" || secret == "" {
		t.Fatalf("the banner suggested no command (secret %q)", secret)
	}
	resp, err := http.Post(baseURL+"/webhooks/maventa?secret="+secret, "application/json", strings.NewReader(sampleWebhook))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("post: %d", resp.StatusCode)
	}

	// VAR=value ... go run ./cmd/maventa-events received [flags]
	cmdEnv := map[string]string{}
	fields := strings.Fields(command)
	for len(fields) > 0 && strings.Contains(fields[0], "=") {
		k, v, _ := strings.Cut(fields[0], "=")
		cmdEnv[k] = strings.Trim(v, "'")
		fields = fields[1:]
	}
	if len(fields) < 3 || fields[0] != "go" || fields[2] != "./cmd/maventa-events" {
		t.Fatalf("unexpected command %q", command)
	}
	args := []string{"maventa-events"}
	for _, f := range fields[3:] {
		args = append(args, strings.Trim(f, "'"))
	}
	var out syncBuffer
	if err := run(context.Background(), args, envFunc(cmdEnv), &out, io.Discard); err != nil {
		t.Fatalf("the banner's command %q: %v", command, err)
	}
	if !strings.Contains(out.String(), `"invoice_number":"1003"`) {
		t.Fatalf("the banner's command %q shows:\n%s", command, out.String())
	}
}
