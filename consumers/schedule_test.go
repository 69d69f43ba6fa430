package consumers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

const pollCompanyN = "8b3e4c99-8e3f-4c77-9d58-5a7f3f4f1c33" // no receivables service

// invoicePolls records, per company, the clock time of each invoice listing:
// one per scheduled poll, whatever the company's tier.
type invoicePolls struct {
	PollAPI
	now func() time.Time

	mu     sync.Mutex
	at     map[string][]time.Time
	flight *flights // shared by the replicas of a test
}

// flights counts polls in progress per company, across pollers.
type flights struct {
	mu       sync.Mutex
	inFlight map[string]int
	overlaps int // a company polled by two pollers at once
}

func newInvoicePolls(api PollAPI, now func() time.Time) *invoicePolls {
	return &invoicePolls{PollAPI: api, now: now, at: map[string][]time.Time{}, flight: &flights{inFlight: map[string]int{}}}
}

func (r *invoicePolls) ListInvoices(ctx context.Context, c string, q maventa.InvoiceQuery, p maventa.PageOptions) (maventa.Page[maventa.Invoice], error) {
	r.mu.Lock()
	r.at[c] = append(r.at[c], r.now())
	r.mu.Unlock()
	f := r.flight
	f.mu.Lock()
	f.inFlight[c]++
	if f.inFlight[c] > 1 {
		f.overlaps++
	}
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.inFlight[c]--; f.mu.Unlock() }()
	if !maventa.IsBackground(ctx) {
		return maventa.Page[maventa.Invoice]{}, fmt.Errorf("poll of %s not marked background for the Maventa budget", c)
	}
	return r.PollAPI.ListInvoices(ctx, c, q, p)
}

// maxGap is the longest time between two polls of c, and until end.
func (r *invoicePolls) maxGap(c string, end time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var gap time.Duration
	at := append(r.at[c], end)
	for i := 1; i < len(at); i++ {
		gap = max(gap, at[i].Sub(at[i-1]))
	}
	return gap
}

