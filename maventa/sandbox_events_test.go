package maventa_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

// TestSandboxCompanyEvents adds every event type a company may create and checks
// the sandbox's (Visma Amili's) resulting assignment state through GetAssignment.
func TestSandboxCompanyEvents(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	today := e.clock.Now().Format(time.DateOnly)
	newAssignment := func(number, sum string) string {
		return e.invoice(t, sbCompany, number, sum, "Debtor Oy", "1111111-1").AssignmentID
	}
	add := func(id string, ev maventa.NewEvent) maventa.Event {
		t.Helper()
		out, err := e.c.AddEvent(ctx, sbCompany, id, ev)
		if err != nil {
			t.Fatalf("%s: %v", ev.Type, err)
		}
		if out.ID == "" || out.Type != ev.Type || out.AssignmentID != id || out.PartyID != sbCompany || out.CreatedAt == nil {
			t.Errorf("%s echoed as %+v", ev.Type, out)
		}
		return out
	}
	get := func(id string) maventa.Assignment {
		t.Helper()
		a, err := e.c.GetAssignment(ctx, sbCompany, id)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	closedByAgency := func(name string, a maventa.Assignment) {
		t.Helper()
		cl := eventsOf(a, maventa.EventClose)
		if a.Status != "closed" || a.ClosedAt == nil || len(cl) != 1 || cl[0].PartyID == sbCompany {
			t.Errorf("%s: status %q closed_at %v close events %+v", name, a.Status, a.ClosedAt, cl)
		}
	}

	t.Run("paid in full closes", func(t *testing.T) {
		id := newAssignment("P1", "200.50")
		ev := add(id, maventa.NewPaidEvent(maventa.PaidData{SumPaid: events.MustDecimal("200.5"), BookedAt: today, ArchiveNumber: "12345"}))
		d := valuesOf(t, ev)
		if d.Amount == nil || d.Amount.Cmp(events.MustDecimal("200.5")) != 0 || dateOf(d.BookedOn) != today || d.ArchiveNumber != "12345" {
			t.Errorf("paid data = %+v", d)
		}
		a := get(id)
		if a.Paid.Cmp(a.Sum) != 0 || a.Sum.String() != "200.50" {
			t.Errorf("paid %s of %s", a.Paid, a.Sum)
		}
		closedByAgency("paid", a)
		// Closed: a further payment is refused (422, permanent), a comment is not.
		_, err := e.c.AddEvent(ctx, sbCompany, id, maventa.NewPaidEvent(maventa.PaidData{SumPaid: events.MustDecimal("1")}))
		var ae *maventa.APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusUnprocessableEntity || !maventa.IsPermanent(err) {
			t.Errorf("paid on closed assignment: %v", err)
		}
		add(id, maventa.NewCommentEvent("thanks"))
	})

	t.Run("partial payment keeps open", func(t *testing.T) {
		id := newAssignment("P2", "100.00")
		add(id, maventa.NewPaidEvent(maventa.PaidData{SumPaid: events.MustDecimal("40.10")}))
		a := get(id)
		if a.Status != "open" || a.Paid.Cmp(events.MustDecimal("40.10")) != 0 || len(eventsOf(a, maventa.EventClose)) != 0 {
			t.Errorf("after partial payment: status %q paid %s", a.Status, a.Paid)
		}
	})

	t.Run("negative paid marks a credit note used", func(t *testing.T) {
		res, err := e.sb.SendInvoice(sbCompany, sandbox.InvoiceSpec{
			Number: "CN1", Sum: sandbox.Amt("-25.00"), RecipientName: "Debtor Oy", RecipientBID: "1111111-1",
			Street: "Katu 1", PostalCode: "00100", City: "Helsinki",
			DueDate: e.clock.Now().AddDate(0, 0, 30).Format(time.DateOnly),
		})
		if err != nil || res.AssignmentID == "" {
			t.Fatalf("credit note invoice: %+v, %v", res, err)
		}
		ev := add(res.AssignmentID, maventa.NewPaidEvent(maventa.PaidData{SumPaid: events.MustDecimal("-25.00"), BookedAt: today}))
		if d := valuesOf(t, ev); amountOf(d.Amount) != "-25.00" {
			t.Errorf("negative paid data = %+v", d)
		}
		a := get(res.AssignmentID)
		if a.Paid.Cmp(events.MustDecimal("-25")) != 0 {
			t.Errorf("credit note paid = %s", a.Paid)
		}
		closedByAgency("negative paid", a)
	})

	t.Run("credit note", func(t *testing.T) {
		full := newAssignment("C1", "80.00")
		ev := add(full, maventa.NewCreditNoteEvent(maventa.CreditNoteData{Number: "CN-80", Sum: events.MustDecimal("80.00")}))
		if d := valuesOf(t, ev); d.CreditNoteNumber != "CN-80" || amountOf(d.Amount) != "80.00" {
			t.Errorf("credit note data = %+v", d)
		}
		a := get(full)
		if a.Paid.Cmp(events.MustDecimal("80")) != 0 || a.Sum.String() != "80.00" {
			t.Errorf("credited: paid %s sum %s", a.Paid, a.Sum)
		}
		closedByAgency("credit note", a)

		part := newAssignment("C2", "80.00")
		add(part, maventa.NewCreditNoteEvent(maventa.CreditNoteData{Number: "CN-30", Sum: events.MustDecimal("30")}))
		if a := get(part); a.Status != "open" || a.Paid.Cmp(events.MustDecimal("30")) != 0 {
			t.Errorf("partly credited: status %q paid %s", a.Status, a.Paid)
		}
	})

	t.Run("due date change accepted", func(t *testing.T) {
		id := newAssignment("D1", "10.00")
		want := e.clock.Now().AddDate(0, 0, 60).Format(time.DateOnly)
		ev := add(id, maventa.NewDueDateChangeRequestEvent(want))
		if d := valuesOf(t, ev); dateOf(d.DueDate) != want {
			t.Errorf("request data = %+v", d)
		}
		a := get(id)
		changed := eventsOf(a, maventa.EventDueDateChanged)
		if a.DueDate != want || len(changed) != 1 || changed[0].PartyID == sbCompany {
			t.Fatalf("due date %q, due_date_changed %+v", a.DueDate, changed)
		}
		if d := valuesOf(t, changed[0]); dateOf(d.DueDate) != want {
			t.Errorf("due_date_changed data = %+v", d)
		}
	})

	t.Run("due date change rejected", func(t *testing.T) {
		id := newAssignment("D2", "10.00")
		if _, err := e.sb.AddAgencyEvent(id, "collection_started", nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
		before := get(id).DueDate
		add(id, maventa.NewDueDateChangeRequestEvent(e.clock.Now().AddDate(0, 0, 60).Format(time.DateOnly)))
		a := get(id)
		comments := eventsOf(a, maventa.EventComment)
		if a.DueDate != before || len(eventsOf(a, maventa.EventDueDateChanged)) != 0 || len(comments) != 1 || comments[0].PartyID == sbCompany {
			t.Fatalf("rejected change: due %q (was %q), comments %+v", a.DueDate, before, comments)
		}
		if d := valuesOf(t, comments[0]); d.Text == "" {
			t.Errorf("rejection comment = %+v", d)
		}
		if a.CollectionStatus != "debt_collection" {
			t.Errorf("collection_status = %q", a.CollectionStatus)
		}
	})

	t.Run("cancel closes", func(t *testing.T) {
		id := newAssignment("X1", "10.00")
		add(id, maventa.NewCancelEvent())
		a := get(id)
		if a.Paid.Sign() != 0 {
			t.Errorf("cancel paid = %s", a.Paid)
		}
		closedByAgency("cancel", a)
	})

	t.Run("freeze confirmed", func(t *testing.T) {
		id := newAssignment("F1", "10.00")
		end := e.clock.Now().AddDate(0, 1, 0).Format(time.DateOnly)
		frozen := true
		ev := add(id, maventa.NewEvent{Type: maventa.EventFreeze, Data: maventa.FreezeData{Frozen: &frozen, EndDate: end}})
		if d := valuesOf(t, ev); !d.Frozen || dateOf(d.EndDate) != end {
			t.Errorf("freeze data = %+v", d)
		}
		a := get(id)
		conf := eventsOf(a, maventa.EventFreezeConfirmed)
		if len(conf) != 1 || a.Status != "open" {
			t.Fatalf("freeze_confirmed = %+v, status %q", conf, a.Status)
		}
		if d := valuesOf(t, conf[0]); dateOf(d.EndDate) != end || dateOf(d.HappenedOn) != today {
			t.Errorf("freeze_confirmed data = %+v", d)
		}
	})

	t.Run("comment", func(t *testing.T) {
		id := newAssignment("K1", "10.00")
		ev := add(id, maventa.NewCommentEvent("Asiakas lupasi maksaa perjantaina"))
		if d := valuesOf(t, ev); d.Text != "Asiakas lupasi maksaa perjantaina" {
			t.Errorf("comment data = %+v", d)
		}
		if a := get(id); a.Status != "open" || len(eventsOf(a, maventa.EventComment)) != 1 {
			t.Errorf("after comment: %+v", a)
		}
	})

	t.Run("credit loss", func(t *testing.T) {
		id := newAssignment("L1", "10.00")
		if _, err := e.sb.AddAgencyEvent(id, "credit_loss_suggestion", nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
		add(id, maventa.NewCreditLossEvent())
		a := get(id)
		// credit_loss changes neither the collection status nor the monitoring.
		if a.Status != "open" || a.CollectionStatus != "debt_surveillance" || len(eventsOf(a, maventa.EventCreditLoss)) != 1 {
			t.Errorf("after credit loss: status %q collection %q", a.Status, a.CollectionStatus)
		}
	})

	t.Run("agency types are refused before any request", func(t *testing.T) {
		id := newAssignment("R1", "10.00")
		e.rt.reset()
		for _, typ := range []maventa.EventType{maventa.EventClose, maventa.EventReminderSent, maventa.EventDeliveryStatus, "no_such_type"} {
			var ve *maventa.ValidationError
			if _, err := e.c.AddEvent(ctx, sbCompany, id, maventa.NewEvent{Type: typ}); !errors.As(err, &ve) {
				t.Errorf("%s: %v", typ, err)
			}
		}
		if n := e.rt.count("POST /v1/assignments/" + id + "/events"); n != 0 {
			t.Errorf("%d requests sent", n)
		}
	})
}

// TestSandboxAgencyEventsDecode checks that the client decodes the data of the
// events Visma Amili and Maventa create, as the sandbox writes them.
func TestSandboxAgencyEventsDecode(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res := e.invoice(t, sbCompany, "G1", "100.00", "Debtor Oy", "1111111-1")
	id := res.AssignmentID
	for _, ev := range []struct {
		typ  string
		data map[string]any
	}{
		{"reminder_sent", nil},
		{"interest_paid", map[string]any{"sum": sandbox.Amt("1.37")}},
		{"paid", map[string]any{"sum_paid": sandbox.Amt("97.00"), "booked_at": "2026-01-02"}},
		{"cash_discount", map[string]any{"sum": sandbox.Amt("3.00")}},
	} {
		if _, err := e.sb.AddAgencyEvent(id, ev.typ, ev.data, time.Time{}); err != nil {
			t.Fatalf("%s: %v", ev.typ, err)
		}
	}
	if err := e.sb.FailDelivery(res.InvoiceID, "Recipient not found"); err != nil {
		t.Fatal(err)
	}
	a, err := e.c.GetAssignment(ctx, sbCompany, id)
	if err != nil {
		t.Fatal(err)
	}
	if a.CollectionStatus != "reminder_sent" || a.Paid.Cmp(events.MustDecimal("97")) != 0 {
		t.Errorf("collection %q paid %s", a.CollectionStatus, a.Paid)
	}
	// Paid plus cash discount covers the sum: Visma Amili closes it.
	closed := eventsOf(a, maventa.EventClose)
	if a.Status != "closed" || len(closed) != 1 {
		t.Errorf("status %q, close events %d", a.Status, len(closed))
	}
	// reference_ids' agency_id is not the agency's party_id (seed 003's example
	// shows two different ids): agency events carry the agency's party id.
	agency := sandbox.AgencyPartyID
	if ref, ok := a.AgencyID(); !ok || ref == "" {
		t.Errorf("agency_id reference = %q", ref)
	}
	for _, typ := range []maventa.EventType{maventa.EventInterestPaid, maventa.EventCashDiscount} {
		evs := eventsOf(a, typ)
		if len(evs) != 1 || evs[0].PartyID != agency {
			t.Fatalf("%s events = %+v (agency %s)", typ, evs, agency)
		}
		d := valuesOf(t, evs[0])
		want := map[maventa.EventType]string{maventa.EventInterestPaid: "1.37", maventa.EventCashDiscount: "3.00"}[typ]
		if d.Amount == nil || d.Amount.Cmp(events.MustDecimal(want)) != 0 {
			t.Errorf("%s data = %+v", typ, d)
		}
	}
	var statuses []string
	for _, ev := range eventsOf(a, maventa.EventDeliveryStatus) {
		statuses = append(statuses, valuesOf(t, ev).DeliveryStatus)
		if ev.PartyID == sbCompany || ev.PartyID == agency {
			t.Errorf("delivery_status party_id = %q, want Maventa's", ev.PartyID)
		}
	}
	// Newest first: the failure, then the original delivery.
	if len(statuses) < 2 || statuses[0] != "FAILED" || statuses[len(statuses)-1] != "DELIVERED" {
		t.Errorf("delivery statuses = %v", statuses)
	}
}
