package consumers

import (
	"container/heap"
	"context"
	"errors"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/maventa-bridge/maventa-events/maventa"
)

// entry is one company in this replica's schedule.
type entry struct {
	company  string
	due      time.Time // when it should be polled
	deadline time.Time // when its lag passes its tier's ceiling (zero: nudged)
	index    int       // in its heap; -1 while polled
	ready    bool      // in the ready heap (due, waiting for a worker)
	st       schedState
	seen     time.Time // when this replica first listed the company (lag of a never-polled one)
	// planned is a never-polled company's slot in the first pass: its
	// deadline and its overdue check count from there, not from seen, since
	// a first pass longer than the interval (many companies, a small budget)
	// is planned, not late.
	planned time.Time
	other   bool // another live replica holds its lease, or this one gave it up
	mine    bool // this replica holds its lease (counted in schedule.held)
	nudged  bool // a webhook or command asked for a poll
}

// entryHeap orders entries by due time (the waiting) or by deadline (the
// ready): picking the next company is O(log n).
type entryHeap struct {
	items      []*entry
	byDeadline bool
}

func (h *entryHeap) Len() int { return len(h.items) }
func (h *entryHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if h.byDeadline && !a.deadline.Equal(b.deadline) {
		return a.deadline.Before(b.deadline)
	}
	return a.due.Before(b.due)
}
func (h *entryHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].index, h.items[j].index = i, j
}
func (h *entryHeap) Push(x any) {
	e := x.(*entry)
	e.index, e.ready = len(h.items), h.byDeadline
	h.items = append(h.items, e)
}
func (h *entryHeap) Pop() any {
	n := len(h.items) - 1
	e := h.items[n]
	h.items[n] = nil
	h.items = h.items[:n]
	e.index, e.ready = -1, false
	return e
}

// schedule is the poller's in-memory view: every company by id; those not
// being polled wait in a heap by due time, then, once due, in a heap by
// deadline (earliest deadline first): when polling falls behind, the company
// closest to passing its tier's ceiling goes first (an active one before a
// company without receivables whose ceiling is an hour away), and nobody
// starves, since every deadline comes.
type schedule struct {
	mu    sync.Mutex
	byID  map[string]*entry
	h     *entryHeap    // waiting, by due time
	ready *entryHeap    // due, by deadline
	wake  chan struct{} // signalled when something became due earlier
	held  int           // entries this replica holds the lease of (mine)
	share share         // this replica's share, read every interval
}

// heapOf is the heap e is in (nil: none, it is being polled).
func (s *schedule) heapOf(e *entry) *entryHeap {
	switch {
	case e.index < 0:
		return nil
	case e.ready:
		return s.ready
	}
	return s.h
}

func newSchedule() *schedule {
	return &schedule{byID: map[string]*entry{}, h: &entryHeap{}, ready: &entryHeap{byDeadline: true}, wake: make(chan struct{}, 1)}
}

func (s *schedule) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Nudge pulls the company's next poll forward to now: a webhook for it just
// arrived, or a command was just sent, so something probably changed. The
// company counts as active after that poll. Unknown companies are ignored.
// When another replica holds the company, the nudge goes to it through the
// reconcile bucket (in the background: Nudge never blocks its caller).
func (p *Poller) Nudge(companyID string) {
	if p.nudgeLocal(companyID) {
		p.forwardNudge(companyID)
	}
}

// forwardNudge passes a nudge to the replica holding the company, through
// the bucket, in the background.
func (p *Poller) forwardNudge(companyID string) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.store.putNudge(ctx, companyID, p.cfg.Now()); err != nil {
			p.log.Warn("passing a nudge to the replica polling the company failed", "company_id", companyID, "err", err)
		}
	}()
}

// nudgeLocal nudges the company in this replica's schedule; it reports
// whether another replica holds it.
func (p *Poller) nudgeLocal(companyID string) (other bool) {
	s := p.sched
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byID[companyID]
	if !ok {
		return false
	}
	if e.other {
		return true
	}
	e.nudged = true
	if h := s.heapOf(e); h != nil {
		// Due now, and before every company merely due.
		heap.Remove(h, e.index)
		e.due, e.deadline = time.Time{}, time.Time{}
		heap.Push(s.ready, e)
		s.signal()
	}
	return false
}

