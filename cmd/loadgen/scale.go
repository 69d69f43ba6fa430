package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/consumers"
	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

// The -scale simulation (issue 15): reconciliation of many companies within
// Maventa's request budget, time-scaled, in one process: the sandbox Maventa
// (counting every request, 403 on Receivables routes for companies without
// the service), embedded JetStream, the real client with its per-host budget
// and the real poller, all on one simulated clock running -scale-speed times
// faster than the wall clock (the budget is -scale-rps x speed real requests
// per second, i.e. -scale-rps per simulated second).
//
// Facts are created in the sandbox during the run and each must arrive once
// as a domain event; the lag of each is the simulated time from the fact to
// its domain event, by the tier of its company:
//   - active: 1 % per hour of the receivables companies send an invoice and
//     get two reminders over the next 20 minutes, each announced by a webhook
//     (a Poller.Nudge, as the webhook consumer does);
//   - quiet: 0.5 % per hour of the receivables companies get a comment whose
//     webhook is lost (only polling finds it);
//   - no_receivables: 0.1 % per hour of the other companies send an invoice
//     whose DOCUMENTS webhook is lost (only the invoice fallback finds it).

type scaleOptions struct {
	companies   int
	receivables float64
	active      float64
	hours       float64
	speed       float64
	rps         float64
	interval    time.Duration
	concurrency int
	drain       time.Duration
	// warmup is the simulated span left out of the lag figures (the first
	// pass); zero: the first third of the run.
	warmup time.Duration
	// The tier options, simulated; zero: the service's defaults.
	quietMax, noRecMax, recheck time.Duration
	cpuprofile                  string
}

// warm is the simulated span before steady state is measured.
func (o scaleOptions) warm() time.Duration {
	if o.warmup > 0 {
		return o.warmup
	}
	return time.Duration(o.hours * float64(time.Hour) / 3)
}

// pollerConfig is the poller's tier configuration of the run: the flags, or
// the service's defaults (consumers.Default*) where a flag is zero.
func (o scaleOptions) pollerConfig() consumers.PollerConfig {
	or := func(d time.Duration, intervals int) time.Duration {
		if d > 0 {
			return d
		}
		return time.Duration(intervals) * o.interval
	}
	return consumers.PollerConfig{Interval: o.interval,
		QuietMax:             or(o.quietMax, consumers.DefaultQuietMaxIntervals),
		NoReceivablesMax:     or(o.noRecMax, consumers.DefaultNoReceivablesIntervals),
		NoReceivablesRecheck: or(o.recheck, consumers.DefaultRecheckIntervals)}
}

// ceiling is the tier's longest delay between two polls; an active
// company's facts have the target, twice the base interval.
func (o scaleOptions) ceiling(t consumers.Tier) time.Duration {
	c := o.pollerConfig()
	switch t {
	case consumers.TierQuiet:
		return c.QuietMax
	case consumers.TierNoReceivables:
		return c.NoReceivablesMax
	}
	return 2 * o.interval
}

func (o scaleOptions) validate() error {
	switch {
	case o.companies <= 0 || o.companies > 200_000:
		return errors.New("-scale must be in [1, 200000] companies")
	case o.receivables <= 0 || o.receivables > 1 || o.active < 0 || o.active > 1:
		return errors.New("-scale-receivables must be in (0, 1] and -scale-active in [0, 1]")
	case o.speed < 1 || o.speed > 3600:
		return errors.New("-scale-speed must be in [1, 3600]")
	case o.hours <= 0 || time.Duration(o.hours*float64(time.Hour)/o.speed) > 45*time.Minute:
		return errors.New("-scale-hours / -scale-speed must be positive and at most 45 minutes of real time (a simulated day and a half at 72x fits)")
	case o.rps <= 0:
		return errors.New("-scale-rps must be positive")
	case o.drain < 0 || o.drain > 2*time.Minute:
		return errors.New("-scale-drain must be in [0, 2m] (real time)")
	case o.warmup < 0 || o.warmup >= time.Duration(o.hours*float64(time.Hour)):
		return fmt.Errorf("-scale-warmup %v must be in [0, -scale-hours) (simulated; 0: the first third)", o.warmup)
	case o.interval <= 0 || o.quietMax < 0 || o.noRecMax < 0 || o.recheck < 0:
		return errors.New("-scale-interval must be positive and -scale-quiet-max, -scale-no-receivables-max, -scale-recheck >= 0 (0: the service's default)")
	}
	return nil
}

