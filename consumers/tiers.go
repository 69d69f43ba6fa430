package consumers

import (
	"time"

	"github.com/maventa-bridge/maventa-events/maventa"
)

// Tier is what the scheduler knows of a company, and so how often it polls it.
type Tier string

const (
	// TierActive: something changed recently (new assignment events or invoice
	// statuses, a webhook arrived, a command was sent): polled every Interval.
	TierActive Tier = "active"
	// TierQuiet: receivables active, nothing new for a while: the delay
	// doubles from Interval up to QuietMax.
	TierQuiet Tier = "quiet"
	// TierNoReceivables: Maventa refused /v1/events (403/404): the company has
	// no receivables service. Only its sent invoices are polled, every
	// NoReceivablesMax (doubling from Interval for ActiveFor after news);
	// /v1/events is asked again every NoReceivablesRecheck, by an invoice poll.
	TierNoReceivables Tier = "no_receivables"
	// TierNew: never polled (by any replica).
	TierNew Tier = "new"
)

// Tiers lists every tier, in the order the first pass after a start polls them.
var Tiers = []Tier{TierActive, TierQuiet, TierNew, TierNoReceivables}

// rank orders the first pass: what is known to be active goes first.
func (t Tier) rank() int {
	for i, x := range Tiers {
		if x == t {
			return i
		}
	}
	return len(Tiers)
}

// schedState is one company's scheduler state, kept in the reconcile bucket
// (key sched.<company>) so that what was learned survives restarts and is
// shared by replicas. Its JSON stays around 250 bytes (issue 15: <= 1 KB).
type schedState struct {
	Tier Tier `json:"tier"`
	// Next is when the company is due.
	Next time.Time `json:"next"`
	// Delay is the current delay between two polls.
	Delay time.Duration `json:"delay"`
	// Last is when its last poll started; Changed when something new was last
	// seen (or a webhook or command arrived).
	Last    time.Time `json:"last,omitzero"`
	Changed time.Time `json:"changed,omitzero"`
	// EventsAt is when /v1/events is asked again for a no-receivables company.
	EventsAt time.Time `json:"events_at,omitzero"`
	// Fails counts consecutive failed polls (the delay backs off).
	Fails int `json:"fails,omitempty"`
}

// ceiling is the longest a company of tier t should go without a poll.
func (c PollerConfig) ceiling(t Tier) time.Duration {
	switch t {
	case TierQuiet:
		return c.QuietMax
	case TierNoReceivables:
		return c.NoReceivablesMax
	}
	return c.Interval
}

// parts says which reads a poll of a company in state st makes at now. A
// no-receivables company's /v1/events re-check rides on the invoice poll due
// nearest its EventsAt: one due up to recheckWindow early does it, so the
// ±10 % spread of a day-long delay never pushes it to the next day.
func (c PollerConfig) parts(st schedState, now time.Time) pollParts {
	noRec := st.Tier == TierNoReceivables
	return pollParts{
		events:   !noRec || !now.Before(st.EventsAt.Add(-c.recheckWindow())),
		invoices: c.Invoices,
		// Message threads are a Receivables route: refused like /v1/events.
		messages: c.Messages && !noRec,
	}
}

// recheckWindow is how early a no-receivables company's invoice poll may do
// its /v1/events re-check: the spread of its longest delay (10 %, see
// spreadBy) and one interval for rounding.
func (c PollerConfig) recheckWindow() time.Duration {
	return min(c.NoReceivablesMax, c.NoReceivablesRecheck)/10 + c.Interval
}

// refused reports whether Maventa refused the company's events read because it
// has no receivables service.
func refused(err error) bool {
	return err != nil && (maventa.IsNotFound(err) || maventa.IsAuth(err))
}

// advance is the state after a poll that started at now with outcome res, and
// nudged when a webhook or command asked for it. It is the whole tier policy.
func (c PollerConfig) advance(st schedState, res CompanyPoll, parts pollParts, nudged bool, now time.Time) schedState {
	st.Last = now
	if parts.events {
		switch {
		case refused(res.EventsErr):
			st.Tier, st.EventsAt = TierNoReceivables, now.Add(c.NoReceivablesRecheck)
		case res.EventsErr == nil && st.Tier == TierNoReceivables:
			// The service was activated: start over from the base interval.
			st.Tier, st.EventsAt, st.Delay = TierQuiet, time.Time{}, 0
		}
	}
	changed := nudged || res.EventsEmitted > 0 || res.InvoicesEmitted > 0 || res.Emitted > 0
	if changed {
		st.Changed = now
	}
	failed := res.InvoicesErr != nil || res.MessagesErr != nil || (res.EventsErr != nil && !refused(res.EventsErr))
	if failed {
		st.Fails++
	} else {
		st.Fails = 0
	}
	switch {
	case st.Tier == TierNoReceivables:
		st.Delay = c.noReceivablesDelay(st.Delay, changed, st.Changed, now)
	case !st.Changed.IsZero() && now.Sub(st.Changed) < c.ActiveFor:
		st.Tier, st.Delay = TierActive, c.Interval
	default:
		st.Tier = TierQuiet
		st.Delay = c.backoff(st.Delay, false, c.QuietMax)
	}
	delay := st.Delay
	if st.Tier == TierNoReceivables {
		// The re-check rides on an invoice poll: never wait past it.
		delay = max(min(delay, st.EventsAt.Sub(now)), min(c.Interval, delay))
	}
	if st.Fails > 0 {
		// A failing company waits longer (doubling per failure up to
		// ErrorBackoffMax), or Maventa's Retry-After when it said so.
		fail := min(c.Interval<<min(st.Fails, 20), c.ErrorBackoffMax)
		if ra, ok := maventa.RetryAfter(res.Err()); ok && ra > fail {
			fail = ra
		}
		delay = max(delay, fail)
	}
	st.Next = now.Add(delay)
	return st
}

// noReceivablesDelay is the next invoice delay of a company without the
// receivables service: the interval on news, doubling while the news is less
// than ActiveFor old, and otherwise at once its ceiling. Doubling all the way
// (1, 2, 4 ... 60 min) cost about ten polls and as many token requests per
// company after every first pass, hours of the AX budget at 50 000 companies.
func (c PollerConfig) noReceivablesDelay(d time.Duration, changed bool, lastChange, now time.Time) time.Duration {
	if changed || (!lastChange.IsZero() && now.Sub(lastChange) < c.ActiveFor) {
		return c.backoff(d, changed, c.NoReceivablesMax)
	}
	return max(c.NoReceivablesMax, c.Interval)
}

// backoff doubles d from Interval up to ceiling; back to Interval on a change.
func (c PollerConfig) backoff(d time.Duration, changed bool, ceiling time.Duration) time.Duration {
	if changed || d <= 0 {
		return c.Interval
	}
	return min(2*d, max(ceiling, c.Interval))
}
