package natsstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/consumers"
)

// ReconcileBucket holds the reconciliation state shared by every replica:
// per-company cursors and leases, per-assignment and per-invoice states.
const ReconcileBucket = "MAVENTA_RECONCILE"

// ReconcileStore reads and writes JSON values in the reconcile bucket with
// compare-and-set, so replicas never overwrite each other's progress.
type ReconcileStore struct {
	kv jetstream.KeyValue
}

// EnsureReconcileStore creates or updates the bucket. Keys unused for ttl
// vanish (cursors and leases are rewritten every poll; a long-silent
// assignment's cached state is simply fetched again).
func EnsureReconcileStore(ctx context.Context, js jetstream.JetStream, replicas int, ttl time.Duration) (*ReconcileStore, error) {
	if replicas <= 0 {
		replicas = 1
	}
	if ttl <= 0 {
		ttl = 90 * 24 * time.Hour
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      ReconcileBucket,
		Description: "Reconciliation cursors, leases and assignment/invoice states",
		History:     1,
		TTL:         ttl,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("reconcile bucket: %w", err)
	}
	return &ReconcileStore{kv: kv}, nil
}

// NewKVRecords returns the records kept in kv (the facts bucket of
// EnsurePipeline; EnsureReconcileStore makes the reconcile one).
func NewKVRecords(kv jetstream.KeyValue) *ReconcileStore { return &ReconcileStore{kv: kv} }

// KVRequestTimeout bounds one KV read or write. A request whose reply is lost
// (sent to a NATS node that dies, or on a connection that breaks) is never
// answered, and without this bound it would wait out its caller's context
// (a webhook's is 4 × AckWait, 2 minutes) instead of failing and being retried.
const KVRequestTimeout = 10 * time.Second

// Load implements consumers.Records.
func (s *ReconcileStore) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, KVRequestTimeout)
	defer cancel()
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", key, err)
	}
	return e.Value(), e.Revision(), nil
}

// Store implements consumers.Records.
func (s *ReconcileStore) Store(ctx context.Context, key string, b []byte, rev uint64) error {
	ctx, cancel := context.WithTimeout(ctx, KVRequestTimeout)
	defer cancel()
	var err error
	if rev == 0 {
		_, err = s.kv.Create(ctx, key, b)
	} else {
		_, err = s.kv.Update(ctx, key, b, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || isWrongSequence(err) {
		return consumers.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

// Put implements consumers.PollStore.
func (s *ReconcileStore) Put(ctx context.Context, key string, b []byte) error {
	if _, err := s.kv.Put(ctx, key, b); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

// List implements consumers.PollStore: one watch of the bucket that ends
// once every stored value was delivered.
func (s *ReconcileStore) List(ctx context.Context, prefix string, f func(key string, value []byte)) error {
	w, err := s.kv.Watch(ctx, prefix+">", jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("watch %s>: %w", prefix, err)
	}
	closed, err := follow(ctx, w, func(e jetstream.KeyValueEntry) bool {
		if e == nil {
			return false // every stored value was delivered
		}
		f(e.Key(), e.Value())
		return true
	})
	if closed {
		return fmt.Errorf("watch %s>: closed", prefix)
	}
	return err
}

// Watch implements consumers.PollStore.
func (s *ReconcileStore) Watch(ctx context.Context, prefix string, f func(key string)) error {
	w, err := s.kv.Watch(ctx, prefix+">", jetstream.UpdatesOnly(), jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("watch %s>: %w", prefix, err)
	}
	_, err = follow(ctx, w, func(e jetstream.KeyValueEntry) bool {
		if e != nil {
			f(e.Key())
		}
		return true
	})
	return err
}

// follow hands f every update of w (nil: the stored values were all
// delivered) until f returns false, w closes (closed) or ctx ends (its
// error), then stops w.
func follow(ctx context.Context, w jetstream.KeyWatcher, f func(jetstream.KeyValueEntry) bool) (closed bool, err error) {
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				// The watcher also closes when ctx (it was created with) ends:
				// that is ctx's end, not the watch closing under us.
				if err := ctx.Err(); err != nil {
					return false, err
				}
				return true, nil
			}
			if !f(e) {
				return false, nil
			}
		}
	}
}

func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// OpenReconcileStore opens the existing reconcile bucket; ok is false when it
// does not exist (no replica has run yet).
func OpenReconcileStore(ctx context.Context, js jetstream.JetStream) (s *ReconcileStore, ok bool, err error) {
	kv, err := js.KeyValue(ctx, ReconcileBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("kv bucket %s: %w", ReconcileBucket, err)
	}
	return &ReconcileStore{kv: kv}, true, nil
}

// ReadSchedulerStatus is consumers.ReadSchedulerStatus of the reconcile
// bucket; empty when there is none.
func ReadSchedulerStatus(ctx context.Context, js jetstream.JetStream, cfg consumers.PollerConfig, now time.Time) (consumers.SchedulerStatus, error) {
	s, ok, err := OpenReconcileStore(ctx, js)
	if err != nil || !ok {
		return consumers.SchedulerStatus{Tiers: []consumers.TierSummary{}, Replicas: []consumers.ReplicaBudget{}}, err
	}
	return consumers.ReadSchedulerStatus(ctx, s, cfg, now)
}
