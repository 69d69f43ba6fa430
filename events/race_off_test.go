//go:build !race

package events

// maxMarshalAllocs is TestMarshalAllocationsStayBounded's bound: the output
// buffer only.
const maxMarshalAllocs = 1
