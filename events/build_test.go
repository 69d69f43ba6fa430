package events

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestFromWebhook(t *testing.T) {
	body := readSeed(t, "webhook_invoice_delivered.json")
	e, err := fromWebhookBody(body, TraceContext{})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("a retried webhook yields the same id", func(t *testing.T) {
		retry := append([]byte("\n"), body...) // same body, whitespace differs
		e2, err := fromWebhookBody(retry, TraceContext{TraceParent: exampleTrace})
		if err != nil {
			t.Fatal(err)
		}
		if e2.ID != e.ID || e2.WebhookID != e.WebhookID {
			t.Errorf("retry got id %s, first %s", e2.ID, e.ID)
		}
	})
	t.Run("time is Maventa's event_timestamp in UTC", func(t *testing.T) {
		if want := time.Date(2019, 11, 23, 10, 3, 48, 0, time.UTC); !e.Time.Equal(want) || e.Time.Location() != time.UTC {
			t.Errorf("time %v, want %v", e.Time, want)
		}
	})
	t.Run("subject, source and NATS subject", func(t *testing.T) {
		if e.Subject != "12f88354-5998-495b-8675-67bf05de60e5" || e.Source != "maventa://companies/53a4e05d-42f0-4e76-acd6-968ab4558c6f" {
			t.Errorf("subject %s source %s", e.Subject, e.Source)
		}
		if got := e.PublishSubject(); got != "receivables.events.53a4e05d-42f0-4e76-acd6-968ab4558c6f.invoice.delivered" {
			t.Errorf("published on %s", got)
		}
	})
	t.Run("another fact yields another id", func(t *testing.T) {
		other, err := fromWebhookBody(rewriteWebhook(t, "webhook_invoice_delivered.json", "DOCUMENTS.INVOICE.DELIVERY_CONFIRMED", nil), TraceContext{})
		if err != nil {
			t.Fatal(err)
		}
		if other.ID == e.ID {
			t.Error("different webhooks share an id")
		}
	})
}

