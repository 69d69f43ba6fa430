package events

import (
	"maps"
	"time"
)

// maxSeen bounds the ids a SeenRecord keeps; the oldest go first.
const maxSeen = 2000

// SeenRecord is the record of an aggregate whose facts are independent of each
// other (a company's network, authorization and service webhooks; a message
// thread's messages): each fact is one event, emitted the first time its id is
// seen.
type SeenRecord struct {
	// Seen maps the ids of the events emitted to when they were first seen.
	Seen map[string]time.Time `json:"seen,omitempty"`
	// Latest is a caller's marker of how far it has read (a thread's latest
	// message id).
	Latest string `json:"latest,omitempty"`
}

// ApplySeen returns the record with evs added and the events among them not
// seen before, in order. Ids first seen more than keep before now are
// forgotten (keep 0: kept until maxSeen pushes them out): keep must cover every
// window in which the same fact can come back (Maventa's 24 h of retries, the
// reconciliation look-back).
func ApplySeen(rec SeenRecord, evs []Event, now time.Time, keep time.Duration) (SeenRecord, []Event) {
	rec.Seen = maps.Clone(rec.Seen)
	if rec.Seen == nil {
		rec.Seen = map[string]time.Time{}
	}
	if keep > 0 {
		for id, at := range rec.Seen {
			if now.Sub(at) > keep {
				delete(rec.Seen, id)
			}
		}
	}
	var out []Event
	for _, ev := range evs {
		if _, ok := rec.Seen[ev.ID]; ok {
			continue
		}
		rec.Seen[ev.ID] = now.UTC()
		out = append(out, ev)
	}
	for len(rec.Seen) > maxSeen {
		oldest, at := "", time.Time{}
		for id, t := range rec.Seen {
			if oldest == "" || t.Before(at) || (t.Equal(at) && id < oldest) {
				oldest, at = id, t
			}
		}
		delete(rec.Seen, oldest)
	}
	return rec, out
}
