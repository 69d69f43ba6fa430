package maventa

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/events"
)

// envelopeBody is the webhook the load tools send (~420 bytes, seed 004's shape).
const envelopeBody = `{"event":"DOCUMENTS.INVOICE.DELIVERED","company_id":"53a4e05d-42f0-4e76-acd6-968ab4558c6f","event_timestamp":"2019-11-23T12:03:48+02:00","event_data":{"invoice_id":"5f7c0f2e-399b-488e-a001-000000000001","invoice_number":"1","destination":"PEPPOL","recipient_name":"Recipient Oy with a reasonably long trading name","recipient_bid":"933646920","note":"padding padding padding padding padding padding padding padding"}}`

// maxEnvelopeAllocs bounds the allocations of one ParseWebhookEnvelope of
// envelopeBody: 9 measured when set (20 with encoding/json), plus a margin. It is
// on the intake's hot path, once per webhook; raise it only with a reason.
const maxEnvelopeAllocs = 11

func TestParseWebhookEnvelopeAllocationsStayBounded(t *testing.T) {
	got := testing.AllocsPerRun(200, func() {
		if _, err := ParseWebhookEnvelope([]byte(envelopeBody)); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("%.0f allocations per envelope (bound %d)", got, maxEnvelopeAllocs)
	if got > maxEnvelopeAllocs {
		t.Errorf("%.0f allocations per envelope, more than the bound %d", got, maxEnvelopeAllocs)
	}
}

// go test -run '^$' -bench ParseWebhookEnvelope -benchmem ./maventa/
func BenchmarkParseWebhookEnvelope(b *testing.B) {
	body := []byte(envelopeBody)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := ParseWebhookEnvelope(body); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzParseWebhookEnvelopeMatchesEncodingJSON checks the single-pass envelope
// parser against the encoding/json one it replaced (parseEnvelopeV1, kept
// below verbatim): the same fields or the same problems for any body.
func FuzzParseWebhookEnvelopeMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{
		envelopeBody,
		`{"EVENT":"A.B.C","Company_Id":"c","event_timestamp":"2021-10-29T11:33:24Z"}`,
		`{"event":"A.B.C","event":"D.E.F","company_id":"c\u00e9","event_timestamp":"2021-10-29T11:33:24Z","event_data":null}`,
		`{"event":"A.B.C","company_id":"c","event_timestamp":"2021-10-29T11:33:24Z"} {}`,
		`{"event":5,"company_id":"  ","event_timestamp":"yesterday"}`,
		"{\"event\":\"A.\xff.C\",\"company_id\":\"c\",\"event_timestamp\":\"2021-10-29T11:33:24Z\"}",
		`{"event":"A.B.C","company_id":"c","event_timestamp":"2021-10-29T11:33:24Z","event_data":{"a":[1,2,{"b":"\ud800"}]}}`,
		`[1]`, ``, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, gotErr := ParseWebhookEnvelope(body)
		want, wantErr := parseEnvelopeV1(body)
		if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
			t.Fatalf("errors differ: got %v, want %v", gotErr, wantErr)
		}
		if got.Event != want.Event || got.CompanyID != want.CompanyID || !got.EventTimestamp.Equal(want.EventTimestamp) ||
			got.EventTimestamp.String() != want.EventTimestamp.String() || !bytes.Equal(got.EventData, want.EventData) {
			t.Fatalf("envelopes differ:\n got %+v\nwant %+v", got, want)
		}
	})
}

func parseEnvelopeV1(body []byte) (Webhook, error) {
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		return Webhook{}, &WebhookError{Problems: []string{"body is empty; a JSON object is required"}}
	case trimmed[0] != '{':
		return Webhook{}, &WebhookError{Problems: []string{"body is not a JSON object"}}
	}
	var top struct {
		Event          json.RawMessage `json:"event"`
		CompanyID      json.RawMessage `json:"company_id"`
		EventTimestamp json.RawMessage `json:"event_timestamp"`
		EventData      json.RawMessage `json:"event_data"`
	}
	// json.Unmarshal also rejects anything after the object.
	if err := json.Unmarshal(trimmed, &top); err != nil {
		return Webhook{}, &WebhookError{Problems: []string{"body is not valid JSON: " + err.Error()}}
	}
	var w Webhook
	var problems []string
	str := func(name string, raw json.RawMessage) (string, bool) {
		if isNull(raw) {
			problems = append(problems, fmt.Sprintf("missing %q", name))
			return "", false
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			problems = append(problems, fmt.Sprintf("%q is not a string", name))
			return "", false
		}
		if strings.TrimSpace(s) == "" {
			problems = append(problems, fmt.Sprintf("%q is empty", name))
			return "", false
		}
		return s, true
	}
	w.Event, _ = str("event", top.Event)
	w.CompanyID, _ = str("company_id", top.CompanyID)
	if ts, ok := str("event_timestamp", top.EventTimestamp); ok {
		t, err := time.Parse(time.RFC3339, ts)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%q is not an RFC 3339 time", "event_timestamp"))
		case events.CheckTime(t) != nil:
			problems = append(problems, fmt.Sprintf("%q must be a time after 0001-01-01T00:00:00Z and before year 10000 in UTC", "event_timestamp"))
		default:
			w.EventTimestamp = t
		}
	}
	if !isNull(top.EventData) {
		w.EventData = top.EventData // a sub-slice of body: no copy
	}
	if len(problems) > 0 {
		return Webhook{}, &WebhookError{Problems: problems}
	}
	return w, nil
}