func TestTiersOverTwoDaysAndAcrossARestart(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)}
	env := newPollEnvWith(t, clk.Now,
		sandbox.Company{ID: pollCompanyA}, sandbox.Company{ID: pollCompanyN, NoReceivables: true})
	ctx := context.Background()
	env.invoice(pollCompanyN, "7001")
	api := newInvoicePolls(env.client, clk.Now)
	cfg := PollerConfig{Interval: time.Minute, QuietMax: time.Hour, NoReceivablesMax: 24 * time.Hour, NoReceivablesRecheck: 24 * time.Hour,
		Invoices: true, Messages: true, Now: clk.Now}
	p := env.poller(cfg, api)
	start := clk.Now()
	for clk.Now().Before(start.Add(48 * time.Hour)) {
		p.runDue(ctx)
		clk.Add(30 * time.Second)
	}
	end := clk.Now()
	if got := countType(env.stored(), events.TypeInvoiceDelivered); got != 1 {
		t.Errorf("%d invoice.delivered for the company without receivables, want 1 (invoice fallback)", got)
	}
	// /v1/events at the start, then once a day (the message threads are never
	// asked: the same service refuses them).
	if n := env.sb.Requests()["receivables"].PerCompany[pollCompanyN]; n > 3 {
		t.Errorf("%d Receivables requests in 2 days for a company without the service, want <= 3", n)
	}
	// Its 24h ceiling: due times are only ever spread early.
	if g := api.maxGap(pollCompanyN, end); g > 24*time.Hour+30*time.Second {
		t.Errorf("no-receivables company: longest gap %v, want <= its 24h ceiling", g)
	}
	// Its invoice found at the first poll: 0, 1, 3, 7, 15 min (doubling
	// while the news is fresh), then once a day (it doubled up to the
	// ceiling before: 1, 2, 4 ... 1024 min, 12 polls a day).
	if n := len(api.at[pollCompanyN]); n > 8 {
		t.Errorf("no-receivables company polled %d times in 2 days, want <= 8 (5 after its invoice, then daily)", n)
	}
	if g := api.maxGap(pollCompanyA, end); g > 66*time.Minute+30*time.Second {
		t.Errorf("quiet company: longest gap %v, want <= its 1h ceiling", g)
	}
	if n := len(api.at[pollCompanyA]); n < 2*24-2 || n > 2*24+10 {
		t.Errorf("quiet company polled %d times in 2 days, want about every hour (48)", n)
	}
	for _, ts := range p.TierStats() {
		if ts.Overdue != 0 {
			t.Errorf("tier %s: %d overdue", ts.Tier, ts.Overdue)
		}
	}

	// A restarted replica knows the company without receivables from the
	// bucket: no request for it before its stored due time, then one poll
	// that does the /v1/events re-check.
	due := p.sched.byID[pollCompanyN].st.Next
	before := env.sb.Requests()["receivables"].PerCompany[pollCompanyN]
	polls := len(api.at[pollCompanyN])
	p2 := env.poller(cfg, api)
	for clk.Now().Before(due.Add(-time.Minute)) {
		p2.runDue(ctx)
		clk.Add(30 * time.Second)
	}
	if n := env.sb.Requests()["receivables"].PerCompany[pollCompanyN]; n != before || len(api.at[pollCompanyN]) != polls {
		t.Errorf("after a restart: %d Receivables requests and %d polls for the company without the service before it is due, want none",
			n-before, len(api.at[pollCompanyN])-polls)
	}
	if st := p2.sched.byID[pollCompanyN].st; st.Tier != TierNoReceivables {
		t.Errorf("after a restart the company's tier is %q, want no_receivables", st.Tier)
	}
	// The first replica still holds the lease until LeaseTTL (3m) past the
	// due time: the restarted one takes over then.
	for clk.Now().Before(due.Add(4 * time.Minute)) {
		p2.runDue(ctx)
		clk.Add(30 * time.Second)
	}
	if n := env.sb.Requests()["receivables"].PerCompany[pollCompanyN]; n != before+1 || len(api.at[pollCompanyN]) != polls+1 {
		t.Errorf("%d Receivables requests and %d polls at the due poll after the restart, want 1 (the re-check) and 1",
			n-before, len(api.at[pollCompanyN])-polls)
	}
}

func TestANudgePullsAQuietCompanysPollForwardAndMakesItActive(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)}
	// One company only: a second one's jittered poll could fall due at the
	// moment of the nudge and be counted with it.
	env := newPollEnvWith(t, clk.Now, sandbox.Company{ID: pollCompanyA})
	ctx := context.Background()
	a := env.invoice(pollCompanyA, "8001")
	p := env.poller(PollerConfig{Interval: time.Minute, QuietMax: 15 * time.Minute, Now: clk.Now}, nil)
	for range 4 * 60 { // 2 hours: quiet at 15 minutes
		p.runDue(ctx)
		clk.Add(30 * time.Second)
	}
	if st := p.sched.byID[pollCompanyA].st; st.Tier != TierQuiet || st.Delay != 15*time.Minute {
		t.Fatalf("state %+v, want quiet at 15m", st)
	}
	env.agencyEvent(a.AssignmentID, "reminder_sent", nil)
	p.Nudge(pollCompanyA) // its webhook arrived
	if n := p.runDue(ctx); n != 1 {
		t.Fatalf("%d companies polled right after the nudge, want 1", n)
	}
	if got := countType(env.stored(), mustType("reminder_sent")); got != 1 {
		t.Errorf("%d reminder_sent after the nudged poll, want 1", got)
	}
	if st := p.sched.byID[pollCompanyA].st; st.Tier != TierActive || st.Delay != time.Minute {
		t.Errorf("after the nudge: %+v, want active at the base interval", st)
	}
	p.Nudge("unknown-company") // ignored
}

