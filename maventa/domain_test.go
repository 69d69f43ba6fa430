package maventa

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/maventa-bridge/maventa-events/events"
)

// TestFactValues pins the one reading of assignment event data: every field
// name accepted for each type (Maventa publishes few of them), and what a
// malformed value does.
func TestFactValues(t *testing.T) {
	amount := func(v events.AssignmentValues) string {
		if v.Amount == nil {
			return "<none>"
		}
		return v.Amount.String()
	}
	date := func(d *events.Date) string {
		if d == nil {
			return ""
		}
		return string(*d)
	}
	tests := []struct {
		typ  EventType
		data string
		want func(v events.AssignmentValues) bool
	}{
		{EventPaid, `{"sum_paid":200.5,"booked_at":"2019-01-04","archive_number":"12345"}`, func(v events.AssignmentValues) bool {
			return amount(v) == "200.5" && date(v.BookedOn) == "2019-01-04" && v.ArchiveNumber == "12345"
		}},
		{EventPaid, `{"sum":"-3.10"}`, func(v events.AssignmentValues) bool { return amount(v) == "-3.10" }},
		{EventPaid, `{"sum_paid":null,"sum":1}`, func(v events.AssignmentValues) bool { return amount(v) == "1" }},
		{EventCreditNote, `{"credit_note_number":"CN","sum":2.3}`, func(v events.AssignmentValues) bool { return v.CreditNoteNumber == "CN" && amount(v) == "2.3" }},
		{EventCreditNote, `{"number":"CN2","credit_sum":4}`, func(v events.AssignmentValues) bool { return v.CreditNoteNumber == "CN2" && amount(v) == "4" }},
		{EventCreditNote, `{"sum_credited":5}`, func(v events.AssignmentValues) bool { return amount(v) == "5" }},
		{EventInterestPaid, `{"interest":0.42}`, func(v events.AssignmentValues) bool { return amount(v) == "0.42" }},
		{EventInterestPaid, `{"interest_paid":0.43}`, func(v events.AssignmentValues) bool { return amount(v) == "0.43" }},
		{EventCashDiscount, `{"discount":1}`, func(v events.AssignmentValues) bool { return amount(v) == "1" }},
		{EventCashDiscount, `{"cash_discount":2}`, func(v events.AssignmentValues) bool { return amount(v) == "2" }},
		{EventCreditLoss, `{"credit_loss":3}`, func(v events.AssignmentValues) bool { return amount(v) == "3" }},
		{EventComment, `{"text":"t"}`, func(v events.AssignmentValues) bool { return v.Text == "t" }},
		{EventComment, `{"message":"m"}`, func(v events.AssignmentValues) bool { return v.Text == "m" }},
		{EventComment, `{"comment":5}`, func(v events.AssignmentValues) bool { return v.Text == "5" }},
		{EventDueDateChanged, `{"new_due_date":"2020-05-15"}`, func(v events.AssignmentValues) bool { return date(v.DueDate) == "2020-05-15" }},
		{EventFreeze, `{"frozen":"TRUE","end_date":"2019-01-04"}`, func(v events.AssignmentValues) bool { return v.Frozen && date(v.EndDate) == "2019-01-04" }},
		{EventFreeze, `{"frozen":"1"}`, func(v events.AssignmentValues) bool { return v.Frozen }},
		{EventFreezeConfirmed, `{"happened_at":"2019-01-04","end_date":"2019-02-15"}`, func(v events.AssignmentValues) bool {
			return date(v.HappenedOn) == "2019-01-04" && date(v.EndDate) == "2019-02-15"
		}},
		{EventServiceLevelChanged, `{"level":"VIP"}`, func(v events.AssignmentValues) bool { return v.ServiceLevel == "VIP" }},
		{EventDeliveryStatus, `{"delivery_status":"failed"}`, func(v events.AssignmentValues) bool { return v.DeliveryStatus == "failed" }},
		{EventPaid, `[1,2]`, func(v events.AssignmentValues) bool { return v == (events.AssignmentValues{}) }},
		{EventPaid, ``, func(v events.AssignmentValues) bool { return v == (events.AssignmentValues{}) }},
		{"debt_sold", `{"sum":1}`, func(v events.AssignmentValues) bool { return v == (events.AssignmentValues{}) }},
		// A malformed value is kept as the event's error, the first one met.
		{EventPaid, `{"sum_paid":"NaN","booked_at":"2019-01-04"}`, func(v events.AssignmentValues) bool { return v.Err != nil && v.Amount == nil }},
		{EventFreezeConfirmed, `{"happened_at":"4.1.2019"}`, func(v events.AssignmentValues) bool { return v.Err != nil && v.HappenedOn == nil }},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ)+" "+tt.data, func(t *testing.T) {
			f, err := Event{ID: "e", Type: tt.typ, Data: json.RawMessage(tt.data)}.Fact()
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(f.Values) {
				t.Errorf("values %+v", f.Values)
			}
		})
	}
}

