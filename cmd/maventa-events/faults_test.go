//go:build faults

// The fault suite: the service under real load while something breaks, each
// scenario printing `scenario=<name> lost=N duplicated=N` from real counts and
// failing when either is non-zero. Loopback only, bounded in time. Run it with
//
//	go test -tags faults -run Fault -v -timeout 15m ./cmd/maventa-events/
//
// It is not part of the default test run (build tag).
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/consumers/natstest"
	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

// TestFaultNATSRestart: the service on an external NATS server that is stopped
// and restarted under load. While it is down the service answers 503; the
// load's Maventa-like resends then succeed.
func TestFaultNATSRestart(t *testing.T) {
	ns := natstest.Start(t, "")
	s := startService(t, map[string]string{"NATS_URL": ns.ClientURL(), "WEBHOOK_REQUEST_TIMEOUT": "1s", "LOG_LEVEL": "warn"})
	l := startLoad(t, s.url, "natsrestart", 8)
	l.waitAcked(t, 500)
	ns.Stop()
	l.waitFailed(t, 20)
	ns.Restart()
	waitReady(t, s)
	l.waitAcked(t, 500)
	l.stopAndWait()
	lost, dup := l.compareStored(storedWebhookBodies(t, ns.ClientURL()))
	elost, edup, detail := compareDomainEventsAt(t, ns.ClientURL(), s.stderr.String, l.expectedEvents())
	report(t, "nats_restart", lost+elost, dup+edup, fmt.Sprintf("acked=%d failed_then_resent=%d statuses=[%s] webhooks_lost=%d webhooks_duplicated=%d webhooks_stored_again_after_a_failed_attempt=%d events: %s",
		l.nAcked.Load(), l.nFailed.Load(), l.statuses(), lost, dup, l.storedAgain.Load(), detail))
}

// TestFaultServiceKilled: the real binary with embedded NATS is killed (SIGKILL,
// no chance to clean up) or stopped (SIGTERM, graceful) mid-load and started
// again on the same data directory. Every webhook answered 2xx must be stored,
// once.
func TestFaultServiceKilled(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		name := map[syscall.Signal]string{syscall.SIGKILL: "sigkill_restart", syscall.SIGTERM: "sigterm_restart"}[sig]
		t.Run(name, func(t *testing.T) {
			env := map[string]string{"DATA_DIR": t.TempDir()}
			p := startProc(t, env)
			l := startLoad(t, p.url, name, 16)
			const cycles = 3
			for range cycles {
				l.waitAcked(t, 2000)
				err := p.signal(sig)
				if sig == syscall.SIGTERM && err != nil {
					t.Errorf("graceful stop: %v\n%s", err, tailLines(p.stderr.String(), 10))
				}
				l.waitFailed(t, 10) // the load feels the outage
				p = startProc(t, env)
				l.url.Store(p.url)
			}
			l.waitAcked(t, 2000)
			l.stopAndWait()
			lost, dup := l.compareStored(storedWebhookBodies(t, p.natsURL))
			// Each acknowledged webhook's domain event, once, across the kills
			// (publish, marker and ack interrupted anywhere).
			elost, edup, detail := compareDomainEventsAt(t, p.natsURL, p.stderr.String, l.expectedEvents())
			report(t, name, lost+elost, dup+edup, fmt.Sprintf("restarts=%d acked=%d failed_then_resent=%d statuses=[%s] webhooks_lost=%d webhooks_duplicated=%d webhooks_stored_again_after_a_failed_attempt=%d events: %s",
				cycles, l.nAcked.Load(), l.nFailed.Load(), l.statuses(), lost, dup, l.storedAgain.Load(), detail))
		})
	}
}

