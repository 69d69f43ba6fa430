package maventa

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestParseWebhookSeedExamples(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, w Webhook)
	}{
		{"received invoice", `{"event":"DOCUMENTS.INVOICE.RECEIVED","company_id":"53a4e05d-42f0-4e76-acd6-968ab4558c6f","event_timestamp":"2019-11-23T12:03:48+02:00","event_data":{"invoice_id":"c154feee-399b-488e-aecd-580578b140e0","invoice_number":"1002","origin":"PEPPOL","sender_name":"Sender","sender_bid":"937729111"}}`,
			func(t *testing.T, w Webhook) {
				d, err := w.DocumentEvent()
				if err != nil || d.Origin != "PEPPOL" || d.SenderBID != "937729111" || d.InvoiceNumber != "1002" {
					t.Errorf("%+v %v", d, err)
				}
				if !w.EventTimestamp.Equal(time.Date(2019, 11, 23, 10, 3, 48, 0, time.UTC)) {
					t.Errorf("timestamp = %v", w.EventTimestamp)
				}
			}},
		{"failed invoice", `{"event":"DOCUMENTS.INVOICE.FAILED","company_id":"c","event_timestamp":"2019-11-23T12:03:48+02:00","event_data":{"invoice_id":"i","invoice_number":"1001","destination":"PEPPOL","recipient_name":"Recipient","recipient_bid":"933646920","error_message":"Error that happened","new_thing":1}}`,
			func(t *testing.T, w Webhook) {
				d, err := w.DocumentEvent()
				if err != nil || d.ErrorMessage != "Error that happened" || d.RecipientBID != "933646920" || string(d.Extra["new_thing"]) != "1" {
					t.Errorf("%+v %v", d, err)
				}
				n, ok := w.Name()
				if !ok || n != (EventName{"DOCUMENTS", "INVOICE", "FAILED"}) {
					t.Errorf("name = %+v", n)
				}
			}},
		{"network created", `{"event":"NETWORKS.PEPPOL.CREATED","company_id":"c","event_timestamp":"2020-02-04T10:24:47+02:00","event_data":{"network":"PEPPOL","profiles":["INVOICE_AND_CREDIT_NOTE"],"id":"f22c"}}`,
			func(t *testing.T, w Webhook) {
				d, err := w.NetworkEvent()
				if err != nil || d.Network != "PEPPOL" || !slices.Equal(d.Profiles, []string{"INVOICE_AND_CREDIT_NOTE"}) || d.ID != "f22c" {
					t.Errorf("%+v %v", d, err)
				}
				if _, err := w.DocumentEvent(); err == nil {
					t.Error("DocumentEvent on a network event succeeded")
				}
			}},
		{"authorization verified with unknown top-level field", `{"event":"COMPANIES.AUTHORIZATION.VERIFIED","company_id":"c","event_timestamp":"2021-10-29T11:33:24+03:00","event_data":{"state":"VERIFIED"},"delivery_attempt":2}`,
			func(t *testing.T, w Webhook) {
				d, err := w.AuthorizationEvent()
				if err != nil || d.State != "VERIFIED" || string(w.Extra["delivery_attempt"]) != "2" {
					t.Errorf("%+v %v extra=%v", d, err, w.Extra)
				}
			}},
		{"unknown receivables event is accepted", `{"event":"RECEIVABLES.SERVICE.ACTIVATED","company_id":"c","event_timestamp":"2021-10-29T11:33:24Z"}`,
			func(t *testing.T, w Webhook) {
				if n, ok := w.Name(); !ok || n.Area != "RECEIVABLES" {
					t.Errorf("name = %+v", n)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := ParseWebhook([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, w)
			out, err := json.Marshal(w)
			if err != nil {
				t.Fatal(err)
			}
			again, err := ParseWebhook(out)
			if err != nil || again.Event != w.Event || !again.EventTimestamp.Equal(w.EventTimestamp) || len(again.Extra) != len(w.Extra) {
				t.Errorf("re-encode round trip: %s %v", out, err)
			}
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
			_, err := ParseWebhook([]byte(tt.body))
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
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := ParseWebhook(body)
		if err != nil {
			var we *WebhookError
			if !errors.As(err, &we) || len(we.Problems) == 0 {
				t.Fatalf("error %v is not a WebhookError with problems", err)
			}
			return
		}
		_, _ = w.DocumentEvent()
		_, _ = w.NetworkEvent()
		_, _ = w.AuthorizationEvent()
		out, err := json.Marshal(w)
		if err != nil {
			t.Fatalf("valid webhook does not re-encode: %v", err)
		}
		again, err := ParseWebhook(out)
		if err != nil {
			t.Fatalf("re-encoded webhook %s does not parse: %v", out, err)
		}
		if again.Event != w.Event || again.CompanyID != w.CompanyID || !again.EventTimestamp.Equal(w.EventTimestamp) {
			t.Fatalf("round trip changed the envelope: %+v vs %+v", again, w)
		}
	})
}

func FuzzDecodeAssignment(f *testing.F) {
	f.Add([]byte(assignmentJSON))
	f.Add([]byte(`{"sum":"1e3","paid":-0.5,"events":[{"type":"x","data":7}]}`))
	f.Add([]byte(`{"id":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := DecodeAssignment(body)
		if err != nil {
			return
		}
		for _, e := range a.Events {
			_, _ = e.PaidData()
			_, _ = e.FreezeData()
			_, _ = e.CreditNoteData()
		}
		_, _ = a.InvoiceID()
		out, err := Marshal(a)
		if err != nil {
			t.Fatalf("decoded assignment does not re-encode: %v", err)
		}
		again, err := DecodeAssignment(out)
		if err != nil {
			t.Fatalf("re-encoded assignment %s does not decode: %v", out, err)
		}
		if again.Sum.Cmp(a.Sum) != 0 || again.Paid.Cmp(a.Paid) != 0 || again.ID != a.ID || len(again.Events) != len(a.Events) {
			t.Fatalf("round trip changed the assignment: %s", out)
		}
	})
}
