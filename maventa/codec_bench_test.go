package maventa

import (
	"strings"
	"testing"
)

// assignmentWithEvents is the seed assignment with n copies of its paid event,
// the shape GET /v1/assignments/{id} answers for an assignment in collection.
func assignmentWithEvents(n int) []byte {
	head, tail, _ := strings.Cut(assignmentJSON, `"events": [`)
	ev := tail[:strings.LastIndex(tail, "]")]
	evs := make([]string, n)
	for i := range evs {
		evs[i] = strings.TrimSpace(ev)
	}
	return []byte(head + `"events": [` + strings.Join(evs, ",") + "]}")
}

// go test -run '^$' -bench Assignment -benchmem ./maventa/
func BenchmarkDecodeAssignment(b *testing.B) {
	data := assignmentWithEvents(12)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeAssignment(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeAssignment(b *testing.B) {
	a, err := decodeAssignment(assignmentWithEvents(12))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marshal(a); err != nil {
			b.Fatal(err)
		}
	}
}

// maxAssignmentDecodeAllocs bounds the allocations of decoding one assignment
// with 12 events, as the client decodes GET /v1/assignments/{id} for every
// enriched webhook: measured 80 when set, plus a margin. A failure means
// every such answer now allocates more: find it (go test -run '^$' -bench
// DecodeAssignment -benchmem -memprofile m.out ./maventa/) and remove it, or
// raise the bound in the same commit and say why.
const maxAssignmentDecodeAllocs = 84

func TestDecodeAssignmentAllocationsStayBounded(t *testing.T) {
	data := assignmentWithEvents(12)
	got := testing.AllocsPerRun(200, func() {
		if _, err := decodeAssignment(data); err != nil {
			t.Fatal(err)
		}
	})
	bound := maxAssignmentDecodeAllocs + raceExtraAllocs
	t.Logf("%.0f allocations per assignment (bound %d)", got, bound)
	if got > float64(bound) {
		t.Errorf("%.0f allocations per assignment, more than the bound %d", got, bound)
	}
}