// TestFaultClusterNodeLost: the service on a 3-node JetStream cluster with R3
// streams; one node is shut down mid-load.
func TestFaultClusterNodeLost(t *testing.T) {
	cluster := natstest.StartCluster(t, 3)
	s := startService(t, map[string]string{"NATS_URL": cluster.ClientURLs(), "STREAM_REPLICAS": "3", "LOG_LEVEL": "warn"})
	l := startLoad(t, s.url, "clusternode", 8)
	l.waitAcked(t, 1000)
	// The node the service's streams are led by, when it is known: the harder case.
	victim := cluster.Servers[0]
	for _, srv := range cluster.Servers {
		if srv.JetStreamIsStreamLeader("$G", "MAVENTA_WEBHOOKS") {
			victim = srv
		}
	}
	victim.Stop()
	l.waitAcked(t, 2000)
	l.stopAndWait()
	var urls []string
	for _, srv := range cluster.Servers {
		if srv != victim {
			urls = append(urls, srv.ClientURL())
		}
	}
	lost, dup := l.compareStored(storedWebhookBodies(t, strings.Join(urls, ",")))
	elost, edup, detail := compareDomainEventsAt(t, strings.Join(urls, ","), s.stderr.String, l.expectedEvents())
	report(t, "cluster_node_killed", lost+elost, dup+edup, fmt.Sprintf("acked=%d failed_then_resent=%d statuses=[%s] killed=%s webhooks_lost=%d webhooks_duplicated=%d webhooks_stored_again_after_a_failed_attempt=%d events: %s",
		l.nAcked.Load(), l.nFailed.Load(), l.statuses(), victim.Name(), lost, dup, l.storedAgain.Load(), detail))
}

// TestFaultMaventa: Maventa's APIs misbehaving while the sandbox's scenario
// sends its webhooks. The oracle is Maventa's final state (expectedEvents): each
// implied domain event must be stored exactly once.
func TestFaultMaventa(t *testing.T) {
	cases := []struct {
		name  string
		fault func(sb *sandbox.Sandbox) func() // returns a stop for ongoing faults
	}{
		{"maventa_5xx", func(sb *sandbox.Sandbox) func() {
			sb.SetFault(sandbox.Fault{Listener: "receivables", Path: "/v1/assignments*", ErrorRate: 0.3, Status: 503})
			sb.SetFault(sandbox.Fault{Listener: "receivables", ErrorRate: 0.3, Status: 500})
			sb.SetFault(sandbox.Fault{Listener: "ax", Path: "/oauth2/token", ErrorRate: 0.3, Status: 502})
			return func() {}
		}},
		{"maventa_429_retry_after", func(sb *sandbox.Sandbox) func() {
			sb.SetFault(sandbox.Fault{Listener: "receivables", ErrorRate: 0.3, Status: 429, RetryAfter: 1})
			return func() {}
		}},
		{"maventa_slow_and_timeouts", func(sb *sandbox.Sandbox) func() {
			// Longer than the client's 30 s per-attempt timeout: two calls time out.
			// (The first matching fault applies, so this one comes first.)
			sb.SetFault(sandbox.Fault{Listener: "receivables", Method: "GET", Path: "/v1/assignments*", Latency: 31 * time.Second, Count: 2})
			sb.SetFault(sandbox.Fault{Listener: "receivables", Latency: 200 * time.Millisecond})
			return func() {}
		}},
		{"maventa_tokens_expire_early", func(sb *sandbox.Sandbox) func() {
			// A no-op fault that counts the token requests.
			sb.SetFault(sandbox.Fault{Listener: "ax", Path: "/oauth2/token", Latency: time.Nanosecond})
			sb.SetTokenLifetime(time.Second)
			stop := make(chan struct{})
			go func() {
				tick := time.NewTicker(50 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						sb.ExpireTokens()
					}
				}
			}()
			return func() { close(stop) }
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sb, srv, s := maventaSetup(t, uint64(31+i), nil)
			stop := tc.fault(sb)
			before := sb.Faults()
			ids := []string{scenarioCompanies[0].ID, scenarioCompanies[1].ID}
			if _, err := sb.RunScenario(context.Background(), sandbox.ScenarioConfig{CompanyIDs: ids, InvoicesPerCompany: 5}); err != nil {
				t.Fatal(err)
			}
			waitWebhooks(t, sb)
			// The faults stay until the service has worked through every stored
			// webhook (each retried through them), then Maventa recovers.
			waitConsumerIdle(t, s)
			felt := faultUse(sb, before)
			stop()
			sb.ClearFaults() // the oracle reads Maventa's state without faults
			lost, dup, detail := compareDomainEvents(t, s, expectedEvents(t, srv, scenarioCompanies[:2]))
			report(t, tc.name, lost, dup, detail+" faults_matched="+felt)
		})
	}
}

