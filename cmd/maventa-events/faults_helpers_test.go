//go:build faults

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/events"
)

// faultLoad sends unique webhooks from a few workers, the way Maventa does: a
// body answered anything but 2xx (or not answered) is sent again, the same bytes,
// until it is acknowledged. It records every acknowledged body, so a scenario can
// compare what the service promised with what it stored.
type faultLoad struct {
	url     atomic.Value // string: base URL, swapped when the service restarts
	acked   sync.Map     // body -> struct{}
	nAcked  atomic.Int64
	nFailed atomic.Int64 // non-2xx answers and transport errors (each then resent)
	// failedBody counts a body's failed attempts (body -> *atomic.Int64): each
	// may have been stored in a group message (no per-body deduplication) before
	// its answer was lost, and its resend then stored again.
	failedBody sync.Map
	// storedAgain is how many stored copies compareStored put down to such a
	// failed attempt (not counted as duplicated).
	storedAgain atomic.Int64
	statusN     sync.Map // status code -> *atomic.Int64
	stop        chan struct{}
	wg          sync.WaitGroup
	prefix      string
}

// startLoad starts workers posting unique DOCUMENTS.INVOICE.DELIVERED webhooks
// to base until stopAndWait.
func startLoad(t *testing.T, base, prefix string, workers int) *faultLoad {
	t.Helper()
	l := &faultLoad{stop: make(chan struct{}), prefix: prefix}
	l.url.Store(base)
	client := &http.Client{Timeout: 10 * time.Second}
	var seq atomic.Int64
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				n := seq.Add(1)
				body := fmt.Sprintf(`{"event":"DOCUMENTS.INVOICE.DELIVERED","company_id":"53a4e05d-42f0-4e76-acd6-968ab4558c6f","event_timestamp":"2026-11-21T08:00:00+02:00","event_data":{"invoice_id":"%s-%d-%d","invoice_number":"%d"}}`, prefix, w, n, n)
				l.deliver(client, body)
			}
		}()
	}
	return l
}

// deliver posts body until it is answered 2xx, at most for two minutes.
func (l *faultLoad) deliver(client *http.Client, body string) {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		resp, err := client.Post(l.url.Load().(string)+"/webhooks/maventa?secret="+testSecret, "application/json", strings.NewReader(body))
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			c, _ := l.statusN.LoadOrStore(resp.StatusCode, new(atomic.Int64))
			c.(*atomic.Int64).Add(1)
			if resp.StatusCode/100 == 2 {
				l.acked.Store(body, struct{}{})
				l.nAcked.Add(1)
				return
			}
		}
		l.nFailed.Add(1)
		f, _ := l.failedBody.LoadOrStore(body, new(atomic.Int64))
		f.(*atomic.Int64).Add(1)
		// Maventa waits an hour; here a short pause, so the outage is retried into.
		time.Sleep(20 * time.Millisecond) // pacing a resend, not synchronising
	}
}

// waitAcked waits until n more bodies than now are acknowledged.
func (l *faultLoad) waitAcked(t *testing.T, n int64) {
	t.Helper()
	target := l.nAcked.Load() + n
	waitFor(t, 2*time.Minute, fmt.Sprintf("%d acknowledged webhooks", target), func() bool { return l.nAcked.Load() >= target })
}

// waitFailed waits until at least n more requests failed (the fault is felt).
func (l *faultLoad) waitFailed(t *testing.T, n int64) {
	t.Helper()
	target := l.nFailed.Load() + n
	waitFor(t, time.Minute, "requests failing during the fault", func() bool { return l.nFailed.Load() >= target })
}

func (l *faultLoad) stopAndWait() {
	close(l.stop)
	l.wg.Wait()
}

