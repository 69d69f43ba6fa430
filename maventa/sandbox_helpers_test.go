package maventa_test

import (
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

// countingTransport counts the requests the client sends, by "METHOD /path".
type countingTransport struct {
	next http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n[r.Method+" "+r.URL.Path]++
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

// count returns how many requests were sent for key ("GET /v1/assignments").
func (c *countingTransport) count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

// reset forgets every count.
func (c *countingTransport) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n = map[string]int{}
}

// fakeClock is the sandbox's clock in tests that need exact created_at values.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// sbEnv is a running sandbox, a client pointed at it and the client's request counter.
type sbEnv struct {
	sb    *sandbox.Sandbox
	srv   *sandbox.Server
	c     *maventa.Client
	rt    *countingTransport
	clock *fakeClock
}

// newEnv starts a sandbox on a fake clock (whole seconds, UTC) with two companies
// sharing sbVendor, and a fast-retrying client; mod adjusts the client's config.
func newEnv(t *testing.T, mod ...func(*maventa.Config)) *sbEnv {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	clock := &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
	sb := sandbox.New(sandbox.Config{Seed: 7, Logger: quiet, TimeScale: 3600, Clock: clock.Now})
	t.Cleanup(sb.Close)
	sb.AddCompany(sandbox.Company{ID: sbCompany, APIKey: sbAPIKey, VendorAPIKey: sbVendor, Name: "Acme Oy", BID: "1234567-8"})
	sb.AddCompany(sandbox.Company{ID: sbOther, APIKey: "other-key", VendorAPIKey: sbVendor, Name: "Other Oy", BID: "7654321-0"})
	srv, err := sandbox.Start(sb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	rt := &countingTransport{next: http.DefaultTransport.(*http.Transport).Clone(), n: map[string]int{}}
	cfg := maventa.Config{
		AXBaseURL:          srv.AXURL,
		ReceivablesBaseURL: srv.ReceivablesURL,
		VendorAPIKey:       maventa.NewSecret(sbVendor),
		Transport:          rt,
		InitialBackoff:     time.Millisecond,
		MaxBackoff:         5 * time.Millisecond,
		MaxElapsed:         time.Minute,
		Timeout:            10 * time.Second,
		RequestsPerSecond:  -1,
	}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := maventa.New(cfg, maventa.StaticCredentials(map[string]string{sbCompany: sbAPIKey, sbOther: "other-key"}), quiet)
	if err != nil {
		t.Fatal(err)
	}
	return &sbEnv{sb: sb, srv: srv, c: c, rt: rt, clock: clock}
}

// invoice sends an invoice through Amili Kassavirta on the sandbox's clock.
func (e *sbEnv) invoice(t *testing.T, company, number, sum, debtor, bid string) sandbox.InvoiceResult {
	t.Helper()
	res, err := e.sb.SendInvoice(company, sandbox.InvoiceSpec{
		Number: number, Sum: sandbox.Amt(sum), RecipientName: debtor, RecipientBID: bid,
		Street: "Katu 1", PostalCode: "00100", City: "Helsinki",
		DueDate: e.clock.Now().AddDate(0, 0, 30).Format(time.DateOnly),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.AssignmentID == "" {
		t.Fatalf("invoice %s created no assignment: %+v", number, res)
	}
	return res
}

// valuesOf is ev's data as the consumers read it (Event.Fact).
func valuesOf(t *testing.T, ev maventa.Event) events.AssignmentValues {
	t.Helper()
	f, err := ev.Fact()
	if err != nil {
		t.Fatal(err)
	}
	if f.Values.Err != nil {
		t.Errorf("event %s data: %v", ev.ID, f.Values.Err)
	}
	return f.Values
}

func dateOf(d *events.Date) string {
	if d == nil {
		return ""
	}
	return string(*d)
}

func amountOf(d *events.Decimal) string {
	if d == nil {
		return "<none>"
	}
	return d.String()
}