// TestFaultDuplicates: the same webhook again within JetStream's duplicate
// window, again well beyond both windows (made 1 s here), and the same Maventa
// facts reaching the service both by webhook and by polling.
func TestFaultDuplicates(t *testing.T) {
	t.Run("within_and_beyond_windows", func(t *testing.T) {
		s := startService(t, map[string]string{"DEDUP_WINDOW": "1s", "EVENT_DEDUP_WINDOW": "1s", "LOG_LEVEL": "warn"})
		const k = 50
		bodies := make([]string, k)
		want := map[string]string{}
		for i := range bodies {
			inv := fmt.Sprintf("dup-%d", i)
			bodies[i] = fmt.Sprintf(`{"event":"DOCUMENTS.INVOICE.DELIVERED","company_id":"53a4e05d-42f0-4e76-acd6-968ab4558c6f","event_timestamp":"2026-11-21T08:00:00+02:00","event_data":{"invoice_id":"%s","invoice_number":"%d"}}`, inv, i)
			want[events.InvoiceNoticeID(events.TypeInvoiceDelivered, inv, "DELIVERED", faultWebhookTime)] = inv
		}
		dupAnswers := 0
		for _, b := range bodies {
			for range 2 { // Maventa's quick retry: inside the window
				code, resp := s.post(t, b)
				if code != 200 {
					t.Fatalf("post: %d %s", code, resp)
				}
				if strings.Contains(resp, `"duplicate":true`) {
					dupAnswers++
				}
			}
		}
		within := storedWebhookBodies(t, s.natsURL)
		// Beyond the window: each body is sent again until JetStream no longer
		// recognises it (Maventa's hourly retry, in small).
		for _, b := range bodies {
			waitFor(t, time.Minute, "the duplicate window to pass", func() bool {
				code, resp := s.post(t, b)
				return code == 200 && strings.Contains(resp, `"duplicate":false`)
			})
		}
		beyond := storedWebhookBodies(t, s.natsURL)
		lost, dup, detail := compareDomainEvents(t, s, want)
		rawWithin, rawBeyond := 0, 0
		for _, b := range bodies {
			rawWithin += within[b]
			rawBeyond += beyond[b]
		}
		// The raw stream deduplicates within its window only: within it each
		// body is stored once; beyond it a second copy is stored by design and
		// the processed markers keep the domain event single.
		if rawWithin != k {
			dup += rawWithin - k
		}
		if rawBeyond != 2*k {
			t.Errorf("raw stream holds %d copies after the late resends, want %d", rawBeyond, 2*k)
		}
		report(t, "duplicate_webhooks_within_and_beyond_window", lost, dup,
			fmt.Sprintf("%s duplicate_answers_within=%d raw_stored_within=%d raw_stored_after_beyond=%d (2 per body expected)", detail, dupAnswers, rawWithin, rawBeyond))
	})
	t.Run("webhook_and_polling", func(t *testing.T) {
		sb, srv, s := maventaSetup(t, 41, map[string]string{"POLL_INTERVAL": "100ms", "POLL_ERROR_BACKOFF_MAX": "300ms"})
		ids := []string{scenarioCompanies[0].ID, scenarioCompanies[1].ID}
		if _, err := sb.RunScenario(context.Background(), sandbox.ScenarioConfig{CompanyIDs: ids, InvoicesPerCompany: 5}); err != nil {
			t.Fatal(err)
		}
		waitWebhooks(t, sb)
		lost, dup, detail := compareDomainEvents(t, s, expectedEvents(t, srv, scenarioCompanies[:2]))
		report(t, "same_event_by_webhook_and_polling", lost, dup, detail+" (poll every 100ms over the webhooks' invoices and assignments)")
	})
}

