package events

import (
	"fmt"
	"testing"
	"time"
)

func TestCollectionStatusAfter(t *testing.T) {
	cases := []struct {
		name, event, current, next string
		changed                    bool
	}{
		{"first reminder sets reminder_sent", "reminder_sent", "unknown", "reminder_sent", true},
		{"second reminder on a new assignment sets reminder_sent", "second_reminder_sent", "unknown", "reminder_sent", true},
		{"second reminder after the first changes nothing", "second_reminder_sent", "reminder_sent", "reminder_sent", false},
		{"late reminder does not undo debt collection", "second_reminder_sent", "debt_collection", "debt_collection", false},
		{"reminder does not override a payment plan", "reminder_sent", "payment_plan", "payment_plan", false},
		{"first demand escalates a reminder to debt_collection", "collection_started", "reminder_sent", "debt_collection", true},
		{"first demand on a new assignment sets debt_collection", "collection_started", "unknown", "debt_collection", true},
		{"second demand in debt collection changes nothing", "second_demand_sent", "debt_collection", "debt_collection", false},
		{"tratta_sent escalates", "tratta_sent", "reminder_sent", "debt_collection", true},
		{"the table's name tratta is accepted", "tratta", "unknown", "debt_collection", true},
		{"demand does not undo legal collection", "second_demand_sent", "legal_collection", "legal_collection", false},
		{"legal collection always sets", "legal_collection_started", "debt_collection", "legal_collection", true},
		{"enforcement sets recovery proceedings", "application_for_enforcement", "legal_collection", "recovery_proceedings", true},
		{"lack of means", "lack_of_means", "recovery_proceedings", "lack_of_means", true},
		{"payment plan", "payment_plan", "debt_collection", "payment_plan", true},
		{"credit loss suggestion sets debt surveillance", "credit_loss_suggestion", "lack_of_means", "debt_surveillance", true},
		{"credit loss changes nothing", "credit_loss", "debt_collection", "debt_collection", false},
		{"paid changes nothing", "paid", "reminder_sent", "reminder_sent", false},
		{"unknown event type changes nothing", "new_maventa_type", "unknown", "unknown", false},
		{"repeating the current status is no change", "payment_plan", "payment_plan", "payment_plan", false},
		{"an empty current status counts as unknown", "reminder_sent", "", "reminder_sent", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			next, changed := CollectionStatusAfter(c.event, c.current)
			if next != c.next || changed != c.changed {
				t.Errorf("CollectionStatusAfter(%q, %q) = %q, %v; want %q, %v", c.event, c.current, next, changed, c.next, c.changed)
			}
		})
	}
}

func TestAssignmentStatusAfter(t *testing.T) {
	cases := []struct {
		name, event, current, next string
		changed                    bool
	}{
		{"close closes an open assignment", "close", "open", "closed", true},
		{"close closes a partially closed assignment", "close", "partially_closed", "closed", true},
		{"partially_closed on open", "partially_closed", "open", "partially_closed", true},
		{"closure is final", "partially_closed", "closed", "closed", false},
		{"closing twice is no change", "close", "closed", "closed", false},
		{"cancel does not close by itself", "cancel", "open", "open", false},
		{"paid does not close by itself", "paid", "open", "open", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			next, changed := AssignmentStatusAfter(c.event, c.current)
			if next != c.next || changed != c.changed {
				t.Errorf("AssignmentStatusAfter(%q, %q) = %q, %v; want %q, %v", c.event, c.current, next, changed, c.next, c.changed)
			}
		})
	}
}

func TestDeliveryStatusFilter(t *testing.T) {
	cases := []struct {
		name string
		in   []string
		want []bool
	}{
		{"first DELIVERED passes", []string{"DELIVERED"}, []bool{true}},
		{"repeated DELIVERED are suppressed", []string{"DELIVERED", "DELIVERED", "DELIVERED"}, []bool{true, false, false}},
		{"every FAILED passes", []string{"DELIVERED", "FAILED", "FAILED"}, []bool{true, true, true}},
		{"first DELIVERED after FAILED passes, then suppressed again", []string{"DELIVERED", "FAILED", "DELIVERED", "DELIVERED"}, []bool{true, true, true, false}},
		{"FAILED first", []string{"FAILED", "DELIVERED"}, []bool{true, true}},
		{"case-insensitive", []string{"delivered", "Delivered"}, []bool{true, false}},
		{"unknown status passes and keeps state", []string{"DELIVERED", "QUEUED", "DELIVERED"}, []bool{true, true, false}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var f DeliveryStatusFilter
			for i, s := range c.in {
				if got := f.Allow(s); got != c.want[i] {
					t.Errorf("event %d (%s): Allow = %v, want %v", i, s, got, c.want[i])
				}
			}
		})
	}
}

