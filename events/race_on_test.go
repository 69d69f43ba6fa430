//go:build race

package events

// maxMarshalAllocs is TestMarshalAllocationsStayBounded's bound under the race
// detector, which drops a quarter of sync.Pool's items at random: then
// json.Compact's pooled scanner is sometimes new (about one more allocation
// per event on average over the test's 200 runs).
const maxMarshalAllocs = 2

// maxWebhookHashAllocs is TestWebhookHashAllocationsStayBounded's bound under
// the race detector, which drops a quarter of sync.Pool's items at random:
// then the canonState and its buffers are new (a handful of allocations,
// averaged over the test's 200 runs).
const maxWebhookHashAllocs = 3