func TestFromWebhookUnrecognized(t *testing.T) {
	cases := map[string]string{
		"unknown area":             `{"event":"BILLING.REPORT.READY","company_id":"c","event_timestamp":"2024-01-01T00:00:00Z","event_data":{"x":1.10}}`,
		"unknown document action":  `{"event":"DOCUMENTS.INVOICE.ARCHIVED","company_id":"c","event_timestamp":"2024-01-01T00:00:00Z","event_data":{}}`,
		"unknown network action":   `{"event":"NETWORKS.PEPPOL.SUSPENDED","company_id":"c","event_timestamp":"2024-01-01T00:00:00Z"}`,
		"unknown service action":   `{"event":"SERVICES.AMILI_RECEIVABLES.CLOSED","company_id":"c","event_timestamp":"2024-01-01T00:00:00Z","event_data":{}}`,
		"two-part name":            `{"event":"DOCUMENTS.INVOICE","company_id":"c","event_timestamp":"2024-01-01T00:00:00Z"}`,
		"data that is not objects": `{"event":"DOCUMENTS.ORDER.FOO","company_id":"c","event_timestamp":"2024-01-01T00:00:00Z","event_data":[1,2]}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			e, err := fromWebhookBody([]byte(body), TraceContext{})
			if err != nil {
				t.Fatal(err)
			}
			if e.Type != TypeUnrecognized.Type() {
				t.Fatalf("type %s", e.Type)
			}
			v, err := e.DecodeData()
			if err != nil {
				t.Fatal(err)
			}
			u := v.(*Unrecognized)
			var name struct {
				Event string `json:"event"`
			}
			_ = json.Unmarshal([]byte(body), &name)
			if u.Origin != "webhook" || u.Name != name.Event || string(u.Raw) != body {
				t.Errorf("got %+v", u)
			}
		})
	}
}

func TestFromWebhookErrors(t *testing.T) {
	for name, body := range map[string]string{
		"not JSON":        `{`,
		"no company":      `{"event":"DOCUMENTS.INVOICE.DELIVERED","event_timestamp":"2024-01-01T00:00:00Z"}`,
		"bad timestamp":   `{"event":"DOCUMENTS.INVOICE.DELIVERED","company_id":"c","event_timestamp":"23.11.2019"}`,
		"no timestamp":    `{"event":"DOCUMENTS.INVOICE.DELIVERED","company_id":"c"}`,
		"array not event": `[]`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := fromWebhookBody([]byte(body), TraceContext{}); err == nil {
				t.Error("accepted")
			}
		})
	}
	// The catalog's own check, whoever parsed the body.
	if _, err := FromWebhook(Webhook{Name: "DOCUMENTS.INVOICE.DELIVERED", At: time.Now()}, TraceContext{}); err == nil {
		t.Error("a webhook without company accepted")
	}
}

func TestFailedInvoiceReason(t *testing.T) {
	e := examples(t)["invoice.delivery_failed"]
	v, err := e.DecodeData()
	if err != nil {
		t.Fatal(err)
	}
	if got := v.(*InvoiceDeliveryFailed).Reason; got != ReasonDueDateTooClose {
		t.Errorf("reason %s", got)
	}
}

func TestServiceFromSeed(t *testing.T) {
	s, err := decodeService("amili", readSeed(t, "amili_receivables_get.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Amili's account (vfsfi), not the company's own (top-level iban).
	if s.IBAN != "FI2357169020052929" || s.BIC != "OKOYFIHH" || s.Status != "ACTIVE" {
		t.Errorf("got %+v", s)
	}
	at := time.Date(2024, 3, 5, 8, 15, 0, 0, time.UTC)
	a, _ := NewServiceEvent("c", s, at, TraceContext{})
	b, _ := NewServiceEvent("c", s, at.Add(time.Hour), TraceContext{})
	if a.ID != b.ID || a.Type != TypeServiceActivated.Type() {
		t.Error("polling the same state twice must yield the same id")
	}
	s.Status = "DISABLED"
	if _, err := NewServiceEvent("c", s, at, TraceContext{}); err == nil {
		t.Error("DISABLED has no event type")
	}
}

func TestAssignmentOpenedFromSeed(t *testing.T) {
	v, err := examples(t)["assignment.opened"].DecodeData()
	if err != nil {
		t.Fatal(err)
	}
	o := v.(*AssignmentOpened)
	if o.ReferenceNumber != "356241887794" || o.InvoiceID != "f6dcf18d-a1bd-4e72-bb8a-80908527b6c8" ||
		o.Sum.String() != "12.3" || o.Paid.String() != "10" || o.Currency != "EUR" || o.DueDate != "2020-04-20" ||
		o.Debtor.Name != "Hanna's Test Company" || o.InvoiceNumber != "64488" {
		t.Errorf("got %+v", o)
	}
	if strings.Contains(string(o.Raw), `"events"`) {
		t.Error("the snapshot's raw carries the events")
	}
}

func TestPaidCreditNoteUsed(t *testing.T) {
	ref := AssignmentRef{CompanyID: "c", AssignmentID: "a", Currency: "EUR"}
	for _, c := range []struct {
		data  string
		used  bool
		money string
	}{
		{`{"sum_paid":200.5,"booked_at":"2019-01-04","archive_number":"12345"}`, false, "200.5"},
		{`{"sum_paid":-200.50,"booked_at":"2019-01-04"}`, true, "-200.50"},
		{`{"sum_paid":"0.10"}`, false, "0.10"},
	} {
		e, err := NewAssignmentEvent(ref, assignmentEvent("paid", "e1", c.data, "", "2019-01-04T10:00:00Z", ""), TraceContext{})
		if err != nil {
			t.Fatal(err)
		}
		v, _ := e.DecodeData()
		p := v.(*AssignmentPaid)
		if p.CreditNoteUsed != c.used || p.Amount.String() != c.money || string(p.Raw) != c.data {
			t.Errorf("%s: got %+v", c.data, p)
		}
	}
	if _, err := NewAssignmentEvent(ref, assignmentEvent("paid", "e1", `{"sum_paid":"NaN"}`, "", "2019-01-04T10:00:00Z", ""), TraceContext{}); err == nil {
		t.Error("NaN amount accepted")
	}
}

func TestUnknownAssignmentEventIsKept(t *testing.T) {
	ref := AssignmentRef{CompanyID: "c", AssignmentID: "a", Currency: "EUR"}
	ev := assignmentEvent("debt_sold", "e9", `{"buyer":"X","sum":1.5}`, "p", "2024-01-01T00:00:00Z", "")
	e, err := NewAssignmentEvent(ref, ev, TraceContext{})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := e.DecodeData()
	u := v.(*Unrecognized)
	if e.Type != TypeUnrecognized.Type() || u.Origin != "assignment_event" || u.Name != "debt_sold" ||
		u.AssignmentID != "a" || u.MaventaEventID != "e9" || !strings.Contains(string(u.Raw), `"sum":1.5`) {
		t.Errorf("got %s %+v", e.Type, u)
	}
	if e.Subject != "a" || e.MaventaEventID != "e9" {
		t.Errorf("subject %s maventaeventid %s", e.Subject, e.MaventaEventID)
	}
}

func TestApplyAssignmentOneEventAtATime(t *testing.T) {
	snap := AssignmentSnapshot{ID: "a", Status: StatusOpen, CollectionStatus: CollectionUnknown, Currency: "EUR",
		DueDate: "2024-02-01", IssuedAt: "2024-01-01", CreatedAt: mustTime("2024-01-01T00:00:00Z"), UpdatedAt: mustTime("2024-01-01T00:00:00Z")}
	rec, out, err := ApplyAssignment(AssignmentRecord{}, "c", AssignmentFacts{Snapshot: &snap}, TraceContext{})
	if err != nil || len(out) != 1 {
		t.Fatalf("opened: %v %v", out, err)
	}
	steps := []struct {
		name  string
		ev    AssignmentFact
		types []string
	}{
		{"first delivery published", assignmentEvent("delivery_status", "d1", `{"status":"DELIVERED"}`, "", "2024-01-01T00:00:00Z", ""),
			[]string{"assignment.delivery_status"}},
		{"repeated delivery an hour later emits nothing", assignmentEvent("delivery_status", "d2", `{"status":"DELIVERED"}`, "", "2024-01-01T01:00:00Z", ""),
			nil},
		{"failure published", assignmentEvent("delivery_status", "d3", `{"status":"FAILED"}`, "", "2024-01-02T00:00:00Z", ""),
			[]string{"assignment.delivery_status"}},
		{"redelivery after failure published", assignmentEvent("delivery_status", "d4", `{"status":"DELIVERED"}`, "", "2024-01-03T00:00:00Z", ""),
			[]string{"assignment.delivery_status"}},
		{"reminder changes the collection status", assignmentEvent("reminder_sent", "r1", `{}`, "", "2024-02-01T00:00:00Z", ""),
			[]string{"assignment.reminder_sent", "assignment.collection_status_changed"}},
		{"second reminder changes nothing more", assignmentEvent("second_reminder_sent", "r2", `{}`, "", "2024-02-10T00:00:00Z", ""),
			[]string{"assignment.second_reminder_sent"}},
		{"payment", assignmentEvent("paid", "p1", `{"sum_paid":12.3}`, "", "2024-02-11T00:00:00Z", ""),
			[]string{"assignment.paid"}},
		{"close changes the status", assignmentEvent("close", "c1", `{}`, "", "2024-02-11T00:00:01Z", ""),
			[]string{"assignment.close", "assignment.status_changed"}},
		{"the same close again emits nothing", assignmentEvent("close", "c1", `{}`, "", "2024-02-11T00:00:01Z", ""),
			nil},
	}
	for _, s := range steps {
		rec, out, err = ApplyAssignment(rec, "c", AssignmentFacts{Events: []AssignmentFact{s.ev}}, TraceContext{})
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		var got []string
		for _, e := range out {
			d, _ := LookupType(e.Type)
			got = append(got, d.Name)
		}
		if strings.Join(got, ",") != strings.Join(s.types, ",") {
			t.Errorf("%s: got %v, want %v", s.name, got, s.types)
		}
	}
	if rec.Status() != StatusClosed || rec.CollectionStatus() != CollectionReminderSent {
		t.Errorf("final values %s %s", rec.Status(), rec.CollectionStatus())
	}
}

func TestParseDate(t *testing.T) {
	for in, want := range map[string]string{"2020-04-16": "2020-04-16", "2020-04-16T00:00:00Z": "2020-04-16", " 2019-01-04 ": "2019-01-04"} {
		got, err := ParseDate(in)
		if err != nil || string(got) != want {
			t.Errorf("ParseDate(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "2020-13-01", "04.01.2019", "2020-04-16X"} {
		if _, err := ParseDate(in); err == nil {
			t.Errorf("ParseDate(%q) accepted", in)
		}
	}
}

func FuzzFromWebhook(f *testing.F) {
	for _, s := range []string{"webhook_invoice_delivered.json", "webhook_invoice_failed.json", "webhook_network_created.json", "webhook_company_authorization.json", "webhook_invoice_received.json"} {
		f.Add(readSeed(f, s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := fromWebhookBody(body, TraceContext{})
		if err != nil {
			return
		}
		b, err := e.Marshal()
		if err != nil {
			t.Fatalf("webhook event does not marshal: %v", err)
		}
		if _, err := Decode(b); err != nil {
			t.Fatalf("webhook event does not decode: %v", err)
		}
		if !ValidToken(strings.Split(e.PublishSubject(), ".")[2]) {
			t.Fatal("invalid subject")
		}
	})
}
