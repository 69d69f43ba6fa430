package consumers

import (
	"sync"
	"testing"
)

// A processed webhook tells the poller its company (Poller.Nudge), so the
// company's next poll comes at once.
func TestAProcessedWebhookNudgesItsCompany(t *testing.T) {
	p := newPipeline(t, &fakeMaventa{assignments: nil}, StreamsConfig{})
	var mu sync.Mutex
	var nudged []string
	p.proc.Nudge = func(c string) { mu.Lock(); nudged = append(nudged, c); mu.Unlock() }
	p.post(deliveredWebhook("2020-04-15T08:47:08+03:00"))
	p.consume(ConsumerConfig{}, nil)
	mu.Lock()
	defer mu.Unlock()
	if len(nudged) == 0 || nudged[0] != company {
		t.Fatalf("nudged %v, want [%s]", nudged, company)
	}
}
