//go:build race

package consumers

// raceExtraAllocs is what the allocation guards allow on top of their bound
// under the race detector, which drops a quarter of sync.Pool's items at
// random: pooled encoders and decoders (encoding/json's) are then sometimes
// new. Measured 11 more per webhook over TestProcessAllocationsStayBounded's
// 200 runs.
const raceExtraAllocs = 14
