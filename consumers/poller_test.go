package consumers

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers/natstest"
	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

const (
	pollCompanyA = "6f1c2a77-6c1f-4a55-9b36-3f5f1e2d9a11"
	pollCompanyB = "7a2d3b88-7d2f-4b66-8c47-4f6f2e3e0b22"
)

// clock is a settable clock shared by the sandbox (created_at of what it
// records) and the poller (cursors, look-back).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// pollEnv is a sandbox Maventa, the real client and the shared emitter and
// states, in memory.
type pollEnv struct {
	t      *testing.T
	sb     *sandbox.Sandbox
	client *maventa.Client
	store  pollState
	facts  Records
	em     *memStream
	creds  *maventa.CredentialStore
}

func newPollEnv(t *testing.T, now func() time.Time) *pollEnv {
	t.Helper()
	// A short domain duplicate window: only the aggregate records can stop a
	// fact seen again from being emitted again.
	return newPollEnvWindow(t, now, 100*time.Millisecond)
}

// newPollEnvWindow is newPollEnv with the domain stream's duplicate window.
func newPollEnvWindow(t *testing.T, now func() time.Time, window time.Duration) *pollEnv {
	t.Helper()
	return newPollEnvFull(t, now, window, sandbox.Company{ID: pollCompanyA}, sandbox.Company{ID: pollCompanyB})
}

// newPollEnvWith is newPollEnv with other companies (their API keys and names
// are made up).
func newPollEnvWith(t *testing.T, now func() time.Time, companies ...sandbox.Company) *pollEnv {
	t.Helper()
	return newPollEnvFull(t, now, 100*time.Millisecond, companies...)
}