func TestTheFirstPassIsSpreadOverTheIntervalActiveFirst(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)}
	const companyC = "9c4f5d00-9f40-4d88-8e69-6b8040502d44"
	env := newPollEnvWith(t, clk.Now,
		sandbox.Company{ID: pollCompanyA}, sandbox.Company{ID: pollCompanyB}, sandbox.Company{ID: companyC}, sandbox.Company{ID: pollCompanyN})
	ctx := context.Background()
	now := clk.Now()
	// What a previous run learned; all four are overdue after the downtime.
	// Company ids sort A, B, C, N: the wanted order is not alphabetical.
	for c, st := range map[string]schedState{
		pollCompanyA: {Tier: TierNoReceivables, Next: now.Add(-time.Hour)},
		pollCompanyB: {Tier: TierQuiet, Next: now.Add(-time.Hour)},
		pollCompanyN: {Tier: TierActive, Next: now.Add(-time.Minute)},
	} {
		if err := env.store.saveSchedState(ctx, c, st); err != nil {
			t.Fatal(err)
		}
	}
	p := env.poller(PollerConfig{Interval: time.Minute, Now: clk.Now}, nil)
	p.syncCompanies(ctx, now)
	order := []string{pollCompanyN, pollCompanyB, companyC, pollCompanyA} // active, quiet, new, no receivables
	var prev time.Time
	for i, c := range order {
		due := p.sched.byID[c].due
		if want := now.Add(time.Duration(i) * time.Minute / 4); !due.Equal(want) {
			t.Errorf("%d. %s due at +%v, want +%v", i+1, c[:4], due.Sub(now), want.Sub(now))
		}
		if due.Before(prev) {
			t.Errorf("%s due before the one ranked above it", c[:4])
		}
		prev = due
	}
}