// TestFaultHostileInput: malformed, oversize, unauthenticated, slow-loris,
// invalid UTF-8 and subject-breaking requests, plus the fuzz corpora, sent while
// a normal load runs. The normal load must lose nothing; the slow client must be
// cut off by the server's timeouts.
func TestFaultHostileInput(t *testing.T) {
	s := startService(t, map[string]string{"LOG_LEVEL": "warn"})
	l := startLoad(t, s.url, "hostile", 4)
	l.waitAcked(t, 100)

	// Slow-loris: headers trickled one byte a second. ReadHeaderTimeout (2 s)
	// must close the connection while the load keeps being served.
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cut := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		req := "POST /webhooks/maventa?secret=" + testSecret + " HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
		for i := range 120 {
			if _, err := conn.Write([]byte{req[i%len(req)]}); err != nil {
				cut <- time.Since(start)
				return
			}
			_ = conn.SetReadDeadline(time.Now().Add(time.Second))
			buf := make([]byte, 512)
			if _, err := conn.Read(buf); err != nil && !isTimeout(err) {
				cut <- time.Since(start) // closed (or answered 408) by the server
				return
			}
		}
		cut <- -1
	}()

	type probe struct {
		name, query, body string
		want              int
	}
	headers := map[string]http.Header{} // extra request headers, by probe name
	big := `{"event":"DOCUMENTS.INVOICE.DELIVERED","company_id":"53a4e05d-42f0-4e76-acd6-968ab4558c6f","event_timestamp":"2026-11-21T08:00:00+02:00","event_data":{"pad":"` + strings.Repeat("x", 2<<20) + `"}}`
	nasty := []string{"a.b", "*", ">", " ", "\x00", "\xff\xfe", "ä.*.>", "", strings.Repeat("z", 500), "a\r\nb", "..", "$JS.API.>"}
	probes := []probe{
		{"malformed json", "?secret=" + testSecret, `{"event":`, 400},
		{"not an object", "?secret=" + testSecret, `[1,2,3]`, 400},
		{"missing fields", "?secret=" + testSecret, `{}`, 400},
		{"oversize body", "?secret=" + testSecret, big, 413},
		{"wrong secret", "?secret=nope", webhook(1), 401},
		{"missing secret", "", webhook(2), 401},
		{"invalid utf-8", "?secret=" + testSecret, "{\"event\":\"DOCUMENTS.\xff\xfe.DELIVERED\",\"company_id\":\"\xc3\x28\",\"event_timestamp\":\"2026-11-21T08:00:00+02:00\",\"event_data\":{}}", 0},
	}
	for i, n := range nasty {
		esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", `\r`, "\n", `\n`, "\x00", `\u0000`).Replace(n)
		probes = append(probes, probe{fmt.Sprintf("subject-breaking %q", n), "?secret=" + testSecret,
			fmt.Sprintf(`{"event":"%s.%s.%s","company_id":"%s","event_timestamp":"2026-11-21T08:00:00+02:00","event_data":{"invoice_id":"%s","n":%d}}`, esc, esc, esc, esc, esc, i), 0})
	}
	// Oversize header fields (issue 16, item 1): values that are copied into the
	// stored NATS headers, and request headers past the server's 16 KiB limit.
	envelope := func(event, company string, n int) string {
		return fmt.Sprintf(`{"event":"%s","company_id":"%s","event_timestamp":"2026-11-21T08:00:00+02:00","event_data":{"n":%d}}`, event, company, n)
	}
	long := strings.Repeat("X", 70000)
	hdr := func(k string, size int) http.Header { return http.Header{k: {strings.Repeat("a", size)}} }
	atLimit := `{"event":"DOCUMENTS.INVOICE.DELIVERED","company_id":"c","event_timestamp":"2026-11-21T08:00:00+02:00","pad":"`
	atLimit += strings.Repeat("p", 1<<20-len(atLimit)-2) + `"}`
	probes = append(probes,
		probe{"70 000-character event name", "?secret=" + testSecret, envelope("DOCUMENTS.INVOICE."+long, "c", 1), 200},
		probe{"70 000-character company_id", "?secret=" + testSecret, envelope("DOCUMENTS.INVOICE.DELIVERED", long, 2), 200},
		probe{"10 KB User-Agent", "?secret=" + testSecret, envelope("DOCUMENTS.INVOICE.DELIVERED", "c", 3), 200},
		probe{"60 KB User-Agent", "?secret=" + testSecret, envelope("DOCUMENTS.INVOICE.DELIVERED", "c", 4), 431},
		probe{"60 KB X-Forwarded-For", "?secret=" + testSecret, envelope("DOCUMENTS.INVOICE.DELIVERED", "c", 5), 431},
		probe{"body of exactly 1 MiB", "?secret=" + testSecret, atLimit, 200},
	)
	headers["10 KB User-Agent"] = hdr("User-Agent", 10<<10)
	headers["60 KB User-Agent"] = hdr("User-Agent", 60<<10)
	headers["60 KB X-Forwarded-For"] = hdr("X-Forwarded-For", 60<<10)
	corpus := fuzzCorpus(t)
	for i, c := range corpus {
		probes = append(probes, probe{fmt.Sprintf("fuzz corpus %d", i), "?secret=" + testSecret, c, 0})
	}
	bad := 0
	accepted := map[string]bool{}
	for _, p := range probes {
		req, _ := http.NewRequest(http.MethodPost, s.url+"/webhooks/maventa"+p.query, strings.NewReader(p.body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range headers[p.name] {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("%s: %v", p.name, err)
			bad++
			continue
		}
		resp.Body.Close()
		switch {
		case p.want != 0 && resp.StatusCode != p.want:
			t.Errorf("%s: %d, want %d", p.name, resp.StatusCode, p.want)
			bad++
		case resp.StatusCode >= 500:
			t.Errorf("%s: %d: hostile input must never be our failure", p.name, resp.StatusCode)
			bad++
		case resp.StatusCode == 200:
			accepted[p.body] = true
		}
	}
	// A body shorter than its Content-Length: 400 once the read timeout cuts it.
	if code := shortBody(t, s.url); code != 400 {
		t.Errorf("Content-Length larger than the body: %d, want 400", code)
		bad++
	}
	// Header flood (issue 16, item 3): many connections at once, each sending up
	// to 1 MiB of headers that never end. Each must be answered 431 once past
	// the limit, instead of being buffered until the header timeout.
	flood := headerFlood(t, s.url, 300, 1<<20)
	if flood.answered431 != flood.conns {
		t.Errorf("header flood: %d of %d connections answered 431 (others: %v)", flood.answered431, flood.conns, flood.other)
		bad++
	}

	// An anonymous client on the embedded server's port is refused: it can
	// neither store a forged webhook nor purge a stream through $JS.API.
	if nc, err := nats.Connect(s.bareURL, nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Error("an anonymous NATS client connected to the embedded server")
		bad++
	} else if !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("anonymous NATS client: %v, want an authorization error", err)
		bad++
	}
	var slow time.Duration
	select {
	case slow = <-cut:
	case <-time.After(2 * time.Minute):
		t.Fatal("slow-loris goroutine stuck")
	}
	if slow < 0 {
		t.Errorf("a client trickling its headers for 120 s was never cut off")
	}
	l.waitAcked(t, 100)
	l.stopAndWait()
	stored := storedWebhookBodies(t, s.natsURL)
	lost, dup := l.compareStored(stored)
	for b := range accepted {
		if stored[b] != 1 {
			lost += map[bool]int{true: 1}[stored[b] == 0]
			dup += max(stored[b]-1, 0)
		}
	}
	if s.status(t, "/readyz") != 200 {
		t.Error("not ready after the hostile input")
	}
	report(t, "hostile_input", lost, dup, fmt.Sprintf("probes=%d (fuzz corpus %d, anonymous NATS client) accepted_as_valid=%d unexpected_answers=%d slowloris_cut_after=%s header_flood=%d/%d_answered_431_in_%s rss_kib_before=%d rss_kib_after_flood=%d load_acked=%d",
		len(probes)+1, len(corpus), len(accepted), bad, slow.Round(100*time.Millisecond), flood.answered431, flood.conns,
		flood.took.Round(100*time.Millisecond), flood.rssBefore, flood.rssAfter, l.nAcked.Load()))
}

