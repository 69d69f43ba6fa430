package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/consumers/natstest"
)

// testCert writes a fresh self-signed certificate for 127.0.0.1, and its key,
// to certFile and keyFile (generated here: no private key is committed). It
// returns the certificate, for a client's root pool.
func testCert(t *testing.T, certFile, keyFile, name string, mod time.Time) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for f, b := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(f, pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
		// A distinct modification time, whatever the file system's resolution.
		if err := os.Chtimes(f, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// startTestServer serves h the way serve does, on 127.0.0.1:0.
func startTestServer(t *testing.T, cfg *config, h http.Handler) string {
	t.Helper()
	tlsConfig, err := tlsFiles(cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := listen("127.0.0.1:0", cfg.MaxConns)
	if err != nil {
		t.Fatal(err)
	}
	srv := newWebhookServer(h, cfg, tlsConfig, quietLog())
	go func() { _ = serveOn(srv, ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// Issue 16, item 3: without MaxHeaderBytes a client could make the server hold
// 1 MiB of headers per connection; a request with large headers is 431 now.
func TestWebhookListenerAnswers431ToLargeHeaders(t *testing.T) {
	addr := startTestServer(t, &config{RequestTimeout: 2 * time.Second}, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	tests := []struct {
		name   string
		header string
		size   int
		want   int
	}{
		{"an ordinary request", "User-Agent", 200, 200},
		{"a 10 KB User-Agent still fits", "User-Agent", 10 << 10, 200},
		{"a 60 KB User-Agent: 431", "User-Agent", 60 << 10, 431},
		{"a 60 KB X-Forwarded-For: 431", "X-Forwarded-For", 60 << 10, 431},
		{"1 MB of headers: 431", "X-Pad", 1 << 20, 431},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/webhooks/maventa", strings.NewReader("{}"))
			req.Header.Set(tt.header, strings.Repeat("a", tt.size))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
}

// Issue 16, item 3: the number of open connections is bounded. With a limit of
// 2 and two connections held open, a third is not served until one closes.
func TestWebhookListenerLimitsConnections(t *testing.T) {
	var mu sync.Mutex
	open, most := 0, 0
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	tlsConfig, _ := tlsFiles(&config{}, quietLog())
	ln, err := listen("127.0.0.1:0", 2)
	if err != nil {
		t.Fatal(err)
	}
	srv := newWebhookServer(h, &config{RequestTimeout: 2 * time.Second}, tlsConfig, quietLog())
	srv.ConnState = func(_ net.Conn, s http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		switch s {
		case http.StateNew:
			open++
			most = max(most, open)
		case http.StateClosed, http.StateHijacked:
			open--
		}
	}
	go func() { _ = serveOn(srv, ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	// get sends one keep-alive request on conn and returns its status line.
	get := func(conn net.Conn) (string, error) {
		if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return "", err
		}
		return bufio.NewReader(conn).ReadString('\n')
	}
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if line, err := get(c); err != nil || !strings.Contains(line, "200") {
			t.Fatalf("held connection not served: %q %v", line, err)
		}
		held = append(held, c)
	}
	third, err := net.Dial("tcp", ln.Addr().String()) // the kernel accepts it; the server does not
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	answered := make(chan string, 1)
	go func() {
		line, _ := get(third)
		answered <- line
	}()
	// It must not be served while both are held. (A bounded wait for something
	// that must NOT happen: it cannot fail when the limit works.)
	select {
	case line := <-answered:
		t.Fatalf("a third connection was served while two were held: %q", line)
	case <-time.After(300 * time.Millisecond):
	}
	held[0].Close()
	select {
	case line := <-answered:
		if !strings.Contains(line, "200") {
			t.Fatalf("third connection: %q", line)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the third connection was never served after one closed")
	}
	mu.Lock()
	defer mu.Unlock()
	if most > 2 {
		t.Errorf("%d connections were open at once, limit 2", most)
	}
}

// Issue 16, item 6: TLS served directly. TLS 1.0 and 1.1 are refused, 1.2 and
// 1.3 work, and a certificate rotated on disk is served without a restart.
func TestTLSVersionsAndRotation(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	base := time.Now().Add(-time.Hour)
	first := testCert(t, certFile, keyFile, "first", base)
	addr := startTestServer(t, &config{RequestTimeout: 2 * time.Second, TLSCertFile: certFile, TLSKeyFile: keyFile, MaxConns: 16},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.Proto) }))

	handshake := func(minV, maxV uint16, roots *x509.Certificate) (*tls.ConnectionState, error) {
		pool := x509.NewCertPool()
		pool.AddCert(roots)
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MinVersion: minV, MaxVersion: maxV})
		if err != nil {
			return nil, err
		}
		defer c.Close()
		st := c.ConnectionState()
		return &st, nil
	}
	tests := []struct {
		name     string
		min, max uint16
		ok       bool
	}{
		{"TLS 1.0 refused", tls.VersionTLS10, tls.VersionTLS10, false},
		{"TLS 1.1 refused", tls.VersionTLS10, tls.VersionTLS11, false},
		{"TLS 1.2 works", tls.VersionTLS12, tls.VersionTLS12, true},
		{"TLS 1.3 works", tls.VersionTLS13, tls.VersionTLS13, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := handshake(tt.min, tt.max, first)
			if tt.ok != (err == nil) {
				t.Fatalf("handshake error %v, want ok=%v", err, tt.ok)
			}
			if err == nil && st.Version != tt.max {
				t.Fatalf("negotiated %s", tls.VersionName(st.Version))
			}
		})
	}

	t.Run("plain http on the TLS port gets no webhook answer", func(t *testing.T) {
		resp, err := http.Get("http://" + addr + "/webhooks/maventa")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest { // Go's "client sent an HTTP request to an HTTPS server"
				t.Fatalf("plain http answered %d", resp.StatusCode)
			}
		}
	})

	var second *x509.Certificate
	t.Run("a rotated certificate is served after the files change", func(t *testing.T) {
		second = testCert(t, certFile, keyFile, "second", base.Add(time.Minute))
		st, err := handshake(tls.VersionTLS12, tls.VersionTLS13, second)
		if err != nil {
			t.Fatalf("handshake with the new certificate's root: %v", err)
		}
		if got := st.PeerCertificates[0].Subject.CommonName; got != "second" {
			t.Fatalf("served %q after the rotation", got)
		}
	})

	t.Run("a half-written rotation keeps the previous certificate until the key arrives", func(t *testing.T) {
		other := t.TempDir()
		newCert, newKey := filepath.Join(other, "c"), filepath.Join(other, "k")
		third := testCert(t, newCert, newKey, "third", base)
		copyFile := func(from, to string, mod time.Time) {
			b, err := os.ReadFile(from)
			if err == nil {
				err = os.WriteFile(to, b, 0o600)
			}
			if err == nil {
				err = os.Chtimes(to, mod, mod)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		copyFile(newCert, certFile, base.Add(2*time.Minute)) // the key is still the second's
		st, err := handshake(tls.VersionTLS12, tls.VersionTLS13, second)
		if err != nil || st.PeerCertificates[0].Subject.CommonName != "second" {
			t.Fatalf("with a mismatched pair on disk: %v, want the second certificate still served", err)
		}
		copyFile(newKey, keyFile, base.Add(3*time.Minute))
		st, err = handshake(tls.VersionTLS12, tls.VersionTLS13, third)
		if err != nil || st.PeerCertificates[0].Subject.CommonName != "third" {
			t.Fatalf("after the key arrived: %v", err)
		}
	})
}

func TestTLSFilesMustBeSetTogether(t *testing.T) {
	for _, env := range []map[string]string{{"TLS_CERT_FILE": "c.pem"}, {"TLS_KEY_FILE": "k.pem"}} {
		err := run(context.Background(), []string{"maventa-events", "serve"}, envFunc(mergeEnv(env, map[string]string{"WEBHOOK_SECRETS": "x"})), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "TLS_CERT_FILE") || !strings.Contains(err.Error(), "TLS_KEY_FILE") || !strings.Contains(err.Error(), "set together") {
			t.Fatalf("%v: got %v, want an error naming both settings", env, err)
		}
	}
	err := run(context.Background(), []string{"maventa-events", "serve"}, envFunc(map[string]string{"WEBHOOK_SECRETS": "x", "TLS_CERT_FILE": "/nonexistent/c.pem", "TLS_KEY_FILE": "/nonexistent/k.pem"}), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/c.pem") {
		t.Fatalf("missing files: got %v, want an error naming the file", err)
	}
}

func mergeEnv(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// quarantined reads every message of the quarantine stream.
func quarantined(t *testing.T, natsURL string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	b, err := natsstore.OpenBroker(ctx, natsstore.BrokerConfig{URL: natsURL}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	st, err := b.JS.Stream(ctx, "MAVENTA_QUARANTINE")
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	state := st.CachedInfo().State
	for seq := state.FirstSeq; seq <= state.LastSeq && state.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get %d: %v", seq, err)
		}
		out = append(out, m)
	}
	return out
}

// Issue 16, item 1, through the real service and NATS: an authenticated,
// valid webhook whose event name is 70 000 characters was answered 503 forever
// (headers over 64 KiB); a body at the 1 MiB limit does not fit the 1 MiB
// max_payload of an external NATS server with default settings, with its
// headers, and was answered 503 forever too. (The embedded server allows 8 MiB.)
func TestServeOversizeFieldsAreNotAnswered503(t *testing.T) {
	ns := natstest.Start(t, "")
	s := startService(t, map[string]string{"CONSUMERS_ENABLED": "false", "NATS_URL": ns.ClientURL()})
	s.natsURL = ns.ClientURL()
	longEvent := `{"event":"DOCUMENTS.INVOICE.` + strings.Repeat("X", 70000) + `","company_id":"53a4e05d-42f0-4e76-acd6-968ab4558c6f","event_timestamp":"2019-11-23T12:03:48+02:00","event_data":{}}`
	if code, body := s.post(t, longEvent); code != 200 {
		t.Fatalf("70 000-character event name: %d %s, want 200 (stored)", code, body)
	}
	if got := storedBodies(t, s.natsURL); got[longEvent] != 1 {
		t.Fatal("the webhook with a long event name is not stored once")
	}

	prefix := `{"event":"DOCUMENTS.INVOICE.DELIVERED","company_id":"53a4e05d-42f0-4e76-acd6-968ab4558c6f","event_timestamp":"2019-11-23T12:03:48+02:00","pad":"`
	atLimit := prefix + strings.Repeat("p", 1<<20-len(prefix)-2) + `"}`
	code, body := s.post(t, atLimit)
	if code != 413 || !strings.Contains(body, "refused by the store") {
		t.Fatalf("1 MiB body: %d %s, want 413 refused by the store", code, body)
	}
	q := quarantined(t, s.natsURL)
	if len(q) != 1 || q[0].Header.Get("Body-Size") != fmt.Sprint(1<<20) || !strings.HasPrefix(atLimit, string(q[0].Data)) ||
		q[0].Subject != "maventa.quarantine.store_refused" {
		t.Fatalf("quarantine holds %d messages, want the 1 MiB body's prefix with its size", len(q))
	}
	if !strings.Contains(s.stderr.String(), `msg="store refused the webhook"`) {
		t.Error("the refusal was not logged")
	}
}

// Issue 16, "Also": a Content-Length larger than the body. The server's read
// timeout cuts the request; the answer is 400 and what arrived is quarantined,
// as for every authenticated 400.
func TestServeBodyShorterThanContentLengthIsQuarantined(t *testing.T) {
	s := startService(t, map[string]string{"CONSUMERS_ENABLED": "false", "WEBHOOK_REQUEST_TIMEOUT": "200ms"})
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	partial := webhook(1)[:50]
	fmt.Fprintf(conn, "POST /webhooks/maventa?secret=%s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n%s", testSecret, partial)
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // a bound on a broken server, not a measurement
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || !strings.Contains(string(b), "50 of 1000 bytes") {
		t.Fatalf("answer %d %s, want 400 naming how much arrived", resp.StatusCode, b)
	}
	q := quarantined(t, s.natsURL)
	if len(q) != 1 || string(q[0].Data) != partial || q[0].Subject != "maventa.quarantine.incomplete_body" {
		t.Fatalf("quarantine holds %d messages, want the 50 bytes that arrived", len(q))
	}
}

// Issue 16, item 6, through run: with TLS_CERT_FILE/TLS_KEY_FILE both listeners
// serve https only, and the banner says so.
func TestServeTLSOnBothListeners(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	cert := testCert(t, certFile, keyFile, "maventa-events", time.Now().Add(-time.Hour))
	s := startService(t, map[string]string{"CONSUMERS_ENABLED": "false", "TLS_CERT_FILE": certFile, "TLS_KEY_FILE": keyFile, "ADMIN_LISTEN": "127.0.0.1:0"})
	if !strings.HasPrefix(s.url, "https://") || !strings.HasPrefix(s.adminURL, "https://") {
		t.Fatalf("banner URLs %q %q, want https", s.url, s.adminURL)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	for _, u := range []string{s.url + "/readyz", s.adminURL + "/metrics"} {
		resp, err := client.Get(u)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", u, resp.StatusCode)
		}
	}
	resp, err := client.Post(s.url+"/webhooks/maventa?secret="+testSecret, "application/json", strings.NewReader(webhook(1)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("webhook over https: %d", resp.StatusCode)
	}
	for _, u := range []string{s.url, s.adminURL} {
		plain := "http://" + strings.TrimPrefix(u, "https://") + "/healthz"
		if resp, err := http.Get(plain); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				t.Fatalf("%s answered 200 over plain http", plain)
			}
		}
	}
}

// Issue 16, item 5: /debug/pprof/cmdline showed secrets passed as flags, and
// nothing warned about passing them that way.
func TestServeRedactsSecretFlags(t *testing.T) {
	const flagSecret, vendorKey, natsPassword = "flag-secret-9f8e7d", "vendor-key-1a2b3c", "nats-pw-4d5e6f"
	args := []string{"-webhook-secrets", flagSecret, "--maventa-vendor-api-key=" + vendorKey, "-nats-password", natsPassword}
	saved := os.Args
	os.Args = append([]string{"maventa-events"}, args...) // what pprof reports is the process's own arguments
	t.Cleanup(func() { os.Args = saved })
	s := startService(t, map[string]string{"CONSUMERS_ENABLED": "false", "ADMIN_LISTEN": "127.0.0.1:0"}, args...)
	resp, err := http.Get(s.adminURL + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	got := string(b)
	for _, secret := range []string{flagSecret, vendorKey, natsPassword} {
		if strings.Contains(got, secret) {
			t.Errorf("cmdline shows a secret: %q", got)
		}
	}
	if want := "-webhook-secrets\x00REDACTED\x00--maventa-vendor-api-key=REDACTED\x00-nats-password\x00REDACTED"; !strings.HasSuffix(got, want) {
		t.Errorf("cmdline %q, want it to end %q", got, want)
	}
	logs := s.stderr.String()
	for _, env := range []string{"WEBHOOK_SECRETS", "MAVENTA_VENDOR_API_KEY", "NATS_PASSWORD"} {
		if !strings.Contains(logs, "a secret was given as a flag") || !strings.Contains(logs, "env="+env) {
			t.Errorf("no start-up warning naming %s", env)
		}
	}
	for _, secret := range []string{flagSecret, vendorKey, natsPassword} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log shows a secret")
		}
	}
}

func TestRedactArgs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"x -webhook-secrets s", "x -webhook-secrets REDACTED"},
		{"x --webhook-secrets=s -listen :1", "x --webhook-secrets=REDACTED -listen :1"},
		{"x -nats-password=a=b -dev", "x -nats-password=REDACTED -dev"},
		{"x -listen -webhook-secrets", "x -listen -webhook-secrets"},     // -listen's value, not a flag
		{"x -dev -- -webhook-secrets s", "x -dev -- -webhook-secrets s"}, // after --, arguments
		{"x -maventa-vendor-api-key", "x -maventa-vendor-api-key"},       // no value to hide
		{"x serve -webhook-secrets a,b", "x serve -webhook-secrets REDACTED"},
	}
	for _, tt := range tests {
		if got := strings.Join(redactArgs(strings.Fields(tt.in)), " "); got != tt.want {
			t.Errorf("redactArgs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Issue 16, "Also": /readyz while the JetStream store is full. Decided (see
// docs/reliability.md): readiness stays 200, because every replica shares the
// store and dropping out of the load balancer would only turn our counted 503s
// with Retry-After into the ingress's uncounted ones; the full store is
// answered 503 (space returns as old messages age out) and counted apart as
// error.type=store_full, for an alert that names the cause.
func TestServeStaysReadyWhileTheStoreIsFull(t *testing.T) {
	s := startService(t, map[string]string{"CONSUMERS_ENABLED": "false", "NATS_MAX_STORE": "4194304", "ADMIN_LISTEN": "127.0.0.1:0",
		"WEBHOOK_RETRY_AFTER": "7s", "WEBHOOK_REQUEST_TIMEOUT": "10s"}) // a full store, not a slow one (-race)
	pad := strings.Repeat("p", 900<<10)
	full := false
	for i := 0; i < 12 && !full; i++ { // 4 MiB fills within 5 bodies of 900 KiB
		body := fmt.Sprintf(`{"event":"DOCUMENTS.INVOICE.DELIVERED","company_id":"c","event_timestamp":"2019-11-23T12:03:48Z","n":%d,"pad":"%s"}`, i, pad)
		resp, err := http.Post(s.url+"/webhooks/maventa?secret="+testSecret, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case 200:
		case 503:
			if resp.Header.Get("Retry-After") != "7" {
				t.Errorf("503 without Retry-After")
			}
			full = true
		default:
			t.Fatalf("body %d: %d", i, resp.StatusCode)
		}
	}
	if !full {
		t.Fatal("12 bodies of 900 KiB fitted in a 4 MiB store")
	}
	if code := s.status(t, "/readyz"); code != 200 {
		t.Fatalf("/readyz %d while the store is full, want 200 (decided in docs/reliability.md)", code)
	}
	resp, err := http.Get(s.adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `error_type="store_full"`) {
		t.Errorf("no store_full failure in /metrics")
	}
}

// The image's HEALTHCHECK probes http://127.0.0.1:8080/readyz; with TLS on, the
// probe must follow the service to https and accept its certificate (issued for
// another name), and nothing else.
func TestProbeFollowsTheServicesTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	testCert(t, certFile, keyFile, "maventa-events", time.Now().Add(-time.Hour))
	s := startService(t, map[string]string{"CONSUMERS_ENABLED": "false", "TLS_CERT_FILE": certFile, "TLS_KEY_FILE": keyFile})
	plain := "http://" + strings.TrimPrefix(s.url, "https://") + "/readyz"
	ctx := context.Background()
	if err := run(ctx, []string{"maventa-events", "probe", plain}, envFunc(map[string]string{"TLS_CERT_FILE": certFile}), io.Discard, io.Discard); err != nil {
		t.Fatalf("probe with the service's TLS_CERT_FILE: %v", err)
	}
	if err := run(ctx, []string{"maventa-events", "probe", plain}, envFunc(nil), io.Discard, io.Discard); err == nil {
		t.Fatal("a plain http probe of the https listener succeeded")
	}
	other := t.TempDir()
	testCert(t, filepath.Join(other, "c"), filepath.Join(other, "k"), "someone-else", time.Now())
	if err := run(ctx, []string{"maventa-events", "probe", plain}, envFunc(map[string]string{"TLS_CERT_FILE": filepath.Join(other, "c")}), io.Discard, io.Discard); err == nil {
		t.Fatal("the probe accepted a certificate other than TLS_CERT_FILE's")
	}
}

// docs/reliability.md's table of attacks names the tests that verify each row:
// every one must exist, and the limits it states must be the code's.
func TestReliabilityDocNamesRealTests(t *testing.T) {
	doc, err := os.ReadFile("../../docs/reliability.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "## Attacks tried")
	if !ok {
		t.Fatal("docs/reliability.md has no attack table")
	}
	var sources strings.Builder
	err = filepath.WalkDir("../..", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, "_test.go") {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sources.Write(b)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile("`(?:[a-z]+\\.)?((?:Test|Fuzz)[A-Za-z0-9_]+)`").FindAllStringSubmatch(section, -1)
	if len(names) < 20 {
		t.Fatalf("only %d test names found in the attack table", len(names))
	}
	for _, m := range names {
		if !strings.Contains(sources.String(), "func "+m[1]+"(") {
			t.Errorf("docs/reliability.md names %s, which does not exist", m[1])
		}
	}
	for _, fact := range []string{
		fmt.Sprintf("%d KiB (`431` beyond)", maxHeaderBytes>>10),
		"`MAX_CONNECTIONS`, " + optionDefault("MAX_CONNECTIONS"),
	} {
		if !strings.Contains(section, fact) {
			t.Errorf("docs/reliability.md does not say %q", fact)
		}
	}
}

// A pair that stops loading (a file removed, a half-written rotation) keeps
// the previous certificate in use and is logged once, not on every handshake.
func TestCertReloaderKeepsTheLastGoodPairAndLogsOnce(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	base := time.Now().Add(-time.Hour)
	testCert(t, certFile, keyFile, "good", base)
	var logs syncBuffer
	r, err := newCertReloader(certFile, keyFile, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		c, err := r.GetCertificate(nil)
		if err != nil || c.Leaf.Subject.CommonName != "good" {
			t.Fatalf("with the key file gone: %v, want the last good certificate", err)
		}
	}
	if n := strings.Count(logs.String(), "do not load"); n != 1 {
		t.Fatalf("%d warnings for the same failure, want 1:\n%s", n, logs.String())
	}
	testCert(t, certFile, keyFile, "new", base.Add(time.Minute))
	if c, err := r.GetCertificate(nil); err != nil || c.Leaf.Subject.CommonName != "new" {
		t.Fatalf("after the files returned: %v", err)
	}
	if !strings.Contains(logs.String(), "TLS certificate reloaded") {
		t.Error("the reload was not logged")
	}
}
