package maventa_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
)

// eventsOf returns the assignment's events of type typ.
func eventsOf(a maventa.Assignment, typ maventa.EventType) []maventa.Event {
	var out []maventa.Event
	for _, e := range a.Events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func TestSandboxAssignmentPagesAndFilters(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	t0 := e.clock.Now()
	first := e.invoice(t, sbCompany, "A1", "10.00", "Debtor Oy", "1111111-1")
	e.invoice(t, sbCompany, "A2", "20.00", "Other Debtor Ab", "2222222-2")
	t1 := e.clock.Advance(10 * time.Minute)
	e.invoice(t, sbCompany, "A3", "30.00", "Debtor Oy", "1111111-1")
	e.invoice(t, sbCompany, "A4", "40.00", "Other Debtor Ab", "2222222-2")
	last := e.invoice(t, sbCompany, "A5", "50.00", "Debtor Oy", "1111111-1")
	e.invoice(t, sbOther, "B1", "1.00", "Debtor Oy", "1111111-1") // never listed for sbCompany
	t2 := e.clock.Advance(10 * time.Minute)
	// A1 is paid in full: closed at t2.
	if _, err := e.c.AddEvent(ctx, sbCompany, first.AssignmentID, maventa.NewPaidEvent(maventa.PaidData{SumPaid: events.MustDecimal("10.00")})); err != nil {
		t.Fatal(err)
	}

	// Pagination: per_page 2 over 5 assignments is 3 pages, one request each.
	e.rt.reset()
	var numbers []string
	p := maventa.PageOptions{Page: 1, PerPage: 2}
	pages := 0
	for {
		pg, err := e.c.ListAssignments(ctx, sbCompany, maventa.AssignmentQuery{}, p)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if pg.Total != 5 || pg.TotalPages != 3 || pg.Page != p.Page || pg.PerPage != 2 {
			t.Errorf("page %d headers = %+v", p.Page, pg)
		}
		for _, a := range pg.Items {
			numbers = append(numbers, a.Number)
		}
		if pg.NextPage == 0 {
			break
		}
		p.Page = pg.NextPage
	}
	if got := e.rt.count("GET /v1/assignments"); pages != 3 || got != pages {
		t.Errorf("pages = %d, requests = %d, want 3 and 3", pages, got)
	}
	if want := []string{"A5", "A4", "A3", "A2", "A1"}; !slices.Equal(numbers, want) {
		t.Errorf("numbers = %v, want newest first %v", numbers, want)
	}

	// The iterator fetches the same pages.
	e.rt.reset()
	var ids []string
	for a, err := range e.c.Assignments(ctx, sbCompany, maventa.AssignmentQuery{}, 2) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	if len(ids) != 5 || ids[0] != last.AssignmentID || ids[4] != first.AssignmentID {
		t.Errorf("iterated %v", ids)
	}
	if got := e.rt.count("GET /v1/assignments"); got != 3 {
		t.Errorf("iterator requests = %d, want 3", got)
	}
	// An exact multiple of per_page ends on the empty X-Next-Page, not one more request.
	e.rt.reset()
	n := 0
	for _, err := range e.c.Assignments(ctx, sbCompany, maventa.AssignmentQuery{Status: "open"}, 2) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if got := e.rt.count("GET /v1/assignments"); n != 4 || got != 2 {
		t.Errorf("open assignments = %d in %d requests, want 4 in 2", n, got)
	}

	// Every filter of AssignmentQuery reaches the sandbox under the same name.
	filters := []struct {
		name string
		q    maventa.AssignmentQuery
		want []string
	}{
		{"status closed", maventa.AssignmentQuery{Status: "closed"}, []string{"A1"}},
		{"status open", maventa.AssignmentQuery{Status: "open"}, []string{"A5", "A4", "A3", "A2"}},
		{"debtor name", maventa.AssignmentQuery{DebtorName: "Other Debtor"}, []string{"A4", "A2"}},
		{"created after", maventa.AssignmentQuery{CreatedAfter: t1}, []string{"A5", "A4", "A3"}},
		{"created before", maventa.AssignmentQuery{CreatedBefore: t0.Add(time.Minute)}, []string{"A2", "A1"}},
		{"updated after", maventa.AssignmentQuery{UpdatedAfter: t2}, []string{"A1"}},
		{"updated before", maventa.AssignmentQuery{UpdatedBefore: t1.Add(time.Minute)}, []string{"A5", "A4", "A3", "A2"}},
		{"closed after", maventa.AssignmentQuery{ClosedAfter: t1}, []string{"A1"}},
		{"closed before", maventa.AssignmentQuery{ClosedBefore: t1}, nil},
		{"combined", maventa.AssignmentQuery{Status: "open", DebtorName: "debtor oy", CreatedAfter: t1}, []string{"A5", "A3"}},
	}
	for _, f := range filters {
		pg, err := e.c.ListAssignments(ctx, sbCompany, f.q, maventa.PageOptions{PerPage: 100})
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		var got []string
		for _, a := range pg.Items {
			got = append(got, a.Number)
		}
		if !slices.Equal(got, f.want) || pg.Total != len(f.want) {
			t.Errorf("%s: got %v (total %d), want %v", f.name, got, pg.Total, f.want)
		}
	}

	// A page past the end is empty and last.
	pg, err := e.c.ListAssignments(ctx, sbCompany, maventa.AssignmentQuery{}, maventa.PageOptions{Page: 9, PerPage: 2})
	if err != nil || len(pg.Items) != 0 || pg.NextPage != 0 {
		t.Errorf("page past the end = %+v, %v", pg, err)
	}
}

func TestSandboxGetAssignmentAndOverview(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res := e.invoice(t, sbCompany, "1001", "12.30", "Debtor Oy", "1111111-1")
	e.invoice(t, sbCompany, "1002", "7.70", "Debtor Oy", "1111111-1")

	a, err := e.c.GetAssignment(ctx, sbCompany, res.AssignmentID)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != res.AssignmentID || a.Status != "open" || a.CollectionStatus != "unknown" || a.ServiceLevel != "default" ||
		a.Number != "1001" || a.Sum.String() != "12.30" || a.Paid.Sign() != 0 || a.Currency != "EUR" ||
		a.Debtor.Name != "Debtor Oy" || a.Debtor.BID != "1111111-1" || a.IssuedAt == "" ||
		a.DueDate != e.clock.Now().AddDate(0, 0, 30).Format(time.DateOnly) {
		t.Errorf("assignment = %+v", a)
	}
	if a.CreatedAt == nil || !a.CreatedAt.Equal(e.clock.Now()) || a.UpdatedAt == nil || a.ClosedAt != nil || a.PartiallyClosedAt != nil {
		t.Errorf("times = %v %v %v %v", a.CreatedAt, a.UpdatedAt, a.ClosedAt, a.PartiallyClosedAt)
	}
	if inv, ok := a.InvoiceID(); !ok || inv != res.InvoiceID {
		t.Errorf("InvoiceID = %q %v", inv, ok)
	}
	if id, ok := a.AgencyID(); !ok || id == "" {
		t.Errorf("AgencyID = %q %v", id, ok)
	}
	if ref, ok := a.ReferenceNumber(); !ok || ref == "" {
		t.Errorf("ReferenceNumber = %q %v", ref, ok)
	}
	if len(eventsOf(a, maventa.EventDeliveryStatus)) == 0 {
		t.Errorf("no delivery_status event among %+v", a.Events)
	}

	o, err := e.c.AssignmentsOverview(ctx, sbCompany)
	if err != nil {
		t.Fatal(err)
	}
	var open int
	var openSum json.Number
	if err := json.Unmarshal(o["open"], &open); err != nil || open != 2 {
		t.Errorf("overview open = %s (%v)", o["open"], err)
	}
	if err := json.Unmarshal(o["open_sum"], &openSum); err != nil || events.MustDecimal(openSum.String()).Cmp(events.MustDecimal("20")) != 0 {
		t.Errorf("overview open_sum = %s (%v)", o["open_sum"], err)
	}

	// Another company's assignment is forbidden (typed, permanent); a missing one is 404.
	_, err = e.c.GetAssignment(ctx, sbOther, res.AssignmentID)
	var ae *maventa.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusForbidden || !maventa.IsAuth(err) || !maventa.IsPermanent(err) {
		t.Errorf("other company's assignment err = %v", err)
	}
	if _, err := e.c.GetAssignment(ctx, sbCompany, "00000000-0000-0000-0000-000000000000"); !maventa.IsNotFound(err) {
		t.Errorf("missing assignment err = %v", err)
	}
}

func TestSandboxEventsListsAndTimeFilters(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res := e.invoice(t, sbCompany, "E1", "100.00", "Debtor Oy", "1111111-1")
	t0 := e.clock.Now()
	reminder, err := e.sb.AddAgencyEvent(res.AssignmentID, "reminder_sent", nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	t1 := e.clock.Advance(time.Hour)
	comment, err := e.c.AddEvent(ctx, sbCompany, res.AssignmentID, maventa.NewCommentEvent("Customer says paid"))
	if err != nil {
		t.Fatal(err)
	}
	other := e.invoice(t, sbOther, "X1", "1.00", "Debtor Oy", "1111111-1")
	if _, err := e.sb.AddAgencyEvent(other.AssignmentID, "reminder_sent", nil, t1); err != nil {
		t.Fatal(err)
	}

	collect := func(q maventa.EventQuery, perPage int) []maventa.Event {
		t.Helper()
		var out []maventa.Event
		for ev, err := range e.c.Events(ctx, sbCompany, q, perPage) {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, ev)
		}
		return out
	}
	all := collect(maventa.EventQuery{}, 0)
	for _, ev := range all {
		if ev.AssignmentID != res.AssignmentID {
			t.Errorf("event of another assignment listed: %+v", ev)
		}
	}
	if len(all) < 3 || all[0].ID != comment.ID {
		t.Fatalf("events = %+v, want newest (the comment) first", all)
	}

	// Time filters: created_at_start / created_at_end.
	after := collect(maventa.EventQuery{CreatedAfter: t1}, 0)
	if len(after) != 1 || after[0].ID != comment.ID {
		t.Errorf("created after t1 = %+v", after)
	}
	before := collect(maventa.EventQuery{CreatedBefore: t1.Add(-time.Second)}, 0)
	if len(before) != len(all)-1 || slices.ContainsFunc(before, func(ev maventa.Event) bool { return ev.ID == comment.ID }) {
		t.Errorf("created before t1 = %d events", len(before))
	}
	window := collect(maventa.EventQuery{CreatedAfter: t0, CreatedBefore: t0, Type: maventa.EventReminderSent}, 0)
	if len(window) != 1 || window[0].ID != reminder.ID || window[0].CreatedAt == nil || !window[0].CreatedAt.Equal(t0) {
		t.Errorf("reminder window = %+v", window)
	}

	// One page at a time, one request per page.
	e.rt.reset()
	paged := collect(maventa.EventQuery{}, 1)
	if len(paged) != len(all) || e.rt.count("GET /v1/events") != len(all) {
		t.Errorf("per_page 1: %d events in %d requests, want %d", len(paged), e.rt.count("GET /v1/events"), len(all))
	}
	pg, err := e.c.ListEvents(ctx, sbCompany, maventa.EventQuery{Type: maventa.EventComment}, maventa.PageOptions{PerPage: 1})
	if err != nil || len(pg.Items) != 1 || pg.Total != 1 || pg.NextPage != 0 || pg.Items[0].ID != comment.ID {
		t.Errorf("ListEvents comment = %+v, %v", pg, err)
	}
	if d := valuesOf(t, pg.Items[0]); d.Text != "Customer says paid" {
		t.Errorf("comment data = %+v", d)
	}
	if pg.Items[0].PartyID != sbCompany {
		t.Errorf("company event party_id = %q", pg.Items[0].PartyID)
	}

	// The events of one assignment, and marking one seen.
	evs, err := e.c.ListAssignmentEvents(ctx, sbCompany, res.AssignmentID)
	if err != nil || len(evs) != len(all) || evs[0].ID != comment.ID {
		t.Fatalf("assignment events = %+v, %v", evs, err)
	}
	if err := e.c.MarkEventSeen(ctx, sbCompany, res.AssignmentID, reminder.ID); err != nil {
		t.Fatal(err)
	}
	a, err := e.c.GetAssignment(ctx, sbCompany, res.AssignmentID)
	if err != nil {
		t.Fatal(err)
	}
	rs := eventsOf(a, maventa.EventReminderSent)
	if len(rs) != 1 || len(rs[0].Seens) != 1 || rs[0].Seens[0].SeenBy != "Acme Oy" || rs[0].Seens[0].SeenAt == nil {
		t.Errorf("seen reminder = %+v", rs)
	}
	if a.CollectionStatus != "reminder_sent" {
		t.Errorf("collection_status = %q", a.CollectionStatus)
	}
	if err := e.c.MarkEventSeen(ctx, sbCompany, res.AssignmentID, "00000000-0000-0000-0000-000000000000"); !maventa.IsNotFound(err) {
		t.Errorf("seen of a missing event: %v", err)
	}
}

func TestSandboxAssignmentsForInvoice(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	want := e.invoice(t, sbCompany, "V1", "10.00", "Debtor Oy", "1111111-1")
	e.invoice(t, sbCompany, "V2", "20.00", "Debtor Oy", "1111111-1")

	pg, err := e.c.ListAssignments(ctx, sbCompany, maventa.AssignmentQuery{InvoiceID: want.InvoiceID}, maventa.PageOptions{})
	if err != nil || len(pg.Items) != 1 || pg.Items[0].ID != want.AssignmentID {
		t.Fatalf("invoice_id filter = %+v, %v", pg, err)
	}
	e.rt.reset()
	got, err := e.c.AssignmentsForInvoice(ctx, sbCompany, want.InvoiceID)
	if err != nil || len(got) != 1 || got[0].ID != want.AssignmentID || len(got[0].Events) == 0 {
		t.Fatalf("AssignmentsForInvoice = %+v, %v", got, err)
	}
	if n := e.rt.count("GET /v1/assignments") + e.rt.count("GET /v1/assignments/"+want.AssignmentID); n != 2 {
		t.Errorf("AssignmentsForInvoice took %d requests, want 2", n)
	}
	if got, err := e.c.AssignmentsForInvoice(ctx, sbCompany, "00000000-0000-0000-0000-000000000000"); err != nil || len(got) != 0 {
		t.Errorf("unknown invoice = %+v, %v", got, err)
	}
}
