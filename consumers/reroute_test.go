package consumers

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/maventa-bridge/maventa-events/events"
)

// invoiceWebhook is a DOCUMENTS.INVOICE.<action> webhook about invoice id at ts.
func invoiceWebhook(action, id, ts string) []byte {
	return []byte(`{"event":"DOCUMENTS.INVOICE.` + action + `","company_id":"` + company + `","event_timestamp":"` + ts +
		`","event_data":{"invoice_id":"` + id + `","invoice_number":"1003","destination":"PEPPOL","recipient_name":"Recipient","recipient_bid":"933646920"}}`)
}

// rerouted is one invoice's life when its first delivery fails later and it is
// re-routed: DELIVERED (D1), FAILED two hours later, DELIVERED again (D2),
// then DELIVERY_CONFIRMED.
func rerouted(id string) [][]byte {
	return [][]byte{
		invoiceWebhook("DELIVERED", id, "2026-03-02T08:00:00+02:00"),
		invoiceWebhook("FAILED", id, "2026-03-02T10:00:00+02:00"),
		invoiceWebhook("DELIVERED", id, "2026-03-02T11:00:00+02:00"),
		invoiceWebhook("DELIVERY_CONFIRMED", id, "2026-03-02T11:30:00+02:00"),
	}
}

func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

// countsBySubject counts the domain events of each type per invoice.
func countsBySubject(evs []events.Event) map[string]map[string]int {
	out := map[string]map[string]int{}
	for _, e := range evs {
		if out[e.Subject] == nil {
			out[e.Subject] = map[string]int{}
		}
		out[e.Subject][e.Type]++
	}
	return out
}

func assertRerouted(t *testing.T, got map[string]int, how string) {
	t.Helper()
	want := map[string]int{typeOf(events.TypeInvoiceDelivered): 2, typeOf(events.TypeInvoiceDeliveryFailed): 1,
		typeOf(events.TypeInvoiceDeliveryConfirmed): 1}
	for typ, n := range want {
		if got[typ] != n {
			t.Errorf("%s: %d × %s, want %d (all: %v)", how, got[typ], typ, n, got)
		}
	}
}

// A re-routed invoice's two deliveries are both announced, whatever the order
// in which the four webhooks are processed (a late original, answered 503
// during an outage and retried an hour later, included).
func TestARerouteDeliveryIsNeverLostInAnyOrder(t *testing.T) {
	p, stream := newMemProcessor(noAssignments{})
	ctx := context.Background()
	perms := permutations(4)
	for i, perm := range perms {
		whs := rerouted(fmt.Sprintf("inv-seq-%02d", i))
		for _, k := range perm {
			if err := p.Process(ctx, whs[k], events.TraceContext{}); err != nil {
				t.Fatalf("order %v: %v", perm, err)
			}
		}
	}
	evs := stream.stored()
	bySubject := countsBySubject(evs)
	for i, perm := range perms {
		assertRerouted(t, bySubject[fmt.Sprintf("inv-seq-%02d", i)], fmt.Sprintf("order %v", perm))
	}
}

// All four webhooks at once (a retry wave after downtime), on several workers.
func TestARerouteDeliveryIsNeverLostWhenProcessedConcurrently(t *testing.T) {
	p, stream := newMemProcessor(noAssignments{})
	ctx := context.Background()
	const invoices = 20
	for i := range invoices {
		var wg sync.WaitGroup
		for _, wh := range rerouted(fmt.Sprintf("inv-par-%02d", i)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := p.Process(ctx, wh, events.TraceContext{}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	evs := stream.stored()
	bySubject := countsBySubject(evs)
	for i := range invoices {
		assertRerouted(t, bySubject[fmt.Sprintf("inv-par-%02d", i)], fmt.Sprintf("invoice %d", i))
	}
}

// An id far longer than a NATS subject may be (a hostile 70 000-character
// company_id or invoice_id) must not become a record key as it is (natsstore's
// TestAnOversizeIDKeepsTheConnection runs it on JetStream), and two such ids
// must not share a key.
func TestAnOversizeIDGetsAShortKeyOfItsOwn(t *testing.T) {
	long := strings.Repeat("X", 70000)
	if len(kvKey(long)) > 200 {
		t.Errorf("kvKey of a 70 000-byte id is %d bytes", len(kvKey(long)))
	}
	if kvKey(long) == kvKey(long+"Y") {
		t.Error("two long ids share a key")
	}
}