// TestReplicasDivideTheCompaniesAndTakeOverADeadOne runs 2 and 4 pollers on
// one shared store: each company is polled by one replica at a time
// (never two at once), and a replica that dies without releasing its leases
// has its companies taken over by the others.
func TestReplicasDivideTheCompaniesAndTakeOverADeadOne(t *testing.T) {
	for _, replicas := range []int{2, 4} {
		t.Run(fmt.Sprintf("%d replicas", replicas), func(t *testing.T) {
			var companies []sandbox.Company
			for i := range 12 {
				companies = append(companies, sandbox.Company{ID: fmt.Sprintf("%04d%d-aaaa-4aaa-8aaa-aaaaaaaaaaaa", i, replicas)})
			}
			env := newPollEnvWith(t, nil, companies...)
			cfg := PollerConfig{Interval: 50 * time.Millisecond, QuietMax: 200 * time.Millisecond, LeaseTTL: time.Second, Invoices: true}
			type replica struct {
				p      *Poller
				api    *invoicePolls
				cancel context.CancelFunc
				done   chan error
			}
			var rs []*replica
			shared := &flights{inFlight: map[string]int{}}
			for i := range replicas {
				c := cfg
				c.Holder = fmt.Sprintf("replica-%d", i)
				api := newInvoicePolls(env.client, time.Now)
				api.flight = shared
				ctx, cancel := context.WithCancel(context.Background())
				r := &replica{p: env.poller(c, api), api: api, cancel: cancel, done: make(chan error, 1)}
				go func() { r.done <- r.p.Run(ctx) }()
				rs = append(rs, r)
			}
			polled := func(r *replica, c string) int {
				r.api.mu.Lock()
				defer r.api.mu.Unlock()
				return len(r.api.at[c])
			}
			// Every company polled three times; each by one replica only.
			waitFor(t, "every company polled 3 times", func() bool {
				for _, c := range companies {
					n := 0
					for _, r := range rs {
						n += polled(r, c.ID)
					}
					if n < 3 {
						return false
					}
				}
				return true
			})
			// Replica 0 dies: its leases stay as they were (a crash releases
			// nothing). Its companies are those it polled last (companies move
			// between replicas to even their shares).
			rs[0].cancel()
			if err := <-rs[0].done; err != nil {
				t.Fatal(err)
			}
			owner := map[string]int{}
			for _, c := range companies {
				var last time.Time
				for i, r := range rs {
					r.api.mu.Lock()
					if at := r.api.at[c.ID]; len(at) > 0 && at[len(at)-1].After(last) {
						owner[c.ID], last = i, at[len(at)-1]
					}
					r.api.mu.Unlock()
				}
			}
			var orphans []string
			restored := 0 // leases given back to the dead replica: each must be taken over
			for c, i := range owner {
				if i == 0 {
					orphans = append(orphans, c)
					// (false: a survivor already took the lease its clean stop
					// released, which is fine, but is no takeover)
					ok, _, err := env.store.tryLease(context.Background(), c, "replica-0", time.Now(), cfg.LeaseTTL)
					if err != nil {
						t.Fatalf("restoring the dead replica's lease: %v", err)
					}
					if ok {
						restored++
					}
				}
			}
			if len(orphans) == 0 {
				t.Log("replica 0 held no company")
			}
			// Polls after the restore: a survivor may have polled one of them
			// before (companies move to even the shares), which is no takeover.
			restoredAt := time.Now()
			waitFor(t, "the dead replica's companies polled by the others", func() bool {
				for _, c := range orphans {
					n := 0
					for _, r := range rs[1:] {
						r.api.mu.Lock()
						for _, at := range r.api.at[c] {
							if at.After(restoredAt) {
								n++
							}
						}
						r.api.mu.Unlock()
					}
					if n == 0 {
						return false
					}
				}
				return true
			})
			for _, r := range rs[1:] {
				r.cancel()
				if err := <-r.done; err != nil {
					t.Fatal(err)
				}
			}
			if shared.overlaps != 0 {
				t.Errorf("%d polls overlapping another poll of the same company", shared.overlaps)
			}
			taken := int64(0)
			for _, r := range rs[1:] {
				taken += r.p.Stats.LeaseChanges.Load()
			}
			if taken < int64(restored) {
				t.Errorf("%d lease takeovers, want >= %d (the dead replica's leases)", taken, restored)
			}
		})
	}
}

func TestACompanyLateBeyondTwiceItsCeilingIsReportedOverdue(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)}
	env := newPollEnv(t, clk.Now)
	ctx := context.Background()
	p := env.poller(PollerConfig{Interval: time.Minute, Now: clk.Now}, nil)
	p.runDue(ctx) // the first company of the spread pass is polled; the other's slot is at +30s
	stats := func() map[Tier]TierStat {
		got := map[Tier]TierStat{}
		for _, ts := range p.TierStats() {
			got[ts.Tier] = ts
		}
		return got
	}
	clk.Add(2*time.Minute + time.Second)
	// 2m01s since the start but 1m31s since its slot: not yet overdue.
	if got := stats(); got[TierNew].Overdue != 0 {
		t.Errorf("new, 1m31s after its slot: %+v, want not overdue", got[TierNew])
	}
	clk.Add(30 * time.Second)
	// Nobody polled it 2m01s after its slot: the never-polled company is
	// overdue (its ceiling is the base interval), the polled one (quiet) is not.
	got := stats()
	if got[TierNew].Companies != 1 || got[TierNew].Overdue != 1 || got[TierNew].MaxLag != 2*time.Minute+31*time.Second {
		t.Errorf("new: %+v, want 1 company, overdue, lag 2m31s", got[TierNew])
	}
	if got[TierQuiet].Companies != 1 || got[TierQuiet].Overdue != 0 {
		t.Errorf("quiet: %+v, want 1 company, not overdue", got[TierQuiet])
	}
}

