//go:build !race

package events

// maxMarshalAllocs is TestMarshalAllocationsStayBounded's bound: the output
// buffer only.
const maxMarshalAllocs = 1

// maxWebhookHashAllocs is TestWebhookHashAllocationsStayBounded's bound: the
// returned string only (the canonical form is written into pooled buffers).
const maxWebhookHashAllocs = 1
