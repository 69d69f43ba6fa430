package maventa

import (
	"testing"

	"github.com/maventa-bridge/maventa-events/events"
)

var benchBody = []byte(`{"event":"DOCUMENTS.INVOICE.DELIVERED","company_id":"53a4e05d-42f0-4e76-acd6-968ab4558c6f","event_timestamp":"2019-11-23T12:03:48+02:00","event_data":{"invoice_id":"12f88354-5998-495b-8675-67bf05de60e5","invoice_number":"1001","destination":"PEPPOL","recipient_name":"Recipient","recipient_bid":"933646920"}}`)

// go test -run - -bench WebhookToEvent ./maventa/
//
// BenchmarkWebhookToEvent is what the processor does with a stored body
// before any store or Maventa call: envelope, event, invoice id.
func BenchmarkWebhookToEvent(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		w, err := ParseWebhookEnvelope(benchBody)
		if err != nil {
			b.Fatal(err)
		}
		in := w.Input(benchBody)
		if _, err := events.FromWebhook(in, events.TraceContext{}); err != nil {
			b.Fatal(err)
		}
		if in.Document.InvoiceID == "" {
			b.Fatal("no invoice id")
		}
	}
}