// A webhook processed by a replica that does not hold the company reaches
// the holder through the bucket, which polls the company at once.
func TestANudgeOnAnotherReplicaReachesTheHolder(t *testing.T) {
	env := newPollEnv(t, nil)
	cfg := PollerConfig{Interval: time.Hour, Jitter: -1, LeaseTTL: time.Hour, Invoices: true}
	ca, cb := cfg, cfg
	ca.Holder, cb.Holder = "replica-a", "replica-b"
	apiA, apiB := newInvoicePolls(env.client, time.Now), newInvoicePolls(env.client, time.Now)
	a, b := env.poller(ca, apiA), env.poller(cb, apiB)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	doneA, doneB := make(chan error, 1), make(chan error, 1)
	go func() { doneA <- a.Run(ctx) }()
	waitFor(t, "replica a polls both companies", func() bool {
		apiA.mu.Lock()
		defer apiA.mu.Unlock()
		return len(apiA.at[pollCompanyA]) == 1 && len(apiA.at[pollCompanyB]) == 1
	})
	go func() { doneB <- b.Run(ctx) }()
	waitFor(t, "replica b lists both companies", func() bool {
		b.sched.mu.Lock()
		defer b.sched.mu.Unlock()
		return len(b.sched.byID) == 2 && b.sched.h.Len()+b.sched.ready.Len() == 2
	})
	// A webhook for A processed by replica b, which has not polled A yet (A
	// is due in an hour): b finds the lease held and passes the nudge on.
	b.Nudge(pollCompanyA)
	waitFor(t, "replica a polls A again", func() bool {
		apiA.mu.Lock()
		defer apiA.mu.Unlock()
		return len(apiA.at[pollCompanyA]) == 2
	})
	cancel()
	if err := errors.Join(<-doneA, <-doneB); err != nil {
		t.Fatal(err)
	}
	apiB.mu.Lock()
	defer apiB.mu.Unlock()
	if len(apiB.at[pollCompanyA]) != 0 || len(apiB.at[pollCompanyB]) != 0 {
		t.Errorf("replica b polled companies replica a holds: %v", apiB.at)
	}
	apiA.mu.Lock()
	defer apiA.mu.Unlock()
	if len(apiA.at[pollCompanyB]) != 1 {
		t.Errorf("B polled %d times, want 1 (only A was nudged)", len(apiA.at[pollCompanyB]))
	}
}

type companyNames []string

func (n companyNames) Companies() []string { return n }

