package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/consumers/natstest"
)

const testSecret = "test-secret-123"

// service is the real program started through run, as production starts it.
type service struct {
	url      string // http://127.0.0.1:port
	natsURL  string // the embedded server's client URL with its credentials, when embedded
	bareURL  string // the embedded server's client URL as the banner prints it
	dataDir  string
	adminURL string // the admin listener's base URL, when ADMIN_LISTEN is set
	cancel   context.CancelFunc
	done     chan error
	stderr   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func envFunc(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// startService runs the service and returns once it printed its banner, which it
// does only when the streams are provisioned.
func startService(t *testing.T, env map[string]string, args ...string) *service {
	t.Helper()
	base := serviceEnv(t, env)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &service{cancel: cancel, done: make(chan error, 1), stderr: &syncBuffer{}}
	go func() {
		err := run(ctx, append([]string{"maventa-events"}, args...), envFunc(base), pw, s.stderr)
		pw.Close()
		s.done <- err
	}()
	select {
	case b := <-scanBanner(pr):
		s.url, s.adminURL, s.dataDir = b.url, b.adminURL, base["DATA_DIR"]
		s.bareURL, s.natsURL = b.natsURL, withEmbeddedCredentials(t, b.natsURL, base["DATA_DIR"])
	case err := <-s.done:
		t.Fatalf("service exited before it was ready: %v\n%s", err, s.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("service not ready after 30s\n%s", s.stderr)
	}
	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() { // whatever failed, the service's own account of it
			t.Logf("service log:\n%s", tailLines(s.stderr.String(), 40))
		}
	})
	return s
}

// serviceEnv is a test service's environment: env over loopback listeners on
// free ports, the test secret and a data directory of t's own.
func serviceEnv(t *testing.T, env map[string]string) map[string]string {
	base := map[string]string{
		"LISTEN_ADDR": "127.0.0.1:0", "WEBHOOK_SECRETS": testSecret, "DATA_DIR": t.TempDir(),
		"NATS_EMBEDDED_PORT": "-1", "LOG_LEVEL": "debug",
	}
	for k, v := range env {
		base[k] = v
	}
	return base
}

// withEmbeddedCredentials adds to an embedded server's client URL the
// credentials that the server wrote into dataDir, so that the tests' own
// clients can connect; "" (no embedded server) stays "".
func withEmbeddedCredentials(t *testing.T, natsURL, dataDir string) string {
	t.Helper()
	if natsURL == "" {
		return ""
	}
	u, err := natsstore.EmbeddedClientURL(natsURL, dataDir)
	if err != nil {
		t.Fatalf("embedded NATS credentials: %v", err)
	}
	return u
}

// banner is what the service's start-up banner says, once its streams are ready.
type banner struct{ url, natsURL, adminURL string }

// scanBanner reads the service's stdout until the banner's last fixed line, sends
// what it said, and then keeps draining the output so the service never blocks
// writing it.
func scanBanner(r io.Reader) <-chan banner {
	out := make(chan banner, 1)
	go func() {
		var b banner
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			line := sc.Text()
			if u, ok := strings.CutPrefix(line, "maventa-events listening on "); ok {
				b.url = u
			}
			if rest, ok := strings.CutPrefix(line, "  NATS:        "); ok {
				b.natsURL, _, _ = strings.Cut(rest, " ")
			}
			if rest, ok := strings.CutPrefix(line, "  admin:       "); ok {
				b.adminURL, _, _ = strings.Cut(rest, " ")
			}
			if strings.HasPrefix(line, "  webhook URL:") { // the banner's last fixed line
				out <- b
				break
			}
		}
		_, _ = io.Copy(io.Discard, r)
	}()
	return out
}

func (s *service) stop(t *testing.T) error {
	t.Helper()
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		return err
	case <-time.After(60 * time.Second):
		t.Fatal("service did not stop within 60s")
		return nil
	}
}

