package consumers

import (
	"context"
	"testing"

	"github.com/maventa-bridge/maventa-events/events"
)

// A processed webhook tells the poller its company (Poller.Nudge), so the
// company's next poll comes at once.
func TestAProcessedWebhookNudgesItsCompany(t *testing.T) {
	p, _ := newMemProcessor(noAssignments{})
	var nudged []string
	p.Nudge = func(c string) { nudged = append(nudged, c) }
	if err := p.Process(context.Background(), invoiceWebhook("DELIVERED", "inv-1", "2020-04-15T08:47:08+03:00"), events.TraceContext{}); err != nil {
		t.Fatal(err)
	}
	if len(nudged) == 0 || nudged[0] != company {
		t.Fatalf("nudged %v, want [%s]", nudged, company)
	}
}