func (l *faultLoad) statuses() string {
	var parts []string
	l.statusN.Range(func(k, v any) bool {
		parts = append(parts, fmt.Sprintf("%d:%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	return strings.Join(parts, " ")
}

// compareStored counts acknowledged bodies missing from the stored ones (lost)
// and extra copies of any stored body of this load (duplicated). A copy per
// failed attempt of that body is not a duplicate but counted in storedAgain:
// an attempt answered 503 or cut off may have landed inside a group message,
// which has no per-body Nats-Msg-Id (docs/design.md, "Stored webhook groups"),
// so its resend is stored again; the domain events stay single (the events
// comparison checks that).
func (l *faultLoad) compareStored(stored map[string]int) (lost, duplicated int) {
	l.acked.Range(func(k, _ any) bool {
		if stored[k.(string)] == 0 {
			lost++
		}
		return true
	})
	for body, n := range stored {
		if n > 1 && strings.Contains(body, `"invoice_id":"`+l.prefix+"-") {
			failed := 0
			if f, ok := l.failedBody.Load(body); ok {
				failed = int(f.(*atomic.Int64).Load())
			}
			again := min(n-1, failed)
			l.storedAgain.Add(int64(again))
			duplicated += n - 1 - again
		}
	}
	return lost, duplicated
}

// faultWebhookTime is the event_timestamp of every webhook of the fault load.
var faultWebhookTime = time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)

var invoiceIDField = regexp.MustCompile(`"invoice_id":"([^"]+)"`)

// expectedEvents is the invoice.delivered event id of every acknowledged
// webhook (a company without credentials: the webhook's own event only).
func (l *faultLoad) expectedEvents() map[string]string {
	want := map[string]string{}
	l.acked.Range(func(k, _ any) bool {
		if m := invoiceIDField.FindStringSubmatch(k.(string)); m != nil {
			want[events.InvoiceNoticeID(events.TypeInvoiceDelivered, m[1], "DELIVERED", faultWebhookTime)] = m[1]
		}
		return true
	})
	return want
}

// report prints the scenario line the suite promises and fails on any loss or
// duplicate.
func report(t *testing.T, name string, lost, duplicated int, detail string) {
	t.Helper()
	line := fmt.Sprintf("scenario=%s lost=%d duplicated=%d", name, lost, duplicated)
	fmt.Println(line + "  # " + detail)
	if lost != 0 || duplicated != 0 {
		t.Errorf("%s", line)
	}
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition
	}
}

// storedWebhookBodies reads the webhook stream through any of natsURL's servers.
func storedWebhookBodies(t *testing.T, natsURL string) map[string]int {
	t.Helper()
	b, err := natsstore.OpenBroker(context.Background(), natsstore.BrokerConfig{URL: natsURL}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	return readStream(t, b.JS)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// serviceBinary builds the real program once per suite run (no race detector,
// as in production).
func serviceBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "faults-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "maventa-events")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is the service binary running as a child process.
type proc struct {
	cmd     *exec.Cmd
	url     string
	natsURL string
	stderr  *syncBuffer
	exited  chan error
}

// startProc starts the binary with env (on top of loopback defaults) and waits
// for its banner.
func startProc(t *testing.T, env map[string]string) *proc {
	t.Helper()
	base := map[string]string{"LISTEN_ADDR": "127.0.0.1:0", "WEBHOOK_SECRETS": testSecret,
		"NATS_EMBEDDED_PORT": "-1", "LOG_LEVEL": "warn", "POLL_ENABLED": "false"}
	for k, v := range env {
		base[k] = v
	}
	cmd := exec.Command(serviceBinary(t))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range base {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &proc{cmd: cmd, stderr: &syncBuffer{}, exited: make(chan error, 1)}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := scanBanner(out)
	go func() { p.exited <- cmd.Wait() }()
	select {
	case b := <-ready:
		p.url, p.natsURL = b.url, withEmbeddedCredentials(t, b.natsURL, base["DATA_DIR"])
	case err := <-p.exited:
		t.Fatalf("service exited before it was ready: %v\n%s", err, p.stderr)
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("service not ready after 60s\n%s", p.stderr)
	}
	t.Cleanup(func() { p.signal(syscall.SIGKILL) })
	return p
}

// signal sends sig and waits for the process to exit.
func (p *proc) signal(sig syscall.Signal) error {
	select {
	case err := <-p.exited:
		p.exited <- err
		return err
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case err := <-p.exited:
		p.exited <- err
		return err
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		return fmt.Errorf("did not exit within 60s of %v", sig)
	}
}