func (s *service) post(t *testing.T, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(s.url+"/webhooks/maventa?secret="+testSecret, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *service) status(t *testing.T, path string) int {
	t.Helper()
	resp, err := http.Get(s.url + path)
	if err != nil {
		t.Fatalf("get %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func webhook(i int) string {
	return fmt.Sprintf(`{"event":"DOCUMENTS.INVOICE.DELIVERED","company_id":"53a4e05d-42f0-4e76-acd6-968ab4558c6f","event_timestamp":"2019-11-23T12:03:48+02:00","event_data":{"invoice_id":"inv-%d","invoice_number":"%d"}}`, i, i)
}

// storedBodies reads every webhook of the webhook stream.
func storedBodies(t *testing.T, natsURL string) map[string]int {
	t.Helper()
	b, err := natsstore.OpenBroker(context.Background(), natsstore.BrokerConfig{URL: natsURL}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	return readStream(t, b.JS)
}

func readStream(t *testing.T, js jetstream.JetStream) map[string]int {
	t.Helper()
	ctx := context.Background()
	st, err := js.Stream(ctx, "MAVENTA_WEBHOOKS")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	state := st.CachedInfo().State
	for seq := state.FirstSeq; seq <= state.LastSeq && state.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get %d: %v", seq, err)
		}
		// A group message (group commit) holds several webhooks: count each.
		whs, err := natsstore.ExpandStored(m.Subject, m.Header, m.Data)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		for _, w := range whs {
			out[string(w.Data)]++
		}
	}
	return out
}

func TestServeStoresAWebhookEndToEnd(t *testing.T) {
	s := startService(t, nil)
	if s.natsURL == "" {
		t.Fatal("banner did not show the embedded NATS URL")
	}
	if s.status(t, "/readyz") != 200 || s.status(t, "/healthz") != 200 {
		t.Fatal("service printed its banner but is not ready")
	}
	code, body := s.post(t, sampleWebhook)
	if code != 200 || !strings.Contains(body, `"duplicate":false`) {
		t.Fatalf("post: %d %s", code, body)
	}
	if code, body = s.post(t, sampleWebhook); code != 200 || !strings.Contains(body, `"duplicate":true`) {
		t.Fatalf("retry of the same body: %d %s", code, body)
	}
	got := storedBodies(t, s.natsURL)
	if len(got) != 1 || got[sampleWebhook] != 1 {
		t.Fatalf("stream holds %v, want the sample exactly once", got)
	}

	// The command a person uses to see it.
	var out syncBuffer
	if err := run(context.Background(), []string{"maventa-events", "received", "-nats-url", s.natsURL}, envFunc(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "maventa.webhooks.53a4e05d-42f0-4e76-acd6-968ab4558c6f.DOCUMENTS.INVOICE.DELIVERED") ||
		!strings.Contains(out.String(), `"invoice_number":"1003"`) {
		t.Fatalf("received output:\n%s", out.String())
	}
	if strings.Contains(s.stderr.String(), testSecret) {
		t.Fatal("the configured secret appeared in the service's logs")
	}
}

func TestServeAnswers503WhileNATSIsDownAnd200WhenItIsBack(t *testing.T) {
	ns := natstest.Start(t, "")
	s := startService(t, map[string]string{"NATS_URL": ns.ClientURL(), "WEBHOOK_REQUEST_TIMEOUT": "1s", "WEBHOOK_RETRY_AFTER": "2s"})
	if code, _ := s.post(t, webhook(1)); code != 200 {
		t.Fatalf("before the outage: %d", code)
	}
	ns.Stop()
	resp, err := http.Post(s.url+"/webhooks/maventa?secret="+testSecret, "application/json", strings.NewReader(webhook(2)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("during the outage: %d Retry-After %q, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if s.status(t, "/readyz") != 503 {
		t.Fatal("ready while NATS is down")
	}
	ns.Restart()
	waitReady(t, s)
	if code, _ := s.post(t, webhook(3)); code != 200 {
		t.Fatalf("after the outage: %d", code)
	}
	got := storedBodies(t, ns.ClientURL())
	if got[webhook(1)] != 1 || got[webhook(3)] != 1 || got[webhook(2)] != 0 || len(got) != 2 {
		t.Fatalf("stored %v: want webhooks 1 and 3 only (2 was answered 503)", got)
	}
}

// waitReady polls /readyz: the condition is the service's own readiness, which
// follows NATS reconnecting in the background.
func waitReady(t *testing.T, s *service) {
	t.Helper()
	natstest.WaitFor(t, 30*time.Second, "the service is ready again", func() bool { return s.status(t, "/readyz") == 200 })
}

func TestGracefulShutdownAnswersEveryInFlightRequestTruthfully(t *testing.T) {
	dataDir := t.TempDir()
	s := startService(t, map[string]string{"DATA_DIR": dataDir, "LOG_LEVEL": "info"})
	var (
		mu       sync.Mutex
		answered = map[string]int{} // body -> status (0: no answer)
		wg       sync.WaitGroup
		started  = make(chan struct{})
		once     sync.Once
	)
	client := &http.Client{Timeout: 30 * time.Second}
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				body := webhook(w*1_000_000 + i)
				resp, err := client.Post(s.url+"/webhooks/maventa?secret="+testSecret, "application/json", strings.NewReader(body))
				status := 0
				if err == nil {
					status = resp.StatusCode
					resp.Body.Close()
				}
				mu.Lock()
				answered[body] = status
				n := len(answered)
				mu.Unlock()
				if n >= 200 {
					once.Do(func() { close(started) })
				}
				if err != nil {
					return // the listener is closed: the service is stopping
				}
			}
		}()
	}
	<-started // requests are flowing on every connection; stop mid-stream
	if err := s.stop(t); err != nil {
		t.Fatalf("run returned %v after SIGTERM-equivalent", err)
	}
	wg.Wait()

	// The service stopped its embedded server; open the same store again.
	b, err := natsstore.OpenBroker(context.Background(), natsstore.BrokerConfig{DataDir: dataDir, Port: 0}, quietLog())
	if err != nil {
		t.Fatalf("store does not reopen after shutdown: %v", err)
	}
	defer b.Close()
	stored := readStream(t, b.JS)
	ok := 0
	for body, status := range answered {
		switch {
		case status == 200:
			ok++
			if stored[body] != 1 {
				t.Errorf("answered 200 but stored %d times", stored[body])
			}
		case stored[body] != 0:
			t.Errorf("answered %d but stored", status)
		}
	}
	for body := range stored {
		if _, ok := answered[body]; !ok {
			t.Errorf("stored a body nobody sent: %q", body)
		}
	}
	if ok < 200 {
		t.Fatalf("only %d requests succeeded before shutdown", ok)
	}
}

func TestServeRefusesToStartWithoutASecret(t *testing.T) {
	err := run(context.Background(), []string{"maventa-events"}, envFunc(map[string]string{"DATA_DIR": t.TempDir()}), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "refusing to start without a webhook secret") {
		t.Fatalf("got %v", err)
	}
}

func TestServeStopsOnAConflictingStream(t *testing.T) {
	ns := natstest.Start(t, "")
	b, err := natsstore.OpenBroker(context.Background(), natsstore.BrokerConfig{URL: ns.ClientURL()}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.JS.CreateStream(context.Background(), jetstream.StreamConfig{Name: "MAVENTA_WEBHOOKS", Subjects: []string{"maventa.webhooks.>"}, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	b.Close()
	env := map[string]string{"LISTEN_ADDR": "127.0.0.1:0", "WEBHOOK_SECRETS": testSecret, "NATS_URL": ns.ClientURL()}
	err = run(context.Background(), []string{"maventa-events"}, envFunc(env), io.Discard, io.Discard)
	var conflict *natsstore.StreamConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("want a stream conflict, got %v", err)
	}
}

func TestConfigErrorsAreClear(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad duration", []string{"-request-timeout", "soon"}, nil, "-request-timeout / WEBHOOK_REQUEST_TIMEOUT"},
		{"negative body limit from env", nil, map[string]string{"WEBHOOK_MAX_BODY": "-1"}, "WEBHOOK_MAX_BODY: want a positive whole number"},
		{"unknown publish mode", []string{"-publish-mode", "fast"}, nil, "want async or sync"},
		{"poll share above the budget", nil, map[string]string{"MAVENTA_POLL_SHARE": "1.5"}, "MAVENTA_POLL_SHARE: must be in (0, 1]"},
		{"jitter beyond the interval", []string{"-poll-jitter", "2"}, nil, "POLL_JITTER: must be between 0 and 1"},
		{"negative embedded memory limit", nil, map[string]string{"NATS_EMBEDDED_MEMORY_LIMIT": "-1"}, "NATS_EMBEDDED_MEMORY_LIMIT: want 0 (no limit) or a number of bytes"},
		{"unknown flag", []string{"-no-such-flag"}, nil, "no-such-flag"},
		{"stray argument", []string{"-dev", "extra"}, nil, "unexpected arguments"},
		{"unknown command", nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"maventa-events", "serve"}, tt.args...)
			if tt.name == "unknown command" {
				args, tt.want = []string{"maventa-events", "frobnicate"}, `unknown command "frobnicate"`
			}
			err := run(context.Background(), args, envFunc(tt.env), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	c, err := parseConfig("t", []string{"-webhook-max-age", "1d12h"}, envFunc(map[string]string{"WEBHOOK_MAX_AGE": "3d"}), io.Discard)
	if err != nil || c.Streams.WebhookMaxAge != 36*time.Hour {
		t.Fatalf("flag must win over env: %v %v", c, err)
	}
}

func TestREADMEListsEveryOption(t *testing.T) {
	// The option reference lives in docs/configuration.md (the README links it).
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), optionsMarkdown()) {
		t.Fatalf("docs/configuration.md's option table is out of date; paste the output of `go run ./cmd/maventa-events config -table`:\n%s", optionsMarkdown())
	}
}

func TestProbeFollowsReadiness(t *testing.T) {
	s := startService(t, nil)
	ctx := context.Background()
	if err := run(ctx, []string{"maventa-events", "probe", s.url + "/readyz"}, envFunc(nil), io.Discard, io.Discard); err != nil {
		t.Fatalf("probe of a ready service: %v", err)
	}
	if err := run(ctx, []string{"maventa-events", "probe", s.url + "/nope"}, envFunc(nil), io.Discard, io.Discard); err == nil {
		t.Fatal("probe of a 404 succeeded")
	}
}