// A first pass longer than the interval (many companies, a small budget) is
// spread over the time the budget needs, and a company already polled once
// is polled again at its deadline among the never-polled ones, not after all
// of them (issue 15: quiet companies got no poll during a 6-hour first pass
// at 50 000 companies, every never-polled company having the earlier deadline).
func TestALongFirstPassIsPacedByTheBudgetAndStarvesNoPolledCompany(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	env := newPollEnv(t, clk.Now)
	now := clk.Now()
	const quietCo = "00000000-0000-4000-8000-00000000q00q"
	names := companyNames{quietCo}
	for i := range 100 {
		names = append(names, fmt.Sprintf("%08d-0000-4000-8000-000000000000", i))
	}
	// Polled a moment ago, nothing new: due again in a minute, its ceiling an hour away.
	if err := env.store.saveSchedState(ctx, quietCo, schedState{Tier: TierQuiet, Last: now, Next: now.Add(time.Minute), Delay: time.Minute}); err != nil {
		t.Fatal(err)
	}
	// 0.7 requests/s for polling, 3 per first poll on AX (two tokens, the
	// invoice list): 100 companies take 100 x 3 / 0.7 s = 7m8s.
	cfg := PollerConfig{Interval: time.Minute, QuietMax: 3 * time.Minute, Invoices: true, Now: clk.Now,
		Budget: SizingBudget{RequestsPerSecond: 1, PollShare: 0.7}}
	p := NewPoller(cfg, nil, names, env.store.kv, env.facts, env.em, quiet)
	p.syncCompanies(ctx, now)
	window := FirstPass(p.cfg, cfg.Budget, 100)
	if want := 100 * 3 * time.Second * 10 / 7; window != want {
		t.Fatalf("FirstPass = %v, want %v", window, want)
	}
	last := p.sched.byID[names[100]].due
	if want := now.Add(window * 99 / 100); last.Sub(want).Abs() > time.Millisecond {
		t.Errorf("the last new company is due at +%v, want +%v (the pass spread over the budget's time)", last.Sub(now), want.Sub(now))
	}
	// Nobody polls until the quiet company's ceiling is reached: then it goes
	// before every never-polled company whose slot came after its deadline.
	clk.Add(4 * time.Minute)
	var before []string
	for {
		e, _ := p.sched.pop(clk.Now(), p.cfg)
		if e == nil {
			t.Fatal("the quiet company was never taken")
		}
		if e.company == quietCo {
			break
		}
		// A never-polled company's deadline is its slot plus the interval.
		if e.planned.Add(time.Minute).After(now.Add(3 * time.Minute)) {
			t.Errorf("new company with its slot at +%v taken before the quiet one, due since +1m, deadline +3m", e.planned.Sub(now))
		}
		before = append(before, e.company)
	}
	// Slots every 4.28s: 29 of them lie before +2m (deadlines before +3m).
	if len(before) != 29 {
		t.Errorf("%d new companies taken before the quiet one, want the 29 whose deadlines come first", len(before))
	}
}

// sharedReplica is one replica of a driven-clock rebalancing test: the test
// steps its clock and does what Run does every interval.
type sharedReplica struct {
	p        *Poller
	api      *invoicePolls
	nextSync time.Time
	dead     bool
}

// step does what Run does at now: every interval the company list and the
// share report, then every company due.
func (r *sharedReplica) step(ctx context.Context, now time.Time) {
	if r.dead {
		return
	}
	if r.nextSync.IsZero() {
		r.p.syncCompanies(ctx, now)
	}
	if !now.Before(r.nextSync) {
		r.p.syncCompanies(ctx, now)
		r.p.rebalance(ctx, now)
		r.nextSync = now.Add(r.p.cfg.Interval)
	}
	r.p.runDue(ctx)
}