// syncCompanies adds companies that appeared (given credentials since) and drops those
// that went; first lists the companies of a cold start, whose due times are
// spread in tier order over Jitter x the longer of Interval and the time the
// budget needs to poll them all once (FirstPass).
func (p *Poller) syncCompanies(ctx context.Context, now time.Time) {
	list := p.comp.Companies()
	s := p.sched
	s.mu.Lock()
	first := len(s.byID) == 0
	present := make(map[string]bool, len(list))
	var added []*entry
	for _, c := range list {
		present[c] = true
		if _, ok := s.byID[c]; !ok {
			e := &entry{company: c, index: -1, seen: now, st: schedState{Tier: TierNew}}
			s.byID[c] = e
			added = append(added, e)
		}
	}
	for c, e := range s.byID {
		if !present[c] {
			if h := s.heapOf(e); h != nil {
				heap.Remove(h, e.index)
			}
			s.setMine(e, false)
			delete(s.byID, c)
		}
	}
	s.mu.Unlock()
	if len(added) == 0 {
		return
	}
	known := map[string]schedState{}
	if first {
		// What replicas learned before (tiers, no-receivables companies, when
		// each is due) is in the bucket: one watch reads it all.
		var err error
		if known, err = p.store.schedStates(ctx); err != nil {
			p.log.Warn("reading the schedule state failed; starting as if every company were new", "err", err)
		}
	}
	// A company due in the future keeps its time; the others (overdue or new)
	// are spread over the first Jitter x Interval, active first, or over as
	// long as the budget needs for them: at 50 000 companies and 10 requests/s
	// a first pass takes hours, and slots all within the first interval would
	// give every never-polled company a deadline before that of any company
	// already polled once, so none of those would be polled again until the
	// pass ended (earliest deadline first).
	var spread []*entry
	for _, e := range added {
		if st, ok := known[e.company]; ok {
			e.st = st
		}
		if e.st.Next.After(now) {
			e.due = e.st.Next
		} else {
			spread = append(spread, e)
		}
	}
	sort.SliceStable(spread, func(i, j int) bool {
		a, b := spread[i].st, spread[j].st
		if a.Tier.rank() != b.Tier.rank() {
			return a.Tier.rank() < b.Tier.rank()
		}
		return a.Next.Before(b.Next) // the most overdue first
	})
	window := time.Duration(float64(max(p.cfg.Interval, FirstPass(p.cfg, p.cfg.Budget, len(spread)))) * p.cfg.Jitter)
	for i, e := range spread {
		e.due = now.Add(time.Duration(float64(window) * float64(i) / float64(len(spread))))
		if e.st.Last.IsZero() {
			e.planned = e.due
		}
	}
	s.mu.Lock()
	for _, e := range added {
		if _, ok := s.byID[e.company]; ok && e.index < 0 {
			heap.Push(s.h, e)
		}
	}
	s.mu.Unlock()
	s.signal()
}

