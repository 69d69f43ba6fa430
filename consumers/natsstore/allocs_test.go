package natsstore

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/nats-io/nats.go"
)

// Allocation bounds of the store's own work per webhook, on both sides of the
// stream, without a server (the client's publish and the server are not in
// them). Measured when set, plus a small margin; a failure means every
// webhook now allocates more: find it (go test -run '^$' -bench
// 'WebhookMessage|GroupFraming' -benchmem -memprofile m.out
// ./consumers/natsstore/) and remove it, or raise the bound in the same
// commit and say why.
const (
	// maxMessageAllocs: the message a webhook is written as (subject,
	// headers copied from the request's metadata, sanitized, body id).
	// Measured 9.
	maxMessageAllocs = 10
	// maxGroupAllocsPerWebhook: a group of groupOf webhooks framed into one
	// body and read back by the consumer, per webhook. Measured 6.6 (25.2
	// before DecodeGroup shared one string and one array per entry).
	maxGroupAllocsPerWebhook = 8
)

const groupOf = 8

// guardBody is the webhook the load tools send (~420 bytes).
var guardBody = []byte(`{"event":"DOCUMENTS.INVOICE.DELIVERED","company_id":"53a4e05d-42f0-4e76-acd6-968ab4558c6f","event_timestamp":"2019-11-23T12:03:48+02:00","event_data":{"invoice_id":"5f7c0f2e-399b-488e-a001-000000000001","invoice_number":"1","destination":"PEPPOL","recipient_name":"Recipient Oy with a reasonably long trading name","recipient_bid":"933646920","note":"padding padding padding padding padding padding padding padding"}}`)

// guardMeta is the request metadata the HTTP edge stores with a webhook
// (handlers.requestMeta).
func guardMeta() http.Header {
	return http.Header{
		"Received-At":  {"2026-11-30T08:00:00.123456789Z"},
		"Remote-Addr":  {"127.0.0.1:54321"},
		"Content-Type": {"application/json"},
		"User-Agent":   {"Maventa-Webhooks/1.0"},
	}
}

func buildMessage(meta http.Header) *nats.Msg {
	msg, id := webhookMessage("53a4e05d-42f0-4e76-acd6-968ab4558c6f", "DOCUMENTS.INVOICE.DELIVERED", guardBody, meta)
	sanitizeHeader(msg.Header)
	msg.Header[nats.MsgIdHdr] = []string{id} // what send does for a group member
	return msg
}

func TestStoreAllocationsStayBounded(t *testing.T) {
	meta := guardMeta()
	msgs := make([]*nats.Msg, groupOf)
	for i := range msgs {
		msgs[i] = buildMessage(meta)
	}
	tests := []struct {
		name string
		per  int // webhooks per run
		max  int
		run  func()
	}{
		{"the message of one webhook", 1, maxMessageAllocs, func() { _ = buildMessage(meta) }},
		{fmt.Sprintf("a group of %d framed and read back", groupOf), groupOf, maxGroupAllocsPerWebhook, func() {
			size := len(groupMagic) + 8
			for _, m := range msgs {
				size += groupEntrySize(m.Header, m.Data)
			}
			got, err := DecodeGroup(appendGroup(make([]byte, 0, size), msgs))
			if err != nil || len(got) != groupOf {
				t.Fatalf("decoded %d webhooks, err %v", len(got), err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := testing.AllocsPerRun(200, tt.run) / float64(tt.per)
			t.Logf("%.1f allocations per webhook (bound %d)", got, tt.max)
			if got > float64(tt.max) {
				t.Errorf("%.1f allocations per webhook, more than the bound %d", got, tt.max)
			}
		})
	}
}

// go test -run '^$' -bench 'WebhookMessage|GroupFraming' -benchmem ./consumers/natsstore/
func BenchmarkWebhookMessage(b *testing.B) {
	meta := guardMeta()
	b.ReportAllocs()
	for b.Loop() {
		_ = buildMessage(meta)
	}
}

func BenchmarkGroupFraming(b *testing.B) {
	meta := guardMeta()
	msgs := make([]*nats.Msg, groupOf)
	for i := range msgs {
		msgs[i] = buildMessage(meta)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeGroup(appendGroup(nil, msgs)); err != nil {
			b.Fatal(err)
		}
	}
}