func TestClassifyDeliveryError(t *testing.T) {
	cases := []struct {
		name, msg string
		want      Reason
	}{
		{"seed text for code #5", "SEND ERROR (REASON: RECEIVABLES-SERVICE: Postal code for CITY_NAME xxxxxx not found (code #5)).", ReasonMissingAddress},
		{"seed text for code #13", "SEND ERROR (REASON: RECEIVABLES-SERVICE: The due date for the invoice is within three (3) days or has already passed (code #13)).", ReasonDueDateTooClose},
		{"seed text for code #6", "SEND ERROR (REASON: RECEIVABLES-SERVICE: An assignment for this invoice number xxxx already exists and is still open. If you want to open a new assignment for this invoice number, you must first cancel the existing one (code #6 ...)).", ReasonDuplicateOpenAssignment},
		{"code with other spacing and case", "send error (reason: receivables service: something (Code # 5))", ReasonMissingAddress},
		{"code #13 is not #1 or #3", "RECEIVABLES-SERVICE: (code #13)", ReasonDueDateTooClose},
		{"code #50 is not #5", "RECEIVABLES-SERVICE: new error (code #50)", ReasonOther},
		{"phrase without code", "Postal code for ESPOO 02100 not found", ReasonMissingAddress},
		{"reworded duplicate without code", "An assignment for this invoice number 1001 already exists and is still open.", ReasonDuplicateOpenAssignment},
		{"due date phrase across lines", "The due date for the invoice is within three (3)\n days", ReasonDueDateTooClose},
		{"a code outside the receivables service is not ours", "PEPPOL: lookup failed (code #5)", ReasonOther},
		{"seed 004's generic example", "Error that happened", ReasonOther},
		{"empty", "", ReasonOther},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ClassifyDeliveryError(c.msg); got != c.want {
				t.Errorf("ClassifyDeliveryError(%q) = %q, want %q", c.msg, got, c.want)
			}
		})
	}
}

func TestPartyFor(t *testing.T) {
	const company, agency = "company-uuid", "agency-uuid"
	cases := []struct {
		name, event, partyID string
		want                 Party
	}{
		{"agency-only type", "reminder_sent", "someone", PartyAgency},
		{"company-only type", "credit_note", "", PartyCompany},
		{"maventa-only type", "delivery_status", "", PartyMaventa},
		{"shared type by the company", "paid", company, PartyCompany},
		{"shared type by a party seen on agency-only events", "comment", agency, PartyAgency},
		{"shared type by an unknown party", "paid", "938fc79f", PartyUnknown},
		{"unknown type", "new_type", company, PartyCompany},
		{"unknown type, unknown party", "new_type", "x", PartyUnknown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := PartyFor(c.event, c.partyID, company, []string{agency}); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestAgencyPartyIDsComeFromAgencyOnlyEvents(t *testing.T) {
	evs := []AssignmentFact{
		{Type: "paid", PartyID: "p-paid"},
		{Type: "reminder_sent", PartyID: "p-agency"},
		{Type: "close", PartyID: "p-agency"},
		{Type: "credit_note", PartyID: "p-company"},
		{Type: "delivery_status", PartyID: "p-maventa"},
	}
	if got := AgencyPartyIDs(evs); len(got) != 1 || got[0] != "p-agency" {
		t.Fatalf("got %v, want [p-agency]", got)
	}
}

func TestSortAssignmentFactsPutsReactionsAfterTheirCauses(t *testing.T) {
	at := time.Date(2026, 12, 4, 6, 38, 9, 0, time.UTC)
	later := at.Add(time.Hour)
	evs := []AssignmentFact{
		{ID: "a", Type: "close", CreatedAt: at, HappenedAt: &at},
		{ID: "z", Type: "paid", CreatedAt: at, HappenedAt: &at},
		{ID: "m", Type: "reminder_sent", CreatedAt: later}, // no happened_at: created_at counts
		{ID: "b", Type: "interest_paid", CreatedAt: at, HappenedAt: &at},
	}
	SortAssignmentFacts(evs)
	var got []string
	for _, e := range evs {
		got = append(got, e.Type)
	}
	if want := "[interest_paid paid close reminder_sent]"; fmt.Sprint(got) != want {
		t.Fatalf("order %v, want %s", got, want)
	}
}

func FuzzClassifyDeliveryError(f *testing.F) {
	f.Add("SEND ERROR (REASON: RECEIVABLES-SERVICE: Postal code for CITY_NAME xxxxxx not found (code #5)).")
	f.Add("code #99999999999999999999999")
	f.Fuzz(func(t *testing.T, msg string) {
		switch ClassifyDeliveryError(msg) {
		case ReasonMissingAddress, ReasonDuplicateOpenAssignment, ReasonDueDateTooClose, ReasonOther:
		default:
			t.Fatal("unknown reason")
		}
	})
}