// Run polls every company when it is due until ctx ends, then releases its
// leases so that another replica takes over at once.
func (p *Poller) Run(ctx context.Context) error {
	sem := make(chan struct{}, p.cfg.Concurrency)
	var wg sync.WaitGroup
	go p.watchNudges(ctx)
	if reg, err := p.observeTiers(); err == nil {
		defer func() { _ = reg.Unregister() }()
	}
	defer func() {
		wg.Wait()
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.sched.mu.Lock()
		var mine []string
		for c, e := range p.sched.byID {
			if !e.other {
				mine = append(mine, c)
			}
		}
		p.sched.mu.Unlock()
		for _, c := range mine {
			p.store.releaseLease(rctx, c, p.cfg.Holder)
		}
		p.stopSharing(rctx)
	}()
	p.syncCompanies(ctx, p.cfg.Now())
	nextSync := p.cfg.Now().Add(p.cfg.Interval)
	var budgets budgetReporter
	p.reportBudget(ctx, &budgets)
	p.rebalance(ctx, p.cfg.Now())
	for {
		now := p.cfg.Now()
		if !now.Before(nextSync) {
			p.syncCompanies(ctx, now)
			p.reportBudget(ctx, &budgets)
			p.rebalance(ctx, now)
			nextSync = now.Add(p.cfg.Interval)
		}
		// A worker first, then the company: the choice is made as late as
		// possible, so a nudge meanwhile still goes first.
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		e, wait := p.sched.pop(p.cfg.Now(), p.cfg)
		if e == nil {
			<-sem
			// Sleep until the next company is due, a nudge, or the company
			// list is read again; never more than a second of the clock's
			// time in one go, so a stepped test clock is followed.
			wait = min(wait, nextSync.Sub(now), time.Second)
			select {
			case <-ctx.Done():
				return nil
			case <-p.sched.wake:
			case <-p.cfg.After(max(wait, time.Millisecond)):
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			p.pollEntry(ctx, e)
		}()
	}
}

// pop takes, among the companies due at now, the one with the earliest
// deadline; else it says how long until the next is due.
func (s *schedule) pop(now time.Time, cfg PollerConfig) (*entry, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.h.Len() > 0 && !s.h.items[0].due.After(now) {
		e := heap.Pop(s.h).(*entry)
		if !e.nudged {
			e.deadline = e.since().Add(cfg.ceiling(e.st.Tier))
		}
		heap.Push(s.ready, e)
	}
	if s.ready.Len() > 0 {
		return heap.Pop(s.ready).(*entry), 0
	}
	if s.h.Len() == 0 {
		return nil, time.Second
	}
	return nil, s.h.items[0].due.Sub(now)
}

// push puts e back in the heap, due at due (zero: at once, before the others).
func (s *schedule) push(e *entry, due time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byID[e.company]; !ok || e.index >= 0 {
		return
	}
	e.due = due
	if due.IsZero() {
		e.deadline = time.Time{}
	}
	heap.Push(s.h, e)
}

// pollEntry polls one due company if this replica holds (or takes) its lease,
// then stores its new schedule state and puts it back in the heap.
func (p *Poller) pollEntry(ctx context.Context, e *entry) {
	c := e.company
	now := p.cfg.Now()
	s := p.sched
	s.mu.Lock()
	nudged := e.nudged
	e.nudged = false
	s.mu.Unlock()
	retry := now.Add(p.cfg.Interval)

	ok, l, err := p.store.tryLeaseShare(ctx, c, p.cfg.Holder, now, p.cfg.LeaseTTL, s.heldCount())
	if err != nil {
		p.log.Warn("poll lease failed", "company_id", c, "err", err)
		s.push(e, retry)
		return
	}
	if !ok {
		// Another replica polls c: look again when its lease ends (it renews
		// it past each next poll, so this is when it would have died), or,
		// given up and left to a replica under its share, when anyone may
		// take it.
		s.mu.Lock()
		e.other = true
		s.setMine(e, false)
		s.mu.Unlock()
		if nudged {
			p.forwardNudge(c) // the holder polls it
		}
		look := l.Expires
		if l.GivenBelow > 0 && !now.Before(look) {
			look = look.Add(p.cfg.LeaseTTL)
		}
		s.push(e, later(look, now.Add(p.cfg.LeaseTTL/10)))
		return
	}
	s.mu.Lock()
	s.setMine(e, true)
	s.mu.Unlock()
	if l.Holder != "" && l.Holder != p.cfg.Holder {
		p.Stats.LeaseChanges.Add(1)
		leaseChanges.Add(ctx, 1)
		p.log.Info("took over polling", "company_id", c, "from", l.Holder, "holder", p.cfg.Holder)
	}
	// The stored state is the truth shared by replicas: another one may have
	// polled c since this replica last did.
	st, rev, err := p.store.schedState(ctx, c)
	if err != nil {
		p.log.Warn("reading schedule state failed", "company_id", c, "err", err)
		s.push(e, retry)
		return
	}
	if rev == 0 {
		st = e.st
	}
	if !nudged && st.Next.After(now) && rev != 0 {
		s.mu.Lock()
		e.st = st
		s.mu.Unlock()
		s.push(e, p.keepOrGive(ctx, e, st.Next))
		return
	}
	parts := p.cfg.parts(st, now)
	if nudged {
		parts.events = parts.events || st.Tier != TierNoReceivables
	}
	if !st.Last.IsZero() {
		lagRecorded(ctx, st.Tier, now.Sub(st.Last))
	} else {
		lagRecorded(ctx, st.Tier, now.Sub(e.seen))
	}
	res := p.poll(maventa.WithBackground(ctx), c, time.Time{}, true, parts)
	if ctx.Err() != nil && res.Err() != nil {
		s.push(e, now) // shutting down: the next holder polls it at once
		return
	}
	next := p.cfg.advance(st, res, parts, nudged, now)
	next.Next = spreadEntry(st.Tier, next, now, rand.Float64())
	if err := p.store.saveSchedState(ctx, c, next); err != nil {
		p.log.Warn("storing schedule state failed", "company_id", c, "err", err)
	}
	look := p.keepOrGive(ctx, e, next.Next)
	p.report(ctx, c, res, st.Tier, next)
	s.mu.Lock()
	e.st = next
	due := look
	if e.nudged && !e.other { // a webhook arrived while polling: next, before the others
		due = time.Time{}
	}
	s.mu.Unlock()
	s.push(e, due)
}

// since is when e's tier ceiling counts from: its last poll, else its slot in
// the first pass, else when it was first listed.
func (e *entry) since() time.Time {
	switch {
	case !e.st.Last.IsZero():
		return e.st.Last
	case !e.planned.IsZero():
		return e.planned
	}
	return e.seen
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// extendLease keeps c's lease until LeaseTTL after its next poll: the lease
// stays with this replica between polls however long its tier's delay, and
// another replica takes over at most LeaseTTL after a poll this one missed.
func (p *Poller) extendLease(ctx context.Context, c string, next time.Time) {
	until := next.Add(p.cfg.LeaseTTL)
	if err := p.store.holdLease(ctx, c, p.cfg.Holder, until, 0); err != nil {
		p.log.Warn("extending poll lease failed", "company_id", c, "err", err)
	}
}

// report logs and counts one scheduled poll.
func (p *Poller) report(ctx context.Context, c string, res CompanyPoll, was Tier, next schedState) {
	if err := res.Err(); err != nil {
		if refused(res.EventsErr) && res.InvoicesErr == nil && res.MessagesErr == nil {
			if was != TierNoReceivables {
				p.log.Info("company has no receivables service: only its invoices are polled", "company_id", c,
					"events_asked_again", next.EventsAt)
			}
		} else {
			p.Stats.Errors.Add(1)
			reconcileErrors.Add(ctx, 1, companyAttr(c))
			p.log.Warn("poll failed; company backs off", "company_id", c, "err", err, "retry_at", next.Next)
		}
	}
	if next.Tier != was {
		p.log.Debug("company changed tier", "company_id", c, "from", was, "to", next.Tier, "next", next.Next)
	}
	lag := pollLag(res, p.cfg.Now())
	recordPoll(ctx, res, lag.Seconds())
	p.log.Debug("polled", "company_id", c, "tier", next.Tier, "calls", res.Calls, "emitted", res.Emitted,
		"duration", res.Duration, "next", next.Next)
}

// pollLag is now minus the newest event seen (the cursor when nothing new was read).
func pollLag(r CompanyPoll, now time.Time) time.Duration {
	newest := r.Newest
	if newest.IsZero() {
		newest = r.Cursor
	}
	return now.Sub(newest)
}

// TierStat is one tier's figures in this replica's schedule.
type TierStat struct {
	Tier      Tier
	Companies int
	// Overdue counts companies not polled for more than twice the tier's
	// ceiling (a never-polled one: past its slot in the first pass).
	Overdue int
	// MaxLag is the longest time since a company's last poll.
	MaxLag time.Duration
}

// TierStats reports the companies this replica polls (not those another live
// replica holds), per tier.
func (p *Poller) TierStats() []TierStat {
	now := p.cfg.Now()
	s := p.sched
	s.mu.Lock()
	defer s.mu.Unlock()
	by := map[Tier]*TierStat{}
	for _, t := range Tiers {
		by[t] = &TierStat{Tier: t}
	}
	for _, e := range s.byID {
		if e.other {
			continue
		}
		ts := by[e.st.Tier]
		if ts == nil {
			continue
		}
		ts.Companies++
		last := e.st.Last
		if last.IsZero() {
			last = e.seen
		}
		lag := now.Sub(last)
		ts.MaxLag = max(ts.MaxLag, lag)
		if now.Sub(e.since()) > 2*p.cfg.ceiling(e.st.Tier) {
			ts.Overdue++
		}
	}
	out := make([]TierStat, 0, len(Tiers))
	for _, t := range Tiers {
		out = append(out, *by[t])
	}
	return out
}

// watchNudges applies nudges other replicas wrote for companies (a webhook
// processed there for a company this replica may hold).
func (p *Poller) watchNudges(ctx context.Context) {
	err := p.store.watchNudges(ctx, func(c string) { _ = p.nudgeLocal(c) })
	if err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
		p.log.Warn("watching nudges failed; webhooks processed by other replicas will not pull polls forward", "err", err)
	}
}

// reportBudget checks this replica's tier counts against its budget and
// writes its Maventa budget use and the check's advice for `status`.
func (p *Poller) reportBudget(ctx context.Context, r *budgetReporter) {
	advice := p.checkSizing()
	if p.cfg.Budgets == nil {
		return
	}
	rb := r.report(p.cfg.Holder, p.cfg.Now(), p.cfg.Budgets())
	rb.Sizing = advice
	if err := p.store.saveReplicaBudget(ctx, rb); err != nil && ctx.Err() == nil {
		p.log.Warn("storing the budget report failed", "err", err)
	}
}

// checkSizing evaluates the sizing model (Size) on the companies this replica
// polls, per tier (new ones are left out until their first poll says their
// tier). It logs one warning when polling stops fitting its share of the
// budget, not one per check or poll, and one line when it fits again; it
// returns the advice naming the option to change ("" when polling fits).
func (p *Poller) checkSizing() string {
	if p.cfg.Budget.RequestsPerSecond <= 0 {
		return ""
	}
	var m Mix
	for _, ts := range p.TierStats() {
		switch ts.Tier {
		case TierActive:
			m.Active = ts.Companies
		case TierQuiet:
			m.Quiet = ts.Companies
		case TierNoReceivables:
			m.NoReceivables = ts.Companies
		}
	}
	s := Size(p.cfg, p.cfg.Budget, m)
	need := make(map[string]float64, len(s.Hosts))
	for _, h := range s.Hosts {
		need[h.Host] = h.Share
	}
	p.needMu.Lock()
	p.need = need
	p.needMu.Unlock()
	advice := s.Advice()
	switch {
	case advice != "" && !p.overBudget:
		p.log.Warn("polling needs more than its share of the Maventa budget: companies will be polled later than their tier's ceiling",
			"advice", advice, "active", m.Active, "quiet", m.Quiet, "no_receivables", m.NoReceivables)
	case advice == "" && p.overBudget:
		p.log.Info("polling fits its share of the Maventa budget again",
			"active", m.Active, "quiet", m.Quiet, "no_receivables", m.NoReceivables)
	}
	p.overBudget = advice != ""
	return advice
}

// spreadEntry is next's due time spread (spreadBy), except for a company
// that has just been found to have no receivables service: its first invoice
// poll as such is due anywhere in the delay (uniformly, by r in [0, 1)). A
// first pass polls every company within some hours; at a daily ceiling the
// companies without receivables would otherwise keep coming due in that
// same window every day (the spread moves them by 10 % at most), needing
// most of the budget for hours and leaving quiet companies past their
// ceiling (seen in the 36-hour simulation). Their /v1/events re-check stays
// a day after the refusal, on a later poll.
func spreadEntry(was Tier, next schedState, now time.Time, r float64) time.Time {
	if was != TierNoReceivables && next.Tier == TierNoReceivables && next.Fails == 0 {
		d := next.Next.Sub(now)
		return now.Add(time.Duration(float64(d) * (0.05 + 0.95*r)))
	}
	return spreadBy(now, next.Next, r)
}

// spreadMean is the mean delay after spreadBy, as a share of the delay.
const spreadMean = 0.95

// spreadBy brings a due time forward by up to 10 % of its delay, by r in
// [0, 1) (0: 10 % early, towards 1: on time): companies whose delays double
// in step (every company of a first pass) would otherwise come due together
// in ever larger waves, each holding up the active companies behind it. Only
// forward, never later, so that a delay at its tier's ceiling never exceeds
// the ceiling (the sizing model counts polls at spreadMean of the ceiling).
func spreadBy(now, next time.Time, r float64) time.Time {
	d := next.Sub(now)
	return now.Add(d - time.Duration((1-r)*0.1*float64(d)))
}