// simClock is the simulated clock: start + elapsed real time x speed.
type simClock struct {
	start, real0 time.Time
	speed        float64
}

func (c *simClock) Now() time.Time {
	return c.start.Add(time.Duration(float64(time.Since(c.real0)) * c.speed))
}

func (c *simClock) After(d time.Duration) <-chan time.Time {
	return time.After(time.Duration(float64(d) / c.speed))
}

// fact is one thing created at Maventa that must become a domain event.
type fact struct {
	typ     string // the domain event type's name part, e.g. reminder_sent
	company string
	tier    consumers.Tier
	created time.Time
	arrived time.Time
	times   int
}

type scaleRun struct {
	o     scaleOptions
	clk   *simClock
	sb    *sandbox.Sandbox
	rng   *rand.Rand
	rec   []string // companies with receivables
	noRec []string

	mu    sync.Mutex
	facts map[string]*fact // "e:<maventa event id>" or "i:<invoice id>"
	ids   map[string]int   // every domain event id read -> times
	dups  int
	extra atomic.Int64
	kinds *requestKinds
}

func (r *scaleRun) noRecSet() map[string]bool {
	m := make(map[string]bool, len(r.noRec))
	for _, c := range r.noRec {
		m[c] = true
	}
	return m
}

func runScale(ctx context.Context, o scaleOptions, stdout, stderr io.Writer) error {
	if err := o.validate(); err != nil {
		return err
	}
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	clk := &simClock{start: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), real0: time.Now(), speed: o.speed}
	r := &scaleRun{o: o, clk: clk, rng: rand.New(rand.NewPCG(15, 50_000)), facts: map[string]*fact{}, ids: map[string]int{}}
	r.sb = sandbox.New(sandbox.Config{Seed: 15, Clock: clk.Now, TimeScale: o.speed, Logger: log})
	keys := make(map[string]string, o.companies)
	nRec := int(float64(o.companies) * o.receivables)
	for i := range o.companies {
		id := fmt.Sprintf("%08x-5ca1-4e00-8000-%012x", i, i)
		r.sb.AddCompany(sandbox.Company{ID: id, APIKey: "k" + id, VendorAPIKey: "scale-vendor", NoReceivables: i >= nRec})
		keys[id] = "k" + id
		if i < nRec {
			r.rec = append(r.rec, id)
		} else {
			r.noRec = append(r.noRec, id)
		}
	}
	srv, err := sandbox.Start(r.sb)
	if err != nil {
		return err
	}
	defer srv.Close()
	dir, err := os.MkdirTemp("", "loadgen-scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b, err := natsstore.OpenBroker(ctx, natsstore.BrokerConfig{DataDir: dir}, log)
	if err != nil {
		return err
	}
	defer b.Close()
	kv, err := natsstore.EnsurePipeline(ctx, b.JS, natsstore.PipelineConfig{}, log)
	if err != nil {
		return err
	}
	rstore, err := natsstore.EnsureReconcileStore(ctx, b.JS, 1, 0)
	if err != nil {
		return err
	}
	store := &countingStore{PollStore: rstore}
	facts := &countingRecords{next: natsstore.NewKVRecords(kv), c: &store.c}
	// Room for an idle connection per poll in flight (as the service sizes
	// its transport, cmd/maventa-events maventaTransport): with the default
	// 2 per host, all but two requests dialled a new connection (7 % of the
	// run's CPU in a profile at 20 000 companies) and left a TIME_WAIT socket.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4 * o.concurrency
	tr.MaxIdleConns = 2 * tr.MaxIdleConnsPerHost
	r.kinds = newRequestKinds(tr, r.noRecSet())
	client, err := maventa.New(maventa.Config{AXBaseURL: srv.AXURL, ReceivablesBaseURL: srv.ReceivablesURL,
		VendorAPIKey: maventa.NewSecret("scale-vendor"), RequestsPerSecond: o.rps, Clock: clk.Now, After: clk.After,
		MaxElapsed: 5 * time.Second, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		Transport: r.kinds}, maventa.StaticCredentials(keys), log)
	if err != nil {
		return err
	}
	pcfg := o.pollerConfig()
	pcfg.Invoices, pcfg.Messages, pcfg.Concurrency, pcfg.Holder = true, true, o.concurrency, "scale"
	pcfg.Now, pcfg.After, pcfg.Budgets = clk.Now, clk.After, client.Budgets
	pcfg.Budget = consumers.SizingBudget{RequestsPerSecond: o.rps} // as the service sets it: paces the first pass
	poller := consumers.NewPoller(pcfg, client, maventa.StaticCredentials(keys), store, facts,
		natsstore.NewEmitter(b.JS, natsstore.PipelineConfig{}), log)

	stopRead, err := r.readDomainEvents(ctx, b.JS)
	if err != nil {
		return err
	}
	defer stopRead()
	pctx, stopPoller := context.WithCancel(ctx)
	pollDone := make(chan error, 1)
	go func() { pollDone <- poller.Run(pctx) }()

	// Tier counts and budget samples once a simulated minute; facts as they come.
	end := clk.start.Add(time.Duration(o.hours * float64(time.Hour)))
	var samples []sample
	warm := clk.start.Add(o.warm())
	var atWarm map[string]sandbox.HostRequests
	var kindsAtWarm map[requestKind]int64
	last := clk.Now()
	for clk.Now().Before(end) && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-clk.After(time.Minute):
		}
		now := clk.Now()
		r.makeFacts(poller, now.Sub(last))
		last = now
		samples = append(samples, sample{at: now, tiers: poller.TierStats(), budgets: client.Budgets()})
		if atWarm == nil && now.After(warm) {
			atWarm, kindsAtWarm = r.sb.Requests(), r.kinds.counts()
		}
	}
	// The request figures are those of the simulated time: the poller goes
	// on polling while draining.
	atEnd := endCounts{sandbox: r.sb.Requests(), kinds: r.kinds.counts(), budgets: client.Budgets(),
		polls: poller.Stats.Polls.Load(), store: store.c.snapshot(), storeTime: store.c.spent(), httpTime: r.kinds.spent()}
	// Facts made in the last minutes get their chance: drain (real time).
	drainEnd := time.Now().Add(o.drain)
	for time.Now().Before(drainEnd) && r.missing() > 0 && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
	}
	stopPoller()
	if err := <-pollDone; err != nil {
		return err
	}
	r.report(stdout, samples, poller, atEnd, atWarm, kindsAtWarm)
	// Like the other modes, the run verifies by counting.
	r.mu.Lock()
	dups := r.dups
	r.mu.Unlock()
	if n := r.lost(end); n > 0 || dups > 0 {
		return fmt.Errorf("scale: %d facts older than their tier's ceiling never arrived as domain events, %d domain events stored twice", n, dups)
	}
	return nil
}