// TestTheRawObjectsAreMaventasOwnJSON: the raw object a domain event carries
// is written by this package's codec: amounts stay exact JSON numbers and
// unknown members stay members. encoding/json does not know the wire types'
// inline Extra and would write "Extra" and the amounts as strings.
func TestTheRawObjectsAreMaventasOwnJSON(t *testing.T) {
	var a Assignment
	in := `{"id":"a1","sum":200.50,"paid":0,"future":{"x":1},"events":[{"id":"e1","type":"paid","data":{"sum_paid":10.10},"created_at":"2026-01-02T03:04:05Z","later":true}]}`
	if err := Unmarshal([]byte(in), &a); err != nil {
		t.Fatal(err)
	}
	s, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"sum":200.50`, `"future":{"x":1}`} {
		if !strings.Contains(string(s.Raw), want) {
			t.Errorf("assignment raw %s lacks %s", s.Raw, want)
		}
	}
	if len(s.Events) != 1 {
		t.Fatalf("%d facts, want 1", len(s.Events))
	}
	for _, want := range []string{`"later":true`, `"sum_paid":10.10`} {
		if !strings.Contains(string(s.Events[0].Raw), want) {
			t.Errorf("event raw %s lacks %s", s.Events[0].Raw, want)
		}
	}
	for _, raw := range [][]byte{s.Raw, s.Events[0].Raw} {
		if strings.Contains(string(raw), "Extra") || strings.Contains(string(raw), `"events"`) {
			t.Errorf("raw %s has the Go field Extra or the events", raw)
		}
	}
}

// TestFieldsTextIsWhatEncodingJSONDecodes: text and str take a plain ASCII
// string as it is and decode everything else; both must give what
// json.Unmarshal gives for every kind of member.
func TestFieldsTextIsWhatEncodingJSONDecodes(t *testing.T) {
	for _, raw := range []string{
		`"plain-ASCII 123"`, `""`, `"tab\there"`, `"\u0041\u00e9"`, `"é"`, `"a\"b"`, `"a\\b"`,
		"\"\xff\"", `"<&>"`, `12`, `null`, `true`, `{"a":1}`, `["x"]`,
	} {
		f := fields{"k": json.RawMessage(raw)}
		var want string
		if json.Unmarshal([]byte(raw), &want) != nil {
			want = ""
		}
		if got := f.text("k"); got != want {
			t.Errorf("text(%s) = %q, want %q", raw, got, want)
		}
		wantStr := want
		if json.Unmarshal([]byte(raw), new(string)) != nil {
			wantStr = strings.Trim(raw, `"`)
		}
		if raw == "null" {
			wantStr = "" // str skips null members
		}
		if got := f.str("k"); got != wantStr {
			t.Errorf("str(%s) = %q, want %q", raw, got, wantStr)
		}
	}
}
