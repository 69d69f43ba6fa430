package consumers

import (
	"context"
	"errors"
	"time"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
)

// pollAssignmentEvents is the /v1/events part of a poll: read from the cursor,
// emit what is new, advance the cursor.
func (p *Poller) pollAssignmentEvents(ctx context.Context, c string, since time.Time, advance bool, res *CompanyPoll) error {
	start := p.cfg.Now()
	var cur Cursor
	rev, err := p.store.get(ctx, cursorKey("", c), &cur)
	if err != nil {
		return err
	}
	if rev == 0 {
		cur.After = start.Add(-p.cfg.LookBack)
	}
	from := cur.After.Add(-p.cfg.Overlap)
	if !since.IsZero() {
		from = since
	}
	res.Cursor = cur.After
	evs, calls, err := p.readEvents(ctx, c, from)
	res.Calls += calls
	if err != nil {
		return err
	}
	res.Events = len(evs)
	p.Stats.EventsSeen.Add(int64(len(evs)))
	emitted, calls, err := p.emitAssignmentEvents(ctx, c, evs, from)
	res.Calls += calls
	res.Emitted += emitted
	res.EventsEmitted = emitted
	if err != nil {
		return err
	}
	for _, e := range evs {
		if e.CreatedAt != nil && e.CreatedAt.After(res.Newest) {
			res.Newest = *e.CreatedAt
		}
	}
	if advance && res.Newest.After(cur.After) {
		res.Cursor = res.Newest
		// Compare-and-set: a concurrent writer (a former lease holder finishing
		// late) makes this poll's advance a no-op; the next poll re-reads.
		if err := p.store.put(ctx, cursorKey("", c), Cursor{After: res.Newest, UpdatedAt: start}, rev); err != nil && !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return nil
}

// readEvents reads every page of events created from `from` on: one request
// per page, stopping on the last (or a short) page.
func (p *Poller) readEvents(ctx context.Context, c string, from time.Time) ([]maventa.Event, int, error) {
	var all []maventa.Event
	calls := 0
	for page := 1; ; page++ {
		pg, err := p.api.ListEvents(ctx, c, maventa.EventQuery{CreatedAfter: from}, maventa.PageOptions{Page: page, PerPage: maventa.MaxPerPage})
		calls++
		if err != nil {
			return nil, calls, err
		}
		all = append(all, pg.Items...)
		if pg.NextPage == 0 || len(pg.Items) < maventa.MaxPerPage {
			return all, calls, nil
		}
	}
}

// emitAssignmentEvents groups events by assignment and emits what is new. A
// known assignment continues from its stored state. Unknown ones (their invoice
// webhook was lost, or they predate us) need a snapshot: those created inside
// the window [from, now] have their whole history among the events just read,
// so one listing of assignments changed since `from` (100 per call) gives their
// snapshots; only older ones are fetched one by one with their history.
func (p *Poller) emitAssignmentEvents(ctx context.Context, c string, evs []maventa.Event, from time.Time) (emitted, calls int, err error) {
	var order []string
	byAssignment := map[string][]maventa.Event{}
	for _, e := range evs {
		if e.AssignmentID == "" {
			p.log.Warn("assignment event without assignment_id: cannot be attributed", "company_id", c, "maventa_event_id", e.ID, "type", e.Type)
			continue
		}
		if _, ok := byAssignment[e.AssignmentID]; !ok {
			order = append(order, e.AssignmentID)
		}
		byAssignment[e.AssignmentID] = append(byAssignment[e.AssignmentID], e)
	}
	tc := events.TraceContext{}
	var unknown []string
	for _, id := range order {
		evs, err := maventa.Facts(byAssignment[id])
		if err != nil {
			return emitted, calls, err
		}
		n, _, err := applyAssignment(ctx, p.store.kv, p.emit, p.log, c, id, events.AssignmentFacts{Events: evs}, tc)
		emitted += n
		if errors.Is(err, events.ErrNeedSnapshot) {
			unknown = append(unknown, id)
			continue
		}
		if err != nil {
			return emitted, calls, err
		}
	}
	if len(unknown) == 0 {
		return emitted, calls, nil
	}
	snapshots, k, err := p.changedAssignments(ctx, c, from)
	calls += k
	if err != nil {
		return emitted, calls, err
	}
	for _, id := range unknown {
		a, ok := snapshots[id]
		if ok && a.CreatedAt != nil && !a.CreatedAt.Before(from) {
			a.Events = byAssignment[id] // its whole history was read in this window
		} else {
			if a, err = p.api.GetAssignment(ctx, c, id); err != nil {
				return emitted, calls + 1, err
			}
			calls++
		}
		n, err := p.emitNewAssignment(ctx, c, a, tc)
		emitted += n
		if err != nil {
			return emitted, calls, err
		}
	}
	return emitted, calls, nil
}

// changedAssignments lists the company's assignments changed since from, by id.
func (p *Poller) changedAssignments(ctx context.Context, c string, from time.Time) (map[string]maventa.Assignment, int, error) {
	out := map[string]maventa.Assignment{}
	calls := 0
	for page := 1; ; page++ {
		pg, err := p.api.ListAssignments(ctx, c, maventa.AssignmentQuery{UpdatedAfter: from}, maventa.PageOptions{Page: page, PerPage: maventa.MaxPerPage})
		calls++
		if err != nil {
			return nil, calls, err
		}
		for _, a := range pg.Items {
			out[a.ID] = a
		}
		if pg.NextPage == 0 || len(pg.Items) < maventa.MaxPerPage {
			return out, calls, nil
		}
	}
}

// emitNewAssignment applies an assignment seen for the first time by polling
// (opened, then its history).
func (p *Poller) emitNewAssignment(ctx context.Context, c string, a maventa.Assignment, tc events.TraceContext) (int, error) {
	da, err := a.Snapshot()
	if err != nil {
		return 0, err
	}
	n, opened, err := applyAssignment(ctx, p.store.kv, p.emit, p.log, c, a.ID, events.AssignmentFacts{Snapshot: &da}, tc)
	if opened {
		// The assignment was never announced: its invoice's DELIVERED webhook
		// (Kassavirta creates assignments on sending) did not arrive.
		p.Stats.MissedWebhooks.Add(1)
		missedWebhooks.Add(ctx, 1, companyAttr(c))
		p.log.Info("assignment found only by polling (missed webhook)", "company_id", c, "assignment_id", a.ID)
	}
	return n, err
}
