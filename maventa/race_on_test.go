//go:build race

package maventa

// raceExtraAllocs is what an allocation guard allows on top of its bound
// under the race detector, which drops a quarter of sync.Pool's items at
// random, so pooled decoder state is sometimes new: measured 7 more per
// assignment decode (TestDecodeAssignmentAllocationsStayBounded).
const raceExtraAllocs = 10
