package maventa

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/events"
)

func TestParseWebhookSeedExamples(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, w Webhook, in events.Webhook)
	}{
		{"received invoice", `{"event":"DOCUMENTS.INVOICE.RECEIVED","company_id":"53a4e05d-42f0-4e76-acd6-968ab4558c6f","event_timestamp":"2019-11-23T12:03:48+02:00","event_data":{"invoice_id":"c154feee-399b-488e-aecd-580578b140e0","invoice_number":"1002","origin":"PEPPOL","sender_name":"Sender","sender_bid":"937729111"}}`,
			func(t *testing.T, w Webhook, in events.Webhook) {
				if d := in.Document; d.Origin != "PEPPOL" || d.SenderBID != "937729111" || d.InvoiceNumber != "1002" {
					t.Errorf("%+v", d)
				}
				if !w.EventTimestamp.Equal(time.Date(2019, 11, 23, 10, 3, 48, 0, time.UTC)) || !in.At.Equal(w.EventTimestamp) {
					t.Errorf("timestamp = %v", w.EventTimestamp)
				}
			}},
		{"failed invoice", `{"event":"DOCUMENTS.INVOICE.FAILED","company_id":"c","event_timestamp":"2019-11-23T12:03:48+02:00","event_data":{"invoice_id":"i","invoice_number":"1001","destination":"PEPPOL","recipient_name":"Recipient","recipient_bid":"933646920","error_message":"Error that happened","new_thing":1}}`,
			func(t *testing.T, w Webhook, in events.Webhook) {
				if d := in.Document; d.ErrorMessage != "Error that happened" || d.RecipientBID != "933646920" || !strings.Contains(string(in.Data), `"new_thing":1`) {
					t.Errorf("%+v %s", d, in.Data)
				}
				n, ok := w.Name()
				if !ok || n != (EventName{"DOCUMENTS", "INVOICE", "FAILED"}) {
					t.Errorf("name = %+v", n)
				}
			}},
		{"document id under id, a member of another type counts as absent", `{"event":"DOCUMENTS.ORDER.DELIVERED","company_id":"c","event_timestamp":"2019-11-23T12:03:48Z","event_data":{"id":"o1","destination":5}}`,
			func(t *testing.T, w Webhook, in events.Webhook) {
				if d := in.Document; d.DocumentID != "o1" || d.Destination != "" {
					t.Errorf("%+v", d)
				}
			}},
		{"network created", `{"event":"NETWORKS.PEPPOL.CREATED","company_id":"c","event_timestamp":"2020-02-04T10:24:47+02:00","event_data":{"network":"PEPPOL","profiles":["INVOICE_AND_CREDIT_NOTE"],"id":"f22c"}}`,
			func(t *testing.T, w Webhook, in events.Webhook) {
				if n := in.Network; n.Network != "PEPPOL" || !slices.Equal(n.Profiles, []string{"INVOICE_AND_CREDIT_NOTE"}) || n.ID != "f22c" {
					t.Errorf("%+v", n)
				}
				if in.Document != (events.DocumentValues{}) {
					t.Error("document values on a network event")
				}
			}},
		{"network without profiles", `{"event":"NETWORKS.BANK.ENABLED","company_id":"c","event_timestamp":"2020-02-04T10:24:47+02:00","event_data":{"profiles":null}}`,
			func(t *testing.T, w Webhook, in events.Webhook) {
				if in.Network.Profiles != nil || in.Network.Network != "" {
					t.Errorf("%+v", in.Network)
				}
			}},
		{"authorization verified with unknown top-level field", `{"event":"COMPANIES.AUTHORIZATION.VERIFIED","company_id":"c","event_timestamp":"2021-10-29T11:33:24+03:00","event_data":{"state":"VERIFIED"},"delivery_attempt":2}`,
			func(t *testing.T, w Webhook, in events.Webhook) {
				if in.State != "VERIFIED" {
					t.Errorf("state %q", in.State)
				}
			}},
		{"service webhook", `{"event":"SERVICES.AMILI_RECEIVABLES.ACTIVATED","company_id":"c","event_timestamp":"2021-10-29T11:33:24Z","event_data":{"status":"ACTIVE","vfsfi":{"iban":"FI1","bic":"B"},"iban":"OWN"}}`,
			func(t *testing.T, w Webhook, in events.Webhook) {
				if s := in.Service; s == nil || s.Status != "ACTIVE" || s.IBAN != "FI1" || s.BIC != "B" {
					t.Errorf("%+v", s)
				}
			}},
		{"service webhook whose data is no service", `{"event":"SERVICES.AMILI_RECEIVABLES.ACTIVATED","company_id":"c","event_timestamp":"2021-10-29T11:33:24Z","event_data":[1]}`,
			func(t *testing.T, w Webhook, in events.Webhook) {
				if in.Service != nil {
					t.Errorf("%+v", in.Service)
				}
			}},
		{"unknown receivables event is accepted", `{"event":"RECEIVABLES.SERVICE.ACTIVATED","company_id":"c","event_timestamp":"2021-10-29T11:33:24Z"}`,
			func(t *testing.T, w Webhook, in events.Webhook) {
				if n, ok := w.Name(); !ok || n.Area != "RECEIVABLES" || in.Data != nil {
					t.Errorf("name = %+v, data %s", n, in.Data)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := ParseWebhookEnvelope([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			in := w.Input([]byte(tt.body))
			if in.Name != w.Event || in.CompanyID != w.CompanyID || string(in.Body) != tt.body {
				t.Errorf("input %+v", in)
			}
			tt.check(t, w, in)
		})
	}
}

func TestParseWebhookListsEveryProblem(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"all missing", `{}`, []string{`missing "event"`, `missing "company_id"`, `missing "event_timestamp"`}},
		{"bad timestamp only", `{"event":"A.B.C","company_id":"c","event_timestamp":"yesterday"}`, []string{`"event_timestamp" is not an RFC 3339 time`}},
		{"wrong types and empty", `{"event":5,"company_id":"","event_timestamp":null}`, []string{`"event" is not a string`, `"company_id" is empty`, `missing "event_timestamp"`}},
		{"not an object", `[1,2]`, []string{"body is not a JSON object"}},
		{"trailing data", `{"event":"A.B.C","company_id":"c","event_timestamp":"2021-10-29T11:33:24Z"} {}`, []string{"body is not valid JSON: invalid character '{' after top-level value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseWebhookEnvelope([]byte(tt.body))
			var we *WebhookError
			if !errors.As(err, &we) {
				t.Fatalf("err = %v, want *WebhookError", err)
			}
			if !slices.Equal(we.Problems, tt.want) {
				t.Errorf("problems = %q, want %q", we.Problems, tt.want)
			}
		})
	}
}

