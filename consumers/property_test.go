package consumers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
)

// fact is one thing a worker learns about an aggregate.
type fact func(ctx context.Context, rs Records, em EventEmitter) error

// runFacts applies facts in the order given by perm, on `workers` goroutines
// (1: one after the other), and returns the stream.
func runFacts(t *testing.T, facts []fact, perm []int, workers int) *memStream {
	t.Helper()
	rs, em := newMemRecords(), &memStream{}
	ch := make(chan fact)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range ch {
				if err := f(context.Background(), rs, em); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for _, i := range perm {
		ch <- facts[i]
	}
	close(ch)
	wg.Wait()
	return em
}

// assertSameWhateverTheOrder checks that every permutation of facts, applied
// one at a time and on three concurrent workers, stores the same events (ids
// and contents), and that the stored set is want (event types).
func assertSameWhateverTheOrder(t *testing.T, facts []fact, want map[string]int) {
	t.Helper()
	perms := permutations(len(facts))
	ref := runFacts(t, facts, perms[0], 1)
	got := map[string]int{}
	for _, b := range ref.byID {
		var e events.Event
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		d, _ := events.LookupType(e.Type)
		got[d.Name]++
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
	first := ref.contents()
	for _, perm := range perms {
		for _, workers := range []int{1, 3} {
			s := runFacts(t, facts, perm, workers)
			if workers == 1 && s.dups > 0 {
				// One at a time, only the records decide: nothing may rely on
				// the stream's duplicate window.
				t.Fatalf("order %v: %d events published again", perm, s.dups)
			}
			if got := s.contents(); got != first {
				t.Fatalf("order %v on %d workers stored other events than order %v:\n%s\nwant\n%s", perm, workers, perms[0], got, first)
			}
		}
	}
}

func TestEveryOrderOfAnInvoicesFactsGivesTheSameEvents(t *testing.T) {
	webhook := func(action, ts string) (events.InvoiceNotice, error) {
		body := invoiceWebhook(action, invoiceID, ts)
		w, err := maventa.ParseWebhookEnvelope(body)
		if err != nil {
			return events.InvoiceNotice{}, err
		}
		ev, err := events.FromWebhook(w.Input(body), events.TraceContext{})
		at, _ := time.Parse(time.RFC3339, ts)
		return events.InvoiceNotice{Status: action, At: at, Event: ev}, err
	}
	notice := func(action, ts string, listed bool) fact {
		return func(ctx context.Context, rs Records, em EventEmitter) error {
			n, err := webhook(action, ts)
			if err != nil {
				return err
			}
			n.Listed = listed
			_, err = applyInvoice(ctx, rs, em, invoiceID, n)
			return err
		}
	}
	facts := []fact{
		notice("DELIVERED", "2026-03-02T08:00:00+02:00", false),          // D1
		notice("FAILED", "2026-03-02T10:00:00+02:00", false),             // two hours later
		notice("DELIVERED", "2026-03-02T11:00:00+02:00", false),          // D2, re-routed
		notice("DELIVERY_CONFIRMED", "2026-03-02T11:30:00+02:00", false), // confirmed
		notice("DELIVERED", "2026-03-02T08:00:00+02:00", false),          // Maventa's retry of D1
		notice("DELIVERED", "2026-03-02T11:00:00+02:00", true),           // polling lists D2's status
	}
	assertSameWhateverTheOrder(t, facts, map[string]int{"invoice.delivered": 2, "invoice.delivery_failed": 1, "invoice.delivery_confirmed": 1})
}

func TestEveryOrderOfAnAssignmentsFactsGivesTheSameEvents(t *testing.T) {
	const asg = "fa9781ba-20d1-4677-a125-f04bff7bbac0"
	ev := func(id, typ, data, party, created, happened string) maventa.Event {
		c := mustTime(t, created)
		e := maventa.Event{ID: id, Type: maventa.EventType(typ), Data: json.RawMessage(data), PartyID: party, CreatedAt: &c}
		if happened != "" {
			h := mustTime(t, happened)
			e.HappenedAt = &h
		}
		return e
	}
	facts := func(evs ...maventa.Event) []events.AssignmentFact {
		t.Helper()
		fs, err := maventa.Facts(evs)
		if err != nil {
			t.Fatal(err)
		}
		return fs
	}
	e0 := ev("e0", "delivery_status", `{"status":"DELIVERED"}`, "maventa", "2026-03-01T08:00:00Z", "")
	e1 := ev("e1", "reminder_sent", `{}`, "amili", "2026-03-20T06:00:00Z", "")
	e2 := ev("e2", "collection_started", `{}`, "amili", "2026-04-05T06:00:00Z", "")
	e3 := ev("e3", "paid", `{"sum_paid":"100.00","booked_at":"2026-04-10"}`, company, "2026-04-10T09:00:00Z", "2026-04-10T00:00:00Z")
	e4 := ev("e4", "close", `{}`, "amili", "2026-04-10T09:00:01Z", "")
	// Written late: it happened before the collection started.
	e5 := ev("e5", "second_reminder_sent", `{}`, "amili", "2026-04-12T06:00:00Z", "2026-03-30T00:00:00Z")
	created, updated := mustTime(t, "2026-03-01T08:00:00Z"), mustTime(t, "2026-04-05T06:00:00Z")
	snapshot, err := maventa.Assignment{ID: asg, Status: "open", CollectionStatus: "debt_collection", Debtor: maventa.Debtor{Name: "Asiakas Oy"},
		DueDate: "2026-03-15", IssuedAt: "2026-03-01", Number: "1003", Sum: events.MustDecimal("100.00"), Paid: events.MustDecimal("0"),
		Currency: "EUR", CreatedAt: &created, UpdatedAt: &updated,
		ReferenceIDs: []maventa.ReferenceID{{Type: "invoice_id", Value: invoiceID}, {Type: "agency_id", Value: "agency-ref"}},
		Events:       []maventa.Event{e0, e1, e2}}.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	read := func(ctx context.Context, rs Records, em EventEmitter) error { // the webhook path (or polling an unknown assignment)
		s := snapshot
		_, _, err := applyAssignment(ctx, rs, em, nil, company, asg, events.AssignmentFacts{Snapshot: &s}, events.TraceContext{})
		return err
	}
	page := func(mevs ...maventa.Event) fact { // a page of GET /v1/events
		evs := facts(mevs...)
		return func(ctx context.Context, rs Records, em EventEmitter) error {
			_, _, err := applyAssignment(ctx, rs, em, nil, company, asg, events.AssignmentFacts{Events: evs}, events.TraceContext{})
			if errors.Is(err, events.ErrNeedSnapshot) {
				if err := read(ctx, rs, em); err != nil {
					return err
				}
				_, _, err = applyAssignment(ctx, rs, em, nil, company, asg, events.AssignmentFacts{Events: evs}, events.TraceContext{})
			}
			return err
		}
	}
	all := []fact{read, page(e1, e2), page(e3), page(e4, e3), page(e5), read}
	assertSameWhateverTheOrder(t, all, map[string]int{
		"assignment.opened": 1, "assignment.delivery_status": 1, "assignment.reminder_sent": 1, "assignment.collection_started": 1,
		"assignment.paid": 1, "assignment.close": 1, "assignment.second_reminder_sent": 1,
		"assignment.collection_status_changed": 2, "assignment.status_changed": 1})
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
