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