type sample struct {
	at      time.Time
	tiers   []consumers.TierStat
	budgets []maventa.BudgetStat
}

// makeFacts creates the facts of the last simulated span d.
func (r *scaleRun) makeFacts(p *consumers.Poller, d time.Duration) {
	hours := d.Hours()
	pick := func(list []string, perHour float64) []string {
		n := perHour * float64(len(list)) * hours // the mean; the fraction by chance
		k := int(n)
		if r.rng.Float64() < n-float64(k) {
			k++
		}
		out := make([]string, 0, k)
		for range k {
			out = append(out, list[r.rng.IntN(len(list))])
		}
		return out
	}
	for _, c := range pick(r.rec, r.o.active) {
		if res, ok := r.invoice(c, consumers.TierActive); ok {
			p.Nudge(c) // its webhook
			go r.reminders(p, c, res.AssignmentID)
		}
	}
	for _, c := range pick(r.rec, 0.005) {
		// A comment on one of the company's assignments, its webhook lost:
		// a new invoice first when it has none.
		res, ok := r.invoice(c, consumers.TierQuiet)
		if ok {
			r.agencyEvent(c, res.AssignmentID, "comment", consumers.TierQuiet)
		}
	}
	if len(r.noRec) > 0 {
		for _, c := range pick(r.noRec, 0.001) {
			r.invoice(c, consumers.TierNoReceivables) // webhook lost
		}
	}
}