func newPollEnvFull(t *testing.T, now func() time.Time, window time.Duration, companies ...sandbox.Company) *pollEnv {
	t.Helper()
	sb := sandbox.New(sandbox.Config{Seed: 11, Clock: now})
	keys := map[string]string{}
	for _, c := range companies {
		c.APIKey, c.VendorAPIKey, c.Name = "key-"+c.ID[:4], "vendor", "Oy "+c.ID[:4]
		sb.AddCompany(c)
		keys[c.ID] = c.APIKey
	}
	srv, err := sandbox.Start(sb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	creds := maventa.StaticCredentials(keys)
	client, err := maventa.New(maventa.Config{AXBaseURL: srv.AXURL, ReceivablesBaseURL: srv.ReceivablesURL,
		VendorAPIKey: maventa.NewSecret("vendor"), RequestsPerSecond: -1, MaxElapsed: time.Second,
		InitialBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}, creds, quiet)
	if err != nil {
		t.Fatal(err)
	}
	return &pollEnv{t: t, sb: sb, client: client, store: pollState{kv: newMemRecords()}, facts: newMemRecords(),
		em: &memStream{window: window}, creds: creds}
}

func (e *pollEnv) poller(cfg PollerConfig, api PollAPI) *Poller {
	if api == nil {
		api = e.client
	}
	return NewPoller(cfg, api, e.creds, e.store.kv, e.facts, e.em, quiet)
}

func (e *pollEnv) invoice(company, number string) sandbox.InvoiceResult {
	e.t.Helper()
	r, err := e.sb.SendInvoice(company, sandbox.InvoiceSpec{Number: number, Sum: sandbox.Amt("100.00"), RecipientName: "Asiakas Oy",
		RecipientBID: "3456789-0", Street: "Katu 1", PostalCode: "00100", City: "Helsinki"})
	if err != nil || r.AssignmentID == "" {
		e.t.Fatalf("send invoice: %+v %v", r, err)
	}
	return r
}

func (e *pollEnv) agencyEvent(assignmentID, typ string, data map[string]any) {
	e.t.Helper()
	if _, err := e.sb.AddAgencyEvent(assignmentID, typ, data, time.Time{}); err != nil {
		e.t.Fatal(err)
	}
}

// stored returns the domain events, failing on any id stored twice.
func (e *pollEnv) stored() []events.Event {
	e.t.Helper()
	all := e.em.stored()
	seen := map[string]bool{}
	for _, ev := range all {
		if seen[ev.ID] {
			e.t.Fatalf("event %s (%s) stored twice", ev.ID, ev.Type)
		}
		seen[ev.ID] = true
	}
	return all
}

func countType(all []events.Event, d events.TypeDef) int {
	n := 0
	for _, e := range all {
		if e.Type == d.Type() {
			n++
		}
	}
	return n
}

func TestPollingEmitsEverythingOnceAndTheCursorSurvivesARestart(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)}
	env := newPollEnv(t, clk.Now)
	ctx := context.Background()
	a1 := env.invoice(pollCompanyA, "1001")
	env.invoice(pollCompanyA, "1002")
	clk.Add(time.Minute)
	env.agencyEvent(a1.AssignmentID, "reminder_sent", nil)
	clk.Add(time.Minute)

	cfg := PollerConfig{Invoices: true, Messages: true, Now: clk.Now}
	p1 := env.poller(cfg, nil)
	res, err := p1.PollCompany(ctx, pollCompanyA, time.Time{}, true)
	if err != nil {
		t.Fatal(err)
	}
	all := env.stored()
	// Nothing came by webhook: the invoices and assignments were all missed.
	if got := p1.Stats.MissedWebhooks.Load(); got != 4 {
		t.Errorf("missed webhooks %d, want 4 (2 invoices, 2 assignments)", got)
	}
	if countType(all, events.TypeInvoiceDelivered) != 2 || countType(all, events.TypeAssignmentOpened) != 2 ||
		countType(all, mustType("reminder_sent")) != 1 || countType(all, events.TypeAssignmentCollectionStatusChanged) != 1 {
		t.Fatalf("after the first poll: %d events %v", len(all), typesOf(all))
	}
	if res.Emitted != len(all) {
		t.Errorf("poll reports %d emitted, stream holds %d", res.Emitted, len(all))
	}
	for _, e := range all {
		if e.WebhookID != "" {
			t.Errorf("%s found by polling names webhook %s, which Maventa never sent", e.Type, e.WebhookID)
		}
	}

	// A restarted replica continues from the stored cursor: nothing again.
	p2 := env.poller(cfg, nil)
	res, err = p2.PollCompany(ctx, pollCompanyA, time.Time{}, true)
	if err != nil || res.Emitted != 0 {
		t.Fatalf("second poll after restart emitted %d (%v)", res.Emitted, err)
	}
	var cur Cursor
	if rev, err := env.store.get(ctx, cursorKey("", pollCompanyA), &cur); rev == 0 || err != nil || !cur.After.Equal(clk.Now().Add(-time.Minute)) {
		t.Fatalf("cursor %+v (rev %d, %v), want the newest event's created_at", cur, rev, err)
	}
	// New facts are picked up, once, from the stored state: a payment closing a1.
	env.agencyEvent(a1.AssignmentID, "paid", map[string]any{"sum_paid": sandbox.Amt("100.00"), "booked_at": "2026-11-21"})
	clk.Add(time.Minute)
	res, err = p2.PollCompany(ctx, pollCompanyA, time.Time{}, true)
	if err != nil {
		t.Fatal(err)
	}
	all = env.stored()
	if countType(all, mustType("paid")) != 1 || countType(all, mustType("close")) != 1 || countType(all, events.TypeAssignmentStatusChanged) != 1 {
		t.Fatalf("after the payment: %v", typesOf(all))
	}
	if res.Calls > 3 {
		t.Errorf("a poll of a known assignment's events made %d calls, want <= 3 (events, invoices, threads)", res.Calls)
	}
}

func typesOf(all []events.Event) map[string]int {
	m := map[string]int{}
	for _, e := range all {
		m[e.Type]++
	}
	return m
}

