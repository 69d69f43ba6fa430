package consumers

import (
	"context"
	"fmt"
	"time"
)

// Rebalancing: replicas share the companies evenly. Leases alone are first
// come, first served and renewed past each next poll, so a replica started
// after the others (a scale-out, a rolling deploy) would get no company
// until one died. Every interval each replica writes how many companies it
// holds (share.<holder>) and reads the others': with R live replicas and N
// companies its share is floor(N/R) to ceil(N/R). After polling a company, a
// replica above the share while another live one is below it gives that
// company's lease up (holdLease with givenBelow) instead of extending it,
// for a replica below that bound, which takes it (tryLeaseShare); the
// others leave it to such a replica for LeaseTTL.

// shareLive is how long a replica's share report counts it as live: it
// writes one every interval, so two may be missed (a slow bucket, a long
// poll) before the others stop counting it.
const shareLive = 3

// ShareReport is a replica's count of the companies it holds (key
// share.<holder>), written every interval.
type ShareReport struct {
	Holder    string    `json:"holder"`
	At        time.Time `json:"at"` // zero: stopped
	Companies int       `json:"companies"`
}

// share is what a replica knows of the division at its last read.
type share struct {
	known       bool
	floor, ceil int // companies / live replicas, rounded down and up
	// minOther is the fewest companies a live other replica reported
	// holding (-1: no other is live).
	minOther int
}

// giveBelow says whether a replica holding held companies gives one up, and
// for a replica holding fewer than how many (0: it keeps it): when it holds
// more than ceil while another holds less (for one below ceil), or more than
// floor while another holds less than floor (for one below floor). A taker
// stays under the bound and a giver never drops below floor: between floor
// and ceil nothing moves, so counts an interval old make no company flap,
// and a replica at floor does not take what the one below it needs.
func (sh share) giveBelow(held int) int {
	switch {
	case !sh.known || sh.minOther < 0:
		return 0
	case held > sh.ceil && sh.minOther < sh.ceil:
		return sh.ceil
	case held > sh.floor && sh.minOther < sh.floor:
		return sh.floor
	}
	return 0
}

// shareKey names a replica's share report.
func shareKey(holder string) string { return "share." + kvKey(holder) }

// saveShare writes a replica's share report.
func (s pollState) saveShare(ctx context.Context, r ShareReport) error {
	if err := s.putJSON(ctx, shareKey(r.Holder), r); err != nil {
		return fmt.Errorf("share report: %w", err)
	}
	return nil
}

// shares reads every replica's share report.
func (s pollState) shares(ctx context.Context) ([]ShareReport, error) {
	out, err := listJSON[ShareReport](ctx, s, "share.")
	if err != nil {
		return nil, fmt.Errorf("read share reports: %w", err)
	}
	return out, nil
}

// heldCount is how many companies this replica holds the lease of.
func (s *schedule) heldCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

// setMine records whether this replica holds e's lease (s.mu held).
func (s *schedule) setMine(e *entry, mine bool) {
	if e.mine == mine {
		return
	}
	e.mine = mine
	if mine {
		s.held++
	} else {
		s.held--
	}
}

// rebalance writes this replica's share report and reads the others' to
// know its share until the next interval.
func (p *Poller) rebalance(ctx context.Context, now time.Time) {
	if err := p.store.saveShare(ctx, ShareReport{Holder: p.cfg.Holder, At: now, Companies: p.sched.heldCount()}); err != nil && ctx.Err() == nil {
		p.log.Warn("writing this replica's share of the companies failed", "err", err)
	}
	reps, err := p.store.shares(ctx)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("reading the replicas' shares failed; keeping the companies held", "err", err)
		}
		return
	}
	live, minOther := 1, -1
	for _, r := range reps {
		if r.Holder == p.cfg.Holder || r.At.IsZero() || now.Sub(r.At) > shareLive*p.cfg.Interval {
			continue
		}
		live++
		if minOther < 0 || r.Companies < minOther {
			minOther = r.Companies
		}
	}
	s := p.sched
	s.mu.Lock()
	n := len(s.byID)
	s.share = share{known: true, floor: n / live, ceil: (n + live - 1) / live, minOther: minOther}
	s.mu.Unlock()
}

// stopSharing tells the other replicas at once that this one holds nothing
// (on shutdown, after its leases were released).
func (p *Poller) stopSharing(ctx context.Context) {
	_ = p.store.saveShare(ctx, ShareReport{Holder: p.cfg.Holder})
}

// keepOrGive extends e's lease past its next poll at next, or, when this
// replica holds more than its share, gives it up at next. The lease ends at
// the company's due time, not at once: nobody polls it earlier, and whoever
// takes it then polls it at once. It returns when this replica looks at e
// again: next, or LeaseTTL after a lease given up, when a replica under its
// share has had its chance (another replica's look at e comes at most
// LeaseTTL after the due time this replica last polled it at, or at next).
func (p *Poller) keepOrGive(ctx context.Context, e *entry, next time.Time) time.Time {
	s := p.sched
	s.mu.Lock()
	below := 0
	if !e.nudged {
		below = s.share.giveBelow(s.held)
	}
	if below > 0 {
		s.setMine(e, false)
	}
	e.other = below > 0
	held := s.held
	s.mu.Unlock()
	if below == 0 {
		p.extendLease(ctx, e.company, next)
		return next
	}
	if err := p.store.holdLease(ctx, e.company, p.cfg.Holder, next, below); err != nil {
		p.log.Warn("giving up a poll lease failed", "company_id", e.company, "err", err)
	}
	p.log.Info("gave a company up to a replica holding fewer", "company_id", e.company, "holder", p.cfg.Holder,
		"held", held, "for_below", below, "at", next)
	return next.Add(p.cfg.LeaseTTL)
}