// Issue 15: a replica started after the others got no company until one
// died (leases are first come, first served and renewed past each next
// poll). Now the replicas above their share give companies up after polling
// them and the late one takes them: within a few intervals every replica
// holds N/R rounded up or down, no company is polled by two replicas in one
// period, none waits longer than its ceiling plus LeaseTTL during the moves,
// and a replica that dies is still taken over, after which the survivors
// share its companies.
func TestALateReplicaGetsItsShareAndTheSharesStayEven(t *testing.T) {
	for _, tc := range []struct {
		name                string
		companies, replicas int // replicas started together, then one more
	}{
		{"12 companies, 3 replicas then a 4th", 12, 3},
		{"10 companies, 2 replicas then a 3rd", 10, 2},
		{"7 companies, 1 replica then a 2nd", 7, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{t: time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)}
			var companies []sandbox.Company
			for i := range tc.companies {
				companies = append(companies, sandbox.Company{ID: fmt.Sprintf("%04d%d-bbbb-4bbb-8bbb-bbbbbbbbbbbb", i, tc.replicas)})
			}
			env := newPollEnvWith(t, clk.Now, companies...)
			ctx := context.Background()
			const (
				interval = time.Minute
				ceiling  = 4 * time.Minute // QuietMax: nothing happens, every company turns quiet
				leaseTTL = 3 * time.Minute
				tick     = 5 * time.Second
			)
			cfg := PollerConfig{Interval: interval, QuietMax: ceiling, LeaseTTL: leaseTTL, Invoices: true, Now: clk.Now}
			var rs []*sharedReplica
			add := func() {
				c := cfg
				c.Holder = fmt.Sprintf("replica-%d", len(rs))
				api := newInvoicePolls(env.client, clk.Now)
				rs = append(rs, &sharedReplica{p: env.poller(c, api), api: api})
			}
			run := func(d time.Duration, until func() bool) time.Duration {
				start := clk.Now()
				for clk.Now().Sub(start) < d {
					for _, r := range rs {
						r.step(ctx, clk.Now())
					}
					if until != nil && until() {
						break
					}
					clk.Add(tick)
				}
				return clk.Now().Sub(start)
			}
			// held is each live replica's count of leases, as it knows it.
			held := func() []int {
				var out []int
				for _, r := range rs {
					if !r.dead {
						out = append(out, r.p.sched.heldCount())
					}
				}
				return out
			}
			even := func() bool {
				h := held()
				lo, hi := tc.companies/len(h), (tc.companies+len(h)-1)/len(h)
				sum := 0
				for _, n := range h {
					if n < lo || n > hi {
						return false
					}
					sum += n
				}
				return sum == tc.companies
			}
			for range tc.replicas {
				add()
			}
			run(10*interval, nil)
			t.Logf("before the late replica: %v", held())
			add()
			late := rs[len(rs)-1]
			took := run(20*interval, even)
			if !even() {
				t.Fatalf("20 intervals after the late replica started the replicas hold %v of %d companies, want each %d or %d",
					held(), tc.companies, tc.companies/len(rs), (tc.companies+len(rs)-1)/len(rs))
			}
			t.Logf("the late replica got its share in %v: %v", took, held())
			// Still even, with nothing moving, a while later.
			moved := func() int64 {
				var n int64
				for _, r := range rs {
					n += r.p.Stats.LeaseChanges.Load()
				}
				return n
			}
			before := moved()
			run(10*interval, nil)
			if !even() || moved() != before {
				t.Errorf("10 intervals later: %v and %d more moves, want the same shares, no move", held(), moved()-before)
			}
			if polled := len(late.api.at); polled < tc.companies/len(rs) {
				t.Errorf("the late replica polled %d companies, want its share", polled)
			}

			// The late replica dies (its leases stay): the others take its
			// companies over and share them.
			late.dead = true
			took = run(20*interval, even)
			if !even() {
				t.Errorf("after a replica died the others hold %v of %d companies, want an even share", held(), tc.companies)
			}
			t.Logf("a replica died; the others share its companies in %v: %v", took, held())
			run(5*interval, nil)
			end := clk.Now()

			// Every poll of a company, by whom: never two replicas in one
			// period (a company's polls are at least 0.9 x the interval
			// apart, its spread), never a gap beyond its ceiling plus
			// LeaseTTL while it moved.
			type poll struct {
				at time.Time
				by int
			}
			for _, c := range companies {
				var ps []poll
				for i, r := range rs {
					for _, at := range r.api.at[c.ID] {
						ps = append(ps, poll{at, i})
					}
				}
				slices.SortFunc(ps, func(a, b poll) int { return a.at.Compare(b.at) })
				ps = append(ps, poll{end, -1})
				for i := 1; i < len(ps); i++ {
					gap := ps[i].at.Sub(ps[i-1].at)
					if min := interval*9/10 - tick; gap < min && ps[i].by >= 0 {
						t.Errorf("company %s polled by replicas %d and %d %v apart, want >= %v", c.ID[:5], ps[i-1].by, ps[i].by, gap, min)
					}
					if max := ceiling + leaseTTL + tick; gap > max {
						t.Errorf("company %s not polled for %v after replica %d's poll at +%v, want <= ceiling + LeaseTTL (%v)",
							c.ID[:5], gap, ps[i-1].by, ps[i-1].at.Sub(clk.Now()), max)
					}
				}
			}
		})
	}
}
