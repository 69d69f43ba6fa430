package handlers

import (
	"testing"

	"github.com/maventa-bridge/maventa-events/maventa"
)

// FuzzAcceptedEnvelopesAreComplete checks the contract the receiver relies on:
// whatever the parser accepts has the three fields it routes and stores by.
func FuzzAcceptedEnvelopesAreComplete(f *testing.F) {
	for _, s := range []string{validBody, `{}`, `[]`, ``, `{"event":1}`, `{"event":"A","company_id":"c","event_timestamp":"2019-11-23T12:03:48Z"}`, "{\"event\":\"a\\u0000.b\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := maventa.ParseWebhookEnvelope(body)
		if err == nil && (w.Event == "" || w.CompanyID == "" || w.EventTimestamp.IsZero()) {
			t.Fatalf("accepted an envelope with an empty field: %+v", w)
		}
		// What the receiver accepts, the consumers must be able to parse.
		if _, full := maventa.ParseWebhook(body); (err == nil) != (full == nil) {
			t.Fatalf("envelope parse %v but full parse %v", err, full)
		}
	})
}
