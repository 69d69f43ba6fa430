package consumers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/maventa-bridge/maventa-events/events"
)

// ErrConflict means another writer changed a key between a read and the
// compare-and-set write that depended on it.
var ErrConflict = errors.New("reconcile state changed concurrently")

// Records keeps the per-aggregate records (JSON values) with compare-and-set:
// the single source of exactly-once. ReconcileStore implements it over a
// JetStream KV bucket (package natsstore); the unit tests use an in-memory one.
type Records interface {
	// Load returns the value at key and its revision; revision 0 when absent.
	Load(ctx context.Context, key string) (value []byte, rev uint64, err error)
	// Store writes value at key if it is still at rev (0: only if absent), and
	// returns ErrConflict otherwise.
	Store(ctx context.Context, key string, value []byte, rev uint64) error
}

// maxUpdateAttempts bounds the compare-and-set retries of one update: each
// conflict means another worker stored newer facts of the same aggregate, so
// more than a few in a row only happens under pathological contention.
const maxUpdateAttempts = 20

// update adds facts to the aggregate record at key: one read, one pure
// function (record -> new record and the events now due), publish, one
// compare-and-set. A conflict re-reads and re-runs the function, so concurrent
// workers neither lose nor double anything: the events a re-run yields again
// have the same ids, and the event stream's duplicate window drops their
// second publication, as it does when the process dies between publishing and
// writing the record and the webhook is redelivered.
func update[R any](ctx context.Context, rs Records, em EventEmitter, key string, apply func(R) (R, []events.Event, error)) (emitted int, err error) {
	for attempt := 0; attempt < maxUpdateAttempts; attempt++ {
		raw, rev, err := rs.Load(ctx, key)
		if err != nil {
			return emitted, err
		}
		var cur R
		if rev != 0 {
			if err := json.Unmarshal(raw, &cur); err != nil {
				return emitted, fmt.Errorf("decode record %s: %w", key, err)
			}
		}
		next, evs, err := apply(cur)
		if err != nil {
			return emitted, &FactsError{Key: key, Err: err}
		}
		b, err := json.Marshal(next)
		if err != nil {
			return emitted, fmt.Errorf("encode record %s: %w", key, err)
		}
		if len(evs) == 0 && rev != 0 && bytes.Equal(b, raw) {
			return emitted, nil // nothing new
		}
		n, err := em.Emit(ctx, evs)
		emitted += n
		if err != nil {
			return emitted, err
		}
		err = rs.Store(ctx, key, b, rev)
		if errors.Is(err, ErrConflict) {
			continue
		}
		return emitted, err
	}
	return emitted, fmt.Errorf("record %s kept changing concurrently (%d attempts)", key, maxUpdateAttempts)
}

// FactsError means the facts themselves could not be applied (an assignment
// whose due_date is not a date...): retrying cannot help. Every other error of
// an update is the store's or the stream's, and transient.
type FactsError struct {
	Key string
	Err error
}

func (e *FactsError) Error() string { return "record " + e.Key + ": " + e.Err.Error() }
func (e *FactsError) Unwrap() error { return e.Err }

// storeFailure classifies an update's error for the webhook consumer.
func storeFailure(err error) *ProcessError {
	var fe *FactsError
	if errors.As(err, &fe) {
		return &ProcessError{Reason: "invalid_payload", Err: err}
	}
	return &ProcessError{Reason: "store_unavailable", Retry: true, Err: err}
}

// Record keys. Assignment and thread records live in the reconcile bucket
// (kept while they change, 90 days after the last change); invoice and
// company records in the facts bucket (PROCESSED_TTL after the last change).
func assignmentKey(id string) string { return "asg." + kvKey(id) }
func invoiceKey(id string) string    { return "invoice." + kvKey(id) }
func companyKey(id string) string    { return "company." + kvKey(id) }
func threadKey(id string) string     { return "thread." + kvKey(id) }

// applyAssignment adds what Maventa says about assignment id to its record.
// It returns events.ErrNeedSnapshot (wrapped) when the assignment was never
// opened and f has no snapshot; opened reports whether this call opened it.
// A status that Maventa's snapshot sets although no known event does is
// logged: it means an event we never saw, or a rule Maventa applies that ours
// does not.
func applyAssignment(ctx context.Context, rs Records, em EventEmitter, log *slog.Logger, companyID, id string, f events.AssignmentFacts, tc events.TraceContext) (emitted int, opened bool, err error) {
	var corrected []events.Event
	emitted, err = update(ctx, rs, em, assignmentKey(id), func(rec events.AssignmentRecord) (events.AssignmentRecord, []events.Event, error) {
		next, evs, err := events.ApplyAssignment(rec, companyID, f, tc)
		opened = !rec.Opened && next.Opened && len(rec.Legacy) == 0
		corrected = corrected[:0]
		for _, e := range evs {
			if (e.Type == events.TypeAssignmentStatusChanged.Type() || e.Type == events.TypeAssignmentCollectionStatusChanged.Type()) && e.MaventaEventID == "" {
				corrected = append(corrected, e)
			}
		}
		return next, evs, err
	})
	if err == nil && log != nil {
		for _, e := range corrected {
			log.Warn("assignment snapshot disagrees with its events: Maventa's value wins",
				"company_id", companyID, "assignment_id", id, "type", e.Type, "event_id", e.ID)
		}
	}
	return emitted, opened, err
}

// applyInvoice adds notices about invoice id to its record.
func applyInvoice(ctx context.Context, rs Records, em EventEmitter, id string, notices ...events.InvoiceNotice) (int, error) {
	return update(ctx, rs, em, invoiceKey(id), func(rec events.InvoiceRecord) (events.InvoiceRecord, []events.Event, error) {
		next, evs := events.ApplyInvoice(rec, id, notices)
		return next, evs, nil
	})
}

// applySeen emits the events not seen before in the record at key (a
// company's webhook facts, a thread's messages), remembering each for keep.
func applySeen(ctx context.Context, rs Records, em EventEmitter, key string, now time.Time, keep time.Duration, evs ...events.Event) (int, error) {
	return update(ctx, rs, em, key, func(rec events.SeenRecord) (events.SeenRecord, []events.Event, error) {
		next, out := events.ApplySeen(rec, evs, now, keep)
		return next, out, nil
	})
}