// shortBody sends a request whose body stops short of its Content-Length and
// returns the answer's status (0: none).
func shortBody(t *testing.T, base string) int {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /webhooks/maventa?secret=%s HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"event\":", testSecret)
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Logf("short body: %v", err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

type floodResult struct {
	conns, answered431  int
	other               map[string]int
	took                time.Duration
	rssBefore, rssAfter int64
}

// headerFlood opens n connections at once; each writes up to size bytes of
// header lines that never end, while reading the answer (bounded: 60 s).
func headerFlood(t *testing.T, base string, n, size int) floodResult {
	t.Helper()
	res := floodResult{conns: n, other: map[string]int{}, rssBefore: rssKiB()}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	line := "X-Flood: " + strings.Repeat("f", 1000) + "\r\n"
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outcome := func() string {
				conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
				if err != nil {
					return "dial: " + err.Error()
				}
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
				go func() {
					_, _ = io.WriteString(conn, "POST /webhooks/maventa HTTP/1.1\r\nHost: x\r\n")
					for sent := 0; sent < size; sent += len(line) {
						if _, err := io.WriteString(conn, line); err != nil {
							return // the server answered and closed
						}
					}
				}()
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil {
					return "no answer"
				}
				resp.Body.Close()
				return strconv.Itoa(resp.StatusCode)
			}()
			mu.Lock()
			defer mu.Unlock()
			if outcome == "431" {
				res.answered431++
			} else {
				res.other[outcome]++
			}
		}()
	}
	wg.Wait()
	res.took, res.rssAfter = time.Since(start), rssKiB()
	return res
}

