package consumers

import (
	"context"
	"fmt"
	"testing"

	"github.com/maventa-bridge/maventa-events/events"
)

// maxProcessAllocs bounds the allocations of the consumer's whole step for
// one new DOCUMENTS.INVOICE.DELIVERED webhook on the in-memory doubles:
// envelope, domain event, invoice record read, apply and compare-and-set,
// the CloudEvent's encoding (memStream marshals what it keeps) and the
// enrichment's "no assignment" answer. The doubles' own map writes are in
// the count, so it is the processor's allocations plus a few. Measured 75
// when set (163 before the fourth round of issue 14, 134 before
// events.WebhookHash's single pass; raceExtraAllocs under the race
// detector). A
// failure means every webhook now allocates more: find it (go test -run '^$'
// -bench ProcessInvoiceDelivered -benchmem -memprofile m.out ./consumers/)
// and remove it, or raise the bound in the same commit and say why.
const maxProcessAllocs = 80

// deliveredBodies are n distinct webhooks (a new invoice each: a repeated
// one would find its record and emit nothing).
func deliveredBodies(n int) [][]byte {
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = fmt.Appendf(nil, `{"event":"DOCUMENTS.INVOICE.DELIVERED","company_id":%q,"event_timestamp":"2026-11-30T08:00:00+02:00","event_data":{"invoice_id":"alloc-%06d","invoice_number":"%d","destination":"PEPPOL","recipient_name":"Recipient Oy","recipient_bid":"933646920"}}`, company, i, i)
	}
	return bodies
}

func TestProcessAllocationsStayBounded(t *testing.T) {
	p, stream := newMemProcessor(noAssignments{})
	const runs = 200
	bodies := deliveredBodies(runs + 1)
	i := 0
	got := testing.AllocsPerRun(runs, func() {
		if err := p.Process(context.Background(), bodies[i], events.TraceContext{}); err != nil {
			t.Fatal(err)
		}
		i++
	})
	if n := len(stream.stored()); n != runs+1 {
		t.Fatalf("%d events stored, want one per webhook (%d): the measured step did not do its work", n, runs+1)
	}
	bound := maxProcessAllocs + raceExtraAllocs
	t.Logf("%.0f allocations per webhook (bound %d)", got, bound)
	if got > float64(bound) {
		t.Errorf("%.0f allocations per webhook, more than the bound %d", got, bound)
	}
}

// go test -run '^$' -bench ProcessInvoiceDelivered -benchmem ./consumers/
func BenchmarkProcessInvoiceDelivered(b *testing.B) {
	p, _ := newMemProcessor(noAssignments{})
	bodies := deliveredBodies(1 << 14)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(bodies) { // every body's record now exists: start on new ones
			b.StopTimer()
			p, _ = newMemProcessor(noAssignments{})
			i = 0
			b.StartTimer()
		}
		if err := p.Process(context.Background(), bodies[i], events.TraceContext{}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