// reminders adds two agency events 5 and 20 simulated minutes later, each
// with its webhook.
func (r *scaleRun) reminders(p *consumers.Poller, c, assignmentID string) {
	for _, after := range []time.Duration{5 * time.Minute, 15 * time.Minute} {
		<-r.clk.After(after)
		r.agencyEvent(c, assignmentID, "reminder_sent", consumers.TierActive)
		p.Nudge(c)
	}
}

func (r *scaleRun) invoice(c string, tier consumers.Tier) (sandbox.InvoiceResult, bool) {
	res, err := r.sb.SendInvoice(c, sandbox.InvoiceSpec{Number: fmt.Sprintf("S-%d", r.extra.Add(1)), Sum: sandbox.Amt("100.00"),
		RecipientName: "Asiakas Oy", RecipientBID: "3456789-0", Street: "Katu 1", PostalCode: "00100", City: "Helsinki"})
	if err != nil || res.Status != "SENT" {
		return res, false
	}
	r.mu.Lock()
	r.facts["i:"+res.InvoiceID] = &fact{typ: "invoice.delivered", company: c, tier: tier, created: r.clk.Now()}
	r.mu.Unlock()
	return res, res.AssignmentID != ""
}

func (r *scaleRun) agencyEvent(c, assignmentID, typ string, tier consumers.Tier) {
	data := map[string]any(nil)
	if typ == "comment" {
		data = map[string]any{"comment": "simulated"}
	}
	ev, err := r.sb.AddAgencyEvent(assignmentID, typ, data, time.Time{})
	if err != nil {
		return
	}
	r.mu.Lock()
	r.facts["e:"+ev.ID] = &fact{typ: "assignment." + typ, company: c, tier: tier, created: r.clk.Now()}
	r.mu.Unlock()
}

// readDomainEvents matches every domain event to its fact as it arrives.
func (r *scaleRun) readDomainEvents(ctx context.Context, js jetstream.JetStream) (func(), error) {
	c, err := js.OrderedConsumer(ctx, events.StreamName, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"receivables.events.>"}})
	if err != nil {
		return nil, err
	}
	cc, err := c.Consume(func(m jetstream.Msg) {
		e, err := events.Decode(m.Data())
		if err != nil {
			return
		}
		key := ""
		switch {
		case e.Type == events.TypeInvoiceDelivered.Type():
			key = "i:" + e.Subject
		case e.MaventaEventID != "":
			key = "e:" + e.MaventaEventID
		}
		now := r.clk.Now()
		r.mu.Lock()
		defer r.mu.Unlock()
		r.ids[e.ID]++
		if r.ids[e.ID] > 1 {
			r.dups++
		}
		f, ok := r.facts[key]
		if !ok || !strings.Contains(e.Type, "."+f.typ+".") {
			return // a fact the run does not track (delivery_status, status changes...)
		}
		f.times++
		if f.times == 1 {
			f.arrived = now
		}
	})
	if err != nil {
		return nil, err
	}
	return cc.Stop, nil
}

// lost counts the facts not arrived that are older than their tier's ceiling
// (plus an interval for the poll itself) at the end: the younger may simply
// not be due yet.
func (r *scaleRun) lost(end time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, f := range r.facts {
		if f.times == 0 && f.created.Add(r.o.ceiling(f.tier)+r.o.interval).Before(end) {
			n++
		}
	}
	return n
}

func (r *scaleRun) missing() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, f := range r.facts {
		if f.times == 0 {
			n++
		}
	}
	return n
}

