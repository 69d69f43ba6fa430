package maventa

import (
	"errors"
	"strings"
	"testing"
)

func TestAssignmentDecodesSeedExample(t *testing.T) {
	a, err := decodeAssignment([]byte(assignmentJSON))
	if err != nil {
		t.Fatal(err)
	}
	if a.Sum.String() != "12.30" || a.Paid.String() != "10" || a.Debtor.Name != "Hanna's Test Company" {
		t.Errorf("assignment = %+v", a)
	}
	if id, ok := a.InvoiceID(); !ok || id != "f6dcf18d-a1bd-4e72-bb8a-80908527b6c8" {
		t.Errorf("InvoiceID = %q %v", id, ok)
	}
	if n, ok := a.ReferenceNumber(); !ok || n != "356241887794" {
		t.Errorf("ReferenceNumber = %q %v", n, ok)
	}
	if a.ClosedAt != nil || a.CreatedAt == nil || a.CreatedAt.UTC().Hour() != 5 {
		t.Errorf("times: closed %v created %v", a.ClosedAt, a.CreatedAt)
	}
	if len(a.Events) != 1 || a.Events[0].Type != EventPaid || a.Events[0].Seens[0].SeenBy != "Visma Amili FI" {
		t.Fatalf("events = %+v", a.Events)
	}
	f, err := a.Events[0].Fact()
	if p := f.Values; err != nil || p.Amount == nil || p.Amount.String() != "10" || p.BookedOn == nil || *p.BookedOn != "2020-04-16" || p.ArchiveNumber != "12345" {
		t.Errorf("paid values = %+v, %v", p, err)
	}
}

func TestMoneyIsExact(t *testing.T) {
	a, err := decodeAssignment([]byte(`{"id":"a","sum":0.1,"paid":0.2}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Sum.Add(a.Paid); got.Cmp(mustDec("0.3")) != 0 || got.String() != "0.3" {
		t.Errorf("0.1+0.2 = %s, want exactly 0.3", got)
	}
	b, err := decodeAssignment([]byte(assignmentJSON))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"sum":12.30`) || !strings.Contains(string(out), `"paid":10`) {
		t.Errorf("re-encoded amounts must be the exact JSON numbers 12.30 and 10: %s", out)
	}
	again, err := decodeAssignment(out)
	if err != nil || again.Sum.String() != "12.30" {
		t.Errorf("round trip sum = %s, %v", again.Sum, err)
	}
	pd, _ := Marshal(PaidData{SumPaid: mustDec("-200.50")})
	if !strings.Contains(string(pd), `"sum_paid":-200.50`) {
		t.Errorf("paid data = %s", pd)
	}
}

func TestUnknownFieldsAndEventTypesAreKept(t *testing.T) {
	in := `{"id":"a","sum":1,"paid":0,"future_flag":true,"debtor":{"name":"D","country":"FI"},
	"reference_ids":[{"type":"vat","value":"x","scheme":"s"}],
	"events":[{"id":"e","type":"brand_new_event","data":{"whatever":[1,2]},"seens":[{"seen_by":"x","how":"api"}],"origin":"agency"}]}`
	a, err := decodeAssignment([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if string(a.Extra["future_flag"]) != "true" || string(a.Debtor.Extra["country"]) != `"FI"` ||
		string(a.ReferenceIDs[0].Extra["scheme"]) != `"s"` || string(a.Events[0].Extra["origin"]) != `"agency"` ||
		string(a.Events[0].Seens[0].Extra["how"]) != `"api"` {
		t.Errorf("extras lost: %+v", a)
	}
	if a.Events[0].Type != "brand_new_event" || string(a.Events[0].Data) != `{"whatever":[1,2]}` {
		t.Errorf("unknown event = %+v", a.Events[0])
	}
	out, _ := Marshal(a)
	for _, want := range []string{`"future_flag":true`, `"country":"FI"`, `"scheme":"s"`, `"origin":"agency"`, `"brand_new_event"`, `"how":"api"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("re-encoded lacks %s: %s", want, out)
		}
	}
}

func TestCreatorsTableMatchesSeed(t *testing.T) {
	want := []EventType{EventCancel, EventComment, EventCreditLoss, EventCreditNote, EventDueDateChangeRequest, EventFreeze, EventPaid}
	got := CompanyEventTypes()
	if len(got) != len(want) {
		t.Fatalf("company types = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("company types = %v, want %v", got, want)
		}
	}
	for typ, want := range map[EventType]Creator{EventDeliveryStatus: CreatorMaventa, EventClose: CreatorAgency,
		EventPaid: CreatorBoth, EventCancel: CreatorCompany} {
		if got, ok := EventCreator(typ); !ok || got != want {
			t.Errorf("creator of %s = %q, %v; want %q", typ, got, ok, want)
		}
	}
	if c, ok := EventCreator("debt_sold"); ok {
		t.Errorf("undocumented type has creator %q", c)
	}
}

func TestNewEventValidate(t *testing.T) {
	tests := []struct {
		name    string
		ev      NewEvent
		wantErr bool
	}{
		{"company may report a payment", NewPaidEvent(PaidData{SumPaid: mustDec("1")}), false},
		{"company may link a credit note", NewCreditNoteEvent(CreditNoteData{Number: "1", Sum: mustDec("1")}), false},
		{"company may freeze", NewEvent{Type: EventFreeze, Data: FreezeData{EndDate: "2030-01-01"}}, false},
		{"company may cancel", NewCancelEvent(), false},
		{"company may comment", NewCommentEvent("hi"), false},
		{"company may request a due date change", NewDueDateChangeRequestEvent("2030-01-01"), false},
		{"company may mark a credit loss", NewCreditLossEvent(), false},
		{"agency-only close is refused", NewEvent{Type: EventClose}, true},
		{"agency-only reminder_sent is refused", NewEvent{Type: EventReminderSent}, true},
		{"agency-only due_date_changed is refused", NewEvent{Type: EventDueDateChanged}, true},
		{"maventa-only delivery_status is refused", NewEvent{Type: EventDeliveryStatus}, true},
		{"unknown type is refused", NewEvent{Type: "make_it_paid"}, true},
		{"empty type is refused", NewEvent{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.ev.Validate()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			var ve *ValidationError
			if err != nil && !errors.As(err, &ve) {
				t.Errorf("err %T is not *ValidationError", err)
			}
		})
	}
}