// rssKiB is this process's resident set (the service runs in it), from
// /proc/self/status; 0 where that is not available.
func rssKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// fuzzCorpus returns every string and []byte value of the corpora under
// */testdata/fuzz in the module.
func fuzzCorpus(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("../../*/testdata/fuzz/*/*")
	more, _ := filepath.Glob("../../*/*/testdata/fuzz/*/*")
	var out []string
	for _, f := range append(files, more...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			for _, prefix := range []string{"string(", "[]byte("} {
				if v, ok := strings.CutPrefix(line, prefix); ok {
					var s string
					if _, err := fmt.Sscanf(strings.TrimSuffix(v, ")"), "%q", &s); err == nil {
						out = append(out, s)
					}
				}
			}
		}
	}
	return out
}

// TestFaultStoreFull: embedded JetStream with a small NATS_MAX_STORE fills up
// under load. Writes that do not fit must be answered 503 (never 200), with a
// log line saying why; after space returns (restart with a larger limit on the
// same data directory) every acknowledged webhook is readable once and the
// service accepts webhooks again.
func TestFaultStoreFull(t *testing.T) {
	dir := t.TempDir()
	p := startProc(t, map[string]string{"DATA_DIR": dir, "NATS_MAX_STORE": "4194304", "CONSUMERS_ENABLED": "false"})
	l := startLoad(t, p.url, "storefull", 4)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if c, ok := l.statusN.Load(503); ok && c.(*atomic.Int64).Load() >= 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 503s from a full store after 2m: acked=%d statuses=[%s]\n%s", l.nAcked.Load(), l.statuses(), tailLines(p.stderr.String(), 10))
		}
		time.Sleep(10 * time.Millisecond) // polling a condition
	}
	logLine := firstLine(p.stderr.String(), "store", "storage", "insufficient", "full", "resources")
	if err := p.signal(syscall.SIGTERM); err != nil {
		t.Errorf("stop: %v", err)
	}
	// Space returns: the same store, a larger limit.
	p2 := startProc(t, map[string]string{"DATA_DIR": dir, "NATS_MAX_STORE": "0", "CONSUMERS_ENABLED": "false"})
	l.url.Store(p2.url)
	l.waitAcked(t, 200)
	l.stopAndWait()
	lost, dup := l.compareStored(storedWebhookBodies(t, p2.natsURL))
	if logLine == "" {
		t.Errorf("no log line about the full store:\n%s", tailLines(p.stderr.String(), 10))
	}
	ro := "read-only store dir: not run, the suite runs as root (uid 0), which chmod does not stop"
	if os.Geteuid() != 0 {
		ro = "read-only store dir: not run (only NATS_MAX_STORE is exercised)"
	}
	report(t, "store_full_then_space_returns", lost, dup, fmt.Sprintf("acked=%d statuses=[%s] log=%q; %s", l.nAcked.Load(), l.statuses(), logLine, ro))
}