func TestPollingPaginatesAndCostsOneCallPerPage(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)}
	env := newPollEnv(t, clk.Now)
	ctx := context.Background()
	a := env.invoice(pollCompanyA, "2001")
	for range 249 {
		env.agencyEvent(a.AssignmentID, "comment", map[string]any{"comment": "note"})
	}
	clk.Add(time.Minute)
	p := env.poller(PollerConfig{Now: clk.Now}, nil)
	res, err := p.PollCompany(ctx, pollCompanyA, time.Time{}, true)
	if err != nil {
		t.Fatal(err)
	}
	// 250 events (249 comments and the delivery_status): 3 pages, plus one
	// listing of changed assignments for the snapshot of the one nobody announced
	// (created inside the window, so its history is what was just read).
	if res.Events != 250 || res.Calls != 4 {
		t.Fatalf("read %d events in %d calls, want 250 in 4", res.Events, res.Calls)
	}
	if got := countType(env.stored(), mustType("comment")); got != 249 {
		t.Fatalf("%d comments emitted, want 249", got)
	}
}

func TestAnEventWrittenInThePastInsideTheOverlapIsCaught(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)}
	env := newPollEnv(t, clk.Now)
	ctx := context.Background()
	a := env.invoice(pollCompanyA, "3001")
	clk.Add(time.Hour)
	env.agencyEvent(a.AssignmentID, "reminder_sent", nil) // created 07:00
	p := env.poller(PollerConfig{Overlap: 10 * time.Minute, Now: clk.Now}, nil)
	if _, err := p.PollCompany(ctx, pollCompanyA, time.Time{}, true); err != nil {
		t.Fatal(err)
	}
	// Maventa records a comment stamped 06:55, behind the cursor (07:00) but
	// inside the overlap.
	clk.Add(-5 * time.Minute)
	env.agencyEvent(a.AssignmentID, "comment", map[string]any{"comment": "late"})
	clk.Add(10 * time.Minute)
	res, err := p.PollCompany(ctx, pollCompanyA, time.Time{}, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.Emitted != 1 || countType(env.stored(), mustType("comment")) != 1 {
		t.Fatalf("late comment: emitted %d", res.Emitted)
	}
}

// failingAPI answers ListEvents of one company with 429 Retry-After, counting calls per company.
type failingAPI struct {
	PollAPI
	slow  string
	calls sync.Map // company -> *atomic.Int64
}

func (f *failingAPI) count(c string) *atomic.Int64 {
	v, _ := f.calls.LoadOrStore(c, new(atomic.Int64))
	return v.(*atomic.Int64)
}

func (f *failingAPI) ListEvents(ctx context.Context, c string, q maventa.EventQuery, p maventa.PageOptions) (maventa.Page[maventa.Event], error) {
	f.count(c).Add(1)
	if c == f.slow {
		return maventa.Page[maventa.Event]{}, &maventa.APIError{Status: 429, Code: "rate_limited", RetryAfter: time.Hour}
	}
	return f.PollAPI.ListEvents(ctx, c, q, p)
}

