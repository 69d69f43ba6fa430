package handlers

import (
	"testing"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
)

// FuzzAcceptedEnvelopesAreComplete checks the contract the receiver relies on:
// whatever the parser accepts has the three fields it routes and stores by.
func FuzzAcceptedEnvelopesAreComplete(f *testing.F) {
	for _, s := range []string{validBody, `{}`, `[]`, ``, `{"event":1}`, `{"event":"A","company_id":"c","event_timestamp":"2019-11-23T12:03:48Z"}`, "{\"event\":\"a\\u0000.b\"}"} {
		f.Add([]byte(s))
	}
	for _, ts := range []string{"0001-01-01T00:00:00Z", "0000-06-01T00:00:00Z", "9999-12-31T23:59:59-01:00", "2019-11-23T12:03:48.123456789+02:00"} {
		f.Add([]byte(`{"event":"A.B.C","company_id":"c","event_timestamp":"` + ts + `"}`))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := maventa.ParseWebhookEnvelope(body)
		if err == nil && (w.Event == "" || w.CompanyID == "" || w.EventTimestamp.IsZero()) {
			t.Fatalf("accepted an envelope with an empty field: %+v", w)
		}
		// What the receiver accepts, the consumers must be able to process:
		// the processor parses with the same function, then builds the
		// webhook's domain event.
		if err == nil {
			if _, err := events.FromWebhook(w.Input(body), events.TraceContext{}); err != nil {
				t.Fatalf("accepted %q, which the consumers cannot process: %v", body, err)
			}
		}
	})
}