func firstLine(s string, words ...string) string {
	for _, line := range strings.Split(s, "\n") {
		low := strings.ToLower(line)
		for _, w := range words {
			if strings.Contains(low, w) && (strings.Contains(low, "level=error") || strings.Contains(low, "level=warn")) {
				return line
			}
		}
	}
	return ""
}

// maventaSetup starts a sandbox with the scenario companies and the service
// pointed at it, registered as the vendor webhook.
func maventaSetup(t *testing.T, seed uint64, extra map[string]string) (*sandbox.Sandbox, *sandbox.Server, *service) {
	t.Helper()
	sb := sandbox.New(sandbox.Config{Seed: seed, TimeScale: 3600})
	var creds []string
	for _, c := range scenarioCompanies[:2] {
		sb.AddCompany(c)
		creds = append(creds, c.ID+"="+c.APIKey)
	}
	srv, err := sandbox.Start(sb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	env := map[string]string{
		"MAVENTA_AX_URL": srv.AXURL, "MAVENTA_RECEIVABLES_URL": srv.ReceivablesURL, "MAVENTA_VENDOR_API_KEY": "vendor-key",
		"MAVENTA_COMPANY_CREDENTIALS": strings.Join(creds, ","), "MAVENTA_REQUESTS_PER_SECOND": "1000",
		"CONSUMER_RETRY_INITIAL": "10ms", "CONSUMER_RETRY_MAX": "200ms", "CONSUMER_MAX_DELIVER": "1000", "LOG_LEVEL": "warn",
	}
	for k, v := range extra {
		env[k] = v
	}
	s := startService(t, env)
	if _, err := sb.RegisterWebhook(scenarioCompanies[0].ID, "VENDOR_WEBHOOK", s.url+"/webhooks/maventa?secret="+testSecret,
		[]string{"DOCUMENTS.*.*"}, ""); err != nil {
		t.Fatal(err)
	}
	return sb, srv, s
}

func waitWebhooks(t *testing.T, sb *sandbox.Sandbox) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := sb.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
}

