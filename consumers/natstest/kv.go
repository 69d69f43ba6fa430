package natstest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrRecordedKV is what every request to a RecordingKV returns.
var ErrRecordedKV = errors.New("natstest: recorded, not sent")

// RecordingKV is a KV bucket that records the time each Get, Create and
// Update had left before its context's deadline (-1: no deadline) and fails
// it at once with ErrRecordedKV: for checking that a caller bounds every
// request, since a request whose reply is lost is never answered.
type RecordingKV struct {
	jetstream.KeyValue
	mu   sync.Mutex
	left []time.Duration
}

func (k *RecordingKV) record(ctx context.Context) error {
	left := time.Duration(-1)
	if d, ok := ctx.Deadline(); ok {
		left = time.Until(d)
	}
	k.mu.Lock()
	k.left = append(k.left, left)
	k.mu.Unlock()
	return ErrRecordedKV
}

// Left returns the recorded time left of every request so far.
func (k *RecordingKV) Left() []time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]time.Duration(nil), k.left...)
}

// Get implements jetstream.KeyValue.
func (k *RecordingKV) Get(ctx context.Context, _ string) (jetstream.KeyValueEntry, error) {
	return nil, k.record(ctx)
}

// Create implements jetstream.KeyValue.
func (k *RecordingKV) Create(ctx context.Context, _ string, _ []byte, _ ...jetstream.KVCreateOpt) (uint64, error) {
	return 0, k.record(ctx)
}

// Update implements jetstream.KeyValue.
func (k *RecordingKV) Update(ctx context.Context, _ string, _ []byte, _ uint64) (uint64, error) {
	return 0, k.record(ctx)
}