func TestParseEventName(t *testing.T) {
	tests := []struct {
		in   string
		want EventName
		ok   bool
	}{
		{"DOCUMENTS.INVOICE.DELIVERED", EventName{"DOCUMENTS", "INVOICE", "DELIVERED"}, true},
		{"NETWORKS.*", EventName{}, false},
		{"A..C", EventName{}, false},
		{"A.B.C.D", EventName{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseEventName(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParseEventName(%q) = %+v %v", tt.in, got, ok)
		}
	}
}

func FuzzParseWebhook(f *testing.F) {
	f.Add([]byte(`{"event":"DOCUMENTS.INVOICE.DELIVERED","company_id":"c","event_timestamp":"2019-11-23T12:03:48+02:00","event_data":{"invoice_id":"x"}}`))
	f.Add([]byte(`{"event":"NETWORKS.PEPPOL.CREATED","company_id":"c","event_timestamp":"2020-02-04T10:24:47+02:00","event_data":null,"x":[]}`))
	f.Add([]byte(`{"event":"SERVICES.X.ACTIVE","company_id":"c","event_timestamp":"2020-02-04T10:24:47+02:00","event_data":{"vfsfi":1}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := ParseWebhookEnvelope(body)
		if err != nil {
			var we *WebhookError
			if !errors.As(err, &we) || len(we.Problems) == 0 {
				t.Fatalf("error %v is not a WebhookError with problems", err)
			}
			return
		}
		// Whatever parses becomes an event.
		if _, err := events.FromWebhook(w.Input(body), events.TraceContext{}); err != nil {
			t.Fatalf("parsed webhook %q yields no event: %v", body, err)
		}
	})
}

func FuzzDecodeAssignment(f *testing.F) {
	f.Add([]byte(assignmentJSON))
	f.Add([]byte(`{"sum":"1e3","paid":-0.5,"events":[{"type":"x","data":7}]}`))
	f.Add([]byte(`{"id":null,"events":[{"type":"paid","data":{"sum_paid":"x"}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var a Assignment
		if err := Unmarshal(body, &a); err != nil {
			return
		}
		if _, err := a.Snapshot(); err != nil {
			t.Fatalf("decoded assignment has no snapshot: %v", err)
		}
		_, _ = a.InvoiceID()
		out, err := Marshal(a)
		if err != nil {
			t.Fatalf("decoded assignment does not re-encode: %v", err)
		}
		var again Assignment
		if err := Unmarshal(out, &again); err != nil {
			t.Fatalf("re-encoded assignment %s does not decode: %v", out, err)
		}
		if again.Sum.Cmp(a.Sum) != 0 || again.Paid.Cmp(a.Paid) != 0 || again.ID != a.ID || len(again.Events) != len(a.Events) {
			t.Fatalf("round trip changed the assignment: %s", out)
		}
	})
}