// faultUse says how many calls each installed fault answered: a Count fault
// that is gone was used up.
func faultUse(sb *sandbox.Sandbox, installed []sandbox.Fault) string {
	now := map[string]sandbox.Fault{}
	for _, f := range sb.Faults() {
		now[f.ID] = f
	}
	var parts []string
	for _, f := range installed {
		used := f.Count
		if g, ok := now[f.ID]; ok {
			used = g.Used
		}
		what := fmt.Sprintf("%s%s", f.Listener, f.Path)
		switch {
		case f.Status != 0:
			what += fmt.Sprintf("/%d", f.Status)
		case f.Latency > 0:
			what += "/" + f.Latency.String()
		}
		parts = append(parts, fmt.Sprintf("%s:%d", what, used))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// waitConsumerIdle waits until the webhook consumer has nothing pending or
// unacknowledged.
func waitConsumerIdle(t *testing.T, s *service) {
	t.Helper()
	b, err := natsstore.OpenBroker(context.Background(), natsstore.BrokerConfig{URL: s.natsURL}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	waitFor(t, 3*time.Minute, "the webhook consumer to be idle", func() bool {
		c, err := b.JS.Consumer(context.Background(), "MAVENTA_WEBHOOKS", "maventa-events-webhooks")
		if err != nil {
			return false
		}
		info, err := c.Info(context.Background())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
}

// compareDomainEvents waits for the wanted ids (and an idle webhook consumer)
// and counts the wanted ids never stored (lost) and extra copies of any id
// (duplicated). Events stored but not expected are reported in the detail.
func compareDomainEvents(t *testing.T, s *service, want map[string]string) (lost, duplicated int, detail string) {
	t.Helper()
	return compareDomainEventsAt(t, s.natsURL, s.stderr.String, want)
}

func compareDomainEventsAt(t *testing.T, natsURL string, logs func() string, want map[string]string) (lost, duplicated int, detail string) {
	t.Helper()
	got := waitForIDsOrTimeout(t, natsURL, logs, want, 3*time.Minute)
	extra := 0
	for id := range want {
		if got[id] == 0 {
			lost++
		}
	}
	for id, n := range got {
		duplicated += n - 1
		if _, ok := want[id]; !ok {
			extra++
		}
	}
	if extra > 0 {
		t.Errorf("%d domain events stored that Maventa's state does not imply", extra)
	}
	return lost, duplicated, fmt.Sprintf("expected_events=%d stored_distinct=%d unexpected=%d", len(want), len(got), extra)
}

// waitForIDsOrTimeout is waitForIDs that returns what it has at the deadline
// instead of failing, so that the scenario line reports the real loss.
func waitForIDsOrTimeout(t *testing.T, natsURL string, logs func() string, want map[string]string, d time.Duration) map[string]int {
	t.Helper()
	b, err := natsstore.OpenBroker(context.Background(), natsstore.BrokerConfig{URL: natsURL}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	deadline := time.Now().Add(d)
	for {
		got := map[string]int{}
		if st, err := b.JS.Stream(ctx, events.StreamName); err == nil {
			state := st.CachedInfo().State
			for seq := state.FirstSeq; seq <= state.LastSeq && state.Msgs > 0; seq++ {
				m, err := st.GetMsg(ctx, seq)
				if err != nil {
					t.Fatalf("get %d: %v", seq, err)
				}
				got[m.Header.Get("Nats-Msg-Id")]++
			}
		}
		complete := true
		for id := range want {
			if got[id] == 0 {
				complete = false
				break
			}
		}
		if complete {
			if c, err := b.JS.Consumer(ctx, "MAVENTA_WEBHOOKS", "maventa-events-webhooks"); err == nil {
				if info, err := c.Info(ctx); err == nil && info.NumPending == 0 && info.NumAckPending == 0 {
					return got
				}
			}
		}
		if time.Now().After(deadline) {
			t.Logf("deadline: %s", tailLines(logs(), 10))
			return got
		}
		time.Sleep(50 * time.Millisecond) // polling a condition
	}
}