func TestMaventa429WithRetryAfterSlowsOneCompanyOnly(t *testing.T) {
	env := newPollEnv(t, nil)
	api := &failingAPI{PollAPI: env.client, slow: pollCompanyA}
	p := env.poller(PollerConfig{Interval: 20 * time.Millisecond, Jitter: 0.01}, api)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	natstest.WaitFor(t, 30*time.Second, "the healthy company polled 10 times", func() bool { return api.count(pollCompanyB).Load() >= 10 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := api.count(pollCompanyA).Load(); n != 1 {
		t.Fatalf("the rate-limited company was asked %d times, want 1 (it waits its Retry-After)", n)
	}
}

func TestASecondReplicaTakesOverADeadPollerWithNoGapAndNoDuplicate(t *testing.T) {
	// One company: of two, replica 1 would give one to replica 2 (rebalance.go).
	env := newPollEnvWith(t, nil, sandbox.Company{ID: pollCompanyA})
	a := env.invoice(pollCompanyA, "4001")
	cfg := PollerConfig{Interval: 20 * time.Millisecond, LeaseTTL: 300 * time.Millisecond}
	r1cfg, r2cfg := cfg, cfg
	r1cfg.Holder, r2cfg.Holder = "replica-1", "replica-2"
	r1, r2 := env.poller(r1cfg, nil), env.poller(r2cfg, nil)

	ctx1, kill1 := context.WithCancel(context.Background())
	ctx2, stop2 := context.WithCancel(context.Background())
	done1, done2 := make(chan error, 1), make(chan error, 1)
	go func() { done1 <- r1.Run(ctx1) }()
	waitFor(t, "replica 1 polls", func() bool { return r1.Stats.Polls.Load() >= 2 })
	go func() { done2 <- r2.Run(ctx2) }()
	// Both run; only the lease holder polls the company.
	before := r2.Stats.Polls.Load()
	waitFor(t, "replica 1 keeps polling", func() bool { return r1.Stats.Polls.Load() >= 10 })
	if r2.Stats.Polls.Load() != before {
		t.Fatalf("replica 2 polled while replica 1 held the lease")
	}
	// Replica 1 dies without releasing its lease.
	kill1()
	<-done1
	if ok, _, err := env.store.tryLease(context.Background(), pollCompanyA, "replica-1", time.Now(), cfg.LeaseTTL); !ok || err != nil {
		t.Fatalf("restoring the dead replica's lease: %v %v", ok, err)
	}
	env.agencyEvent(a.AssignmentID, "reminder_sent", nil) // happens while nobody polls
	waitFor(t, "replica 2 takes over", func() bool { return r2.Stats.LeaseChanges.Load() >= 1 && r2.Stats.Polls.Load() > before })
	waitFor(t, "the reminder arrives", func() bool { return countType(env.stored(), mustType("reminder_sent")) == 1 })
	stop2()
	if err := <-done2; err != nil {
		t.Fatal(err)
	}
	all := env.stored()
	if countType(all, events.TypeAssignmentOpened) != 1 || countType(all, mustType("delivery_status")) != 1 {
		t.Fatalf("events %v", typesOf(all))
	}
}

func TestBackfillWhileRunningEmitsNothingTwice(t *testing.T) {
	// Workers applying the same new facts at the same moment both publish
	// before one of them loses the compare-and-set; the domain stream's
	// duplicate window (2 h by default) drops the second publication. This
	// test is about that concurrency, so it runs with the default window: with
	// 100 ms, a loaded machine stretches the gap past it.
	env := newPollEnvWindow(t, nil, 0)
	for i, n := range []string{"5001", "5002", "5003"} {
		a := env.invoice(pollCompanyB, n)
		env.agencyEvent(a.AssignmentID, "reminder_sent", nil)
		if i == 0 {
			env.agencyEvent(a.AssignmentID, "paid", map[string]any{"sum_paid": sandbox.Amt("100.00"), "booked_at": "2026-11-21"})
		}
	}
	p := env.poller(PollerConfig{Interval: 10 * time.Millisecond, Invoices: true}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	backfill := env.poller(PollerConfig{Invoices: true}, nil)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := backfill.PollCompany(context.Background(), pollCompanyB, time.Now().Add(-24*time.Hour), false); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	waitFor(t, "the running poller polls twice more", func() bool { return p.Stats.Polls.Load() >= 3 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	all := env.stored() // fails on any id stored twice
	if countType(all, events.TypeAssignmentOpened) != 3 || countType(all, mustType("reminder_sent")) != 3 ||
		countType(all, mustType("paid")) != 1 || countType(all, events.TypeInvoiceDelivered) != 3 {
		t.Fatalf("events %v", typesOf(all))
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	natstest.WaitFor(t, 30*time.Second, what, cond)
}
