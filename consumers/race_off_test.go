//go:build !race

package consumers

// raceExtraAllocs is what the allocation guards allow on top of their bound:
// nothing without the race detector.
const raceExtraAllocs = 0
