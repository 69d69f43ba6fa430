package consumers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
)

// maxApplied bounds the applied-event ids kept per assignment (Maventa
// assignments have tens of events, not thousands).
const maxApplied = 1000

// assignmentState is what polling needs to turn an assignment's new events into
// domain events without fetching its history again: what the events refer to,
// the status machine's state, and which events were already applied (the
// overlap window re-reads events, and applying one twice could let a repeated
// delivery_status through).
type assignmentState struct {
	Ref     events.AssignmentRef   `json:"ref"`
	State   events.AssignmentState `json:"state"`
	Applied []string               `json:"applied"`
}

func assignmentKey(id string) string { return "asg." + kvKey(id) }

// replayAssignment is everything an assignment yields from its whole history,
// with the state after it.
func replayAssignment(companyID string, a maventa.Assignment, tc events.TraceContext) ([]events.Event, assignmentState, error) {
	da, err := domainAssignment(a)
	if err != nil {
		return nil, assignmentState{}, err
	}
	opened, err := events.NewAssignmentOpened(companyID, da, tc)
	if err != nil {
		return nil, assignmentState{}, err
	}
	st := assignmentState{Ref: da.Ref(companyID)}
	out := []events.Event{opened}
	for _, ev := range da.Events {
		evs, err := events.ApplyAssignmentEvent(&st.State, st.Ref, ev, tc)
		if err != nil {
			return nil, assignmentState{}, err
		}
		out = append(out, evs...)
		st.Applied = append(st.Applied, ev.ID)
	}
	return out, st, nil
}

// AssignmentEvents is everything an assignment has produced so far, in Maventa's
// order: assignment opened, then each assignment event (sorted by happened_at,
// then created_at) with the status and collection-status changes it causes. The
// events are replayed from the start every time, so the result and every id
// depend only on the assignment: a second look yields the same events, which the
// emitter skips.
func AssignmentEvents(companyID string, a maventa.Assignment, tc events.TraceContext) ([]events.Event, error) {
	evs, _, err := replayAssignment(companyID, a, tc)
	return evs, err
}

// saveAssignment stores the state after a full replay, unless a newer one is
// already there (it then already knows at least as much).
func (s *ReconcileStore) saveAssignment(ctx context.Context, id string, st assignmentState) error {
	var cur assignmentState
	rev, err := s.get(ctx, assignmentKey(id), &cur)
	if err != nil {
		return err
	}
	if rev != 0 && len(cur.Applied) >= len(st.Applied) {
		return nil
	}
	if err := s.put(ctx, assignmentKey(id), st, rev); err != nil && !errors.Is(err, errConflict) {
		return err
	}
	return nil
}

// applyNewEvents emits the domain events of assignment events not applied yet to
// a known assignment, in Maventa's order, and stores the new state. found is
// false when the assignment is not known (its history must be fetched).
func (s *ReconcileStore) applyNewEvents(ctx context.Context, em EventEmitter, id string, evs []maventa.Event, tc events.TraceContext) (found bool, emitted int, err error) {
	for attempt := 0; attempt < 5; attempt++ {
		var st assignmentState
		rev, err := s.get(ctx, assignmentKey(id), &st)
		if err != nil || rev == 0 {
			return false, emitted, err
		}
		var fresh []events.AssignmentEvent
		for _, e := range evs {
			if slices.Contains(st.Applied, e.ID) {
				continue
			}
			de, err := domainAssignmentEvent(e)
			if err != nil {
				return true, emitted, err
			}
			fresh = append(fresh, de)
		}
		if len(fresh) == 0 {
			return true, emitted, nil
		}
		events.SortAssignmentEvents(fresh)
		st.Ref.AgencyPartyIDs = mergeIDs(st.Ref.AgencyPartyIDs, events.AgencyPartyIDs(fresh))
		var out []events.Event
		for _, ev := range fresh {
			des, err := events.ApplyAssignmentEvent(&st.State, st.Ref, ev, tc)
			if err != nil {
				return true, emitted, err
			}
			out = append(out, des...)
			st.Applied = append(st.Applied, ev.ID)
		}
		if len(st.Applied) > maxApplied {
			st.Applied = st.Applied[len(st.Applied)-maxApplied:]
		}
		n, err := em.Emit(ctx, out)
		emitted += n
		if err != nil {
			return true, emitted, err
		}
		// Emitting first, then saving: dying in between re-applies the same
		// events next time, to the same ids, which the markers skip.
		err = s.put(ctx, assignmentKey(id), st, rev)
		if errors.Is(err, errConflict) {
			continue // another path applied something meanwhile: apply what is left to its state
		}
		return true, emitted, err
	}
	return true, emitted, fmt.Errorf("assignment %s: state kept changing concurrently", id)
}

func mergeIDs(a, b []string) []string {
	for _, id := range b {
		if !slices.Contains(a, id) {
			a = append(a, id)
		}
	}
	return a
}

// invoiceState is the last delivery status emitted for an invoice, and how
// often it entered each status: the n-th DELIVERED of an invoice (a re-route
// after a failure is a second one) has the same id whichever path saw it.
type invoiceState struct {
	Status string         `json:"status"`
	Counts map[string]int `json:"counts"`
}

// Invoice delivery statuses tracked across paths.
const (
	invoiceDelivered = "DELIVERED"
	invoiceFailed    = "FAILED"
)

// recordInvoiceStatus emits ev (an invoice.delivered or invoice.delivery_failed
// event) when status is a change for the invoice, keyed by (invoice, status,
// how many times it entered status before), and remembers it. A repeat (a
// Maventa retry, or polling seeing what a webhook already said) emits nothing.
func (s *ReconcileStore) recordInvoiceStatus(ctx context.Context, em EventEmitter, invoiceID, status string, ev events.Event) (emitted int, err error) {
	key := "inv." + kvKey(invoiceID)
	for attempt := 0; attempt < 5; attempt++ {
		var st invoiceState
		rev, err := s.get(ctx, key, &st)
		if err != nil {
			return emitted, err
		}
		if st.Status == status {
			return emitted, nil
		}
		if st.Counts == nil {
			st.Counts = map[string]int{}
		}
		n := st.Counts[status]
		k, err := em.Emit(ctx, []events.Event{ev.Rekeyed(invoiceID, status, strconv.Itoa(n))})
		emitted += k
		if err != nil {
			return emitted, err
		}
		st.Status, st.Counts[status] = status, n+1
		err = s.put(ctx, key, st, rev)
		if errors.Is(err, errConflict) {
			continue
		}
		return emitted, err
	}
	return emitted, fmt.Errorf("invoice %s: state kept changing concurrently", invoiceID)
}