// endCounts are the counters at the end of the simulated time.
type endCounts struct {
	sandbox map[string]sandbox.HostRequests
	kinds   map[requestKind]int64
	budgets []maventa.BudgetStat
	polls   int64
	store   map[storeOp]int64
	// storeTime is the real time spent in the poller's KV round trips.
	storeTime time.Duration
	httpTime  time.Duration // and in Maventa requests
}

func (r *scaleRun) report(w io.Writer, samples []sample, p *consumers.Poller, atEnd endCounts, atWarm map[string]sandbox.HostRequests, kindsAtWarm map[requestKind]int64) {
	o := r.o
	pc := o.pollerConfig()
	fmt.Fprintf(w, "reconciliation at scale: %d companies (%d with receivables), %.2g %% of those active an hour, %.3g simulated hours at %gx, %g req/s per host, base interval %v\n",
		o.companies, len(r.rec), 100*o.active, o.hours, o.speed, o.rps, o.interval)
	fmt.Fprintf(w, "tier options: quiet max %v, no-receivables max %v, /v1/events re-check %v; warm-up %v\n",
		pc.QuietMax, pc.NoReceivablesMax, pc.NoReceivablesRecheck, o.warm())
	// Lag per tier, over the facts created after the warm-up (the first pass:
	// every company must be seen once).
	warm := r.clk.start.Add(o.warm())
	r.mu.Lock()
	lags := map[consumers.Tier][]time.Duration{}
	made, lost, late := map[consumers.Tier]int{}, map[consumers.Tier]int{}, map[consumers.Tier]int{}
	warmMade, warmLost := 0, 0
	for _, f := range r.facts {
		if !f.created.After(warm) {
			warmMade++
			if f.times == 0 {
				warmLost++
			}
			continue
		}
		made[f.tier]++
		if f.times == 0 {
			lost[f.tier]++
			continue
		}
		lag := f.arrived.Sub(f.created)
		lags[f.tier] = append(lags[f.tier], lag)
		if lag > o.ceiling(f.tier) {
			late[f.tier]++
		}
	}
	dups := r.dups
	if os.Getenv("SCALE_DEBUG") != "" {
		var slow []*fact
		for _, f := range r.facts {
			slow = append(slow, f)
		}
		slices.SortFunc(slow, func(a, b *fact) int { return int(b.arrived.Sub(b.created) - a.arrived.Sub(a.created)) })
		for _, f := range slow[:min(8, len(slow))] {
			fmt.Fprintf(w, "slow: %s %s %s created +%v lag %v times %d\n", f.company[:8], f.tier, f.typ,
				f.created.Sub(r.clk.start).Round(time.Second), f.arrived.Sub(f.created).Round(time.Second), f.times)
		}
	}
	r.mu.Unlock()
	fmt.Fprintf(w, "\nfact -> domain event lag (facts created after the first %v):\n", warm.Sub(r.clk.start).Round(time.Minute))
	for _, t := range []consumers.Tier{consumers.TierActive, consumers.TierQuiet, consumers.TierNoReceivables} {
		l := lags[t]
		slices.Sort(l)
		q := func(x float64) time.Duration {
			if len(l) == 0 {
				return 0
			}
			return l[min(len(l)-1, int(x*float64(len(l))))].Round(time.Second)
		}
		fmt.Fprintf(w, "  %-15s facts %5d  lag p50 %-9v p99 %-9v max %-9v  target %-6v later than it %4d  not arrived by the end %d\n",
			t, made[t], q(0.5), q(0.99), q(1), o.ceiling(t), late[t], lost[t])
	}
	fmt.Fprintf(w, "  (facts created during the warm-up: %d, not arrived by the end %d)\n", warmMade, warmLost)
	fmt.Fprintf(w, "  domain event ids stored more than once: %d\n", dups)

	fmt.Fprintf(w, "\nschedule at the end of the simulated time:\n")
	final := p.TierStats()
	if len(samples) > 0 {
		final = samples[len(samples)-1].tiers
	}
	for _, ts := range final {
		fmt.Fprintf(w, "  %-15s companies %6d  overdue %6d  longest since last poll %v\n", ts.Tier, ts.Companies, ts.Overdue, ts.MaxLag.Round(time.Second))
	}
	reqs := atEnd.sandbox
	simSecs := o.hours * 3600
	fmt.Fprintf(w, "\nMaventa requests (counted by the sandbox; peaks per simulated second):\n")
	for _, h := range []string{"ax", "receivables"} {
		c := reqs[h]
		fmt.Fprintf(w, "  %-12s %8d requests, %5.2f/s = %3.0f %% of the budget, peak second %d (budget %g)\n",
			h, c.Total, float64(c.Total)/simSecs, 100*float64(c.Total)/simSecs/o.rps, c.PeakSecond, o.rps)
	}
	var budgetLines []string
	for _, b := range atEnd.budgets {
		budgetLines = append(budgetLines, fmt.Sprintf("  %s: priority %d, background (polling) %d = %.0f %% of the host budget; peak second let through %d",
			b.Host, b.Priority, b.Background, 100*float64(b.Background)/simSecs/o.rps, b.PeakSecond))
	}
	slices.Sort(budgetLines)
	fmt.Fprintf(w, "client budget by class:\n")
	for _, l := range budgetLines {
		fmt.Fprintln(w, l)
	}
	// Per no-receivables company: the first /v1/events (the 403 that teaches
	// the tier) and the ones after it, which the daily re-check should bound.
	var noRecReqs, noRecLater int64
	polled := 0
	for _, c := range r.noRec {
		n := reqs["receivables"].PerCompany[c]
		noRecReqs += n
		if n > 0 {
			polled++
			noRecLater += n - 1
		}
	}
	if len(r.noRec) > 0 {
		fmt.Fprintf(w, "Receivables requests per no-receivables company: %.2f in the whole run (%d of %d companies asked); after the first: %.3f per simulated day\n",
			float64(noRecReqs)/float64(len(r.noRec)), polled, len(r.noRec), float64(noRecLater)/float64(len(r.noRec))/(o.hours/24))
	}
	if atWarm != nil {
		steady := simSecs - o.warm().Seconds()
		fmt.Fprintf(w, "after the warm-up:")
		for _, h := range []string{"ax", "receivables"} {
			n := reqs[h].Total - atWarm[h].Total
			fmt.Fprintf(w, " %s %.2f/s (%.0f %%)", h, float64(n)/steady, 100*float64(n)/steady/o.rps)
		}
		fmt.Fprintln(w)
		r.reportKinds(w, atEnd.kinds, kindsAtWarm, steady)
	}
	reportStore(w, atEnd.store, atEnd.storeTime, atEnd.httpTime, atEnd.polls)
	// The busiest simulated minute of the run, from the per-minute samples.
	var worst sample
	for _, s := range samples {
		if s.at.After(warm) && overdue(s) > overdue(worst) {
			worst = s
		}
	}
	if overdue(worst) > 0 {
		fmt.Fprintf(w, "most companies overdue at once after the warm-up: %d (at +%v)\n", overdue(worst), worst.at.Sub(r.clk.start).Round(time.Minute))
	}
}

func overdue(s sample) int {
	n := 0
	for _, t := range s.tiers {
		n += t.Overdue
	}
	return n
}

// reportKinds prints the client's requests after the warm-up per simulated
// second, by company class and route, with the host each route goes to.
func (r *scaleRun) reportKinds(w io.Writer, now, atWarm map[requestKind]int64, steady float64) {
	fmt.Fprintf(w, "client requests per simulated second after the warm-up, by company class (per company per hour):\n")
	for _, class := range []string{"receivables", "no_receivables"} {
		companies := len(r.rec)
		if class == "no_receivables" {
			companies = len(r.noRec)
		}
		fmt.Fprintf(w, "  %-15s", class)
		for _, route := range []string{"token", "invoices", "events", "threads", "other"} {
			k := requestKind{class, route}
			n := float64(now[k] - atWarm[k])
			perCompanyHour := 0.0
			if companies > 0 {
				perCompanyHour = n / float64(companies) / (steady / 3600)
			}
			fmt.Fprintf(w, " %s %.2f/s (%.3g)", route, n/steady, perCompanyHour)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  (token and invoices go to the AX host, events and threads to Receivables)\n")
}
