//go:build !race

package maventa

// raceExtraAllocs is what an allocation guard allows on top of its bound:
// nothing without the race detector.
const raceExtraAllocs = 0
