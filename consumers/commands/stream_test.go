package commands

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/consumers"
)

// deadlineKV records whether each request had a deadline within
// consumers.KVRequestTimeout; every call fails at once.
type deadlineKV struct {
	jetstream.KeyValue
	bounded []bool
}

var errFakeKV = errors.New("fake kv")

func (k *deadlineKV) note(ctx context.Context) error {
	d, ok := ctx.Deadline()
	k.bounded = append(k.bounded, ok && time.Until(d) <= consumers.KVRequestTimeout)
	return errFakeKV
}

func (k *deadlineKV) Get(ctx context.Context, _ string) (jetstream.KeyValueEntry, error) {
	return nil, k.note(ctx)
}

func (k *deadlineKV) Create(ctx context.Context, _ string, _ []byte, _ ...jetstream.KVCreateOpt) (uint64, error) {
	return 0, k.note(ctx)
}

func (k *deadlineKV) Update(ctx context.Context, _ string, _ []byte, _ uint64) (uint64, error) {
	return 0, k.note(ctx)
}

// TestRecordRequestsAreBoundedOneByOne: a record read or write whose reply is
// lost must fail after KVRequestTimeout and be retried, not hold the command
// for its whole (4 x AckWait) context.
func TestRecordRequestsAreBoundedOneByOne(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	tests := []struct {
		name string
		call func(*KVStore) error
	}{
		{"get", func(s *KVStore) error { _, _, err := s.Get(ctx, "id"); return err }},
		{"create", func(s *KVStore) error { _, err := s.Put(ctx, Record{ID: "id"}, 0); return err }},
		{"update", func(s *KVStore) error { _, err := s.Put(ctx, Record{ID: "id"}, 4); return err }},
		{"order cursor", func(s *KVStore) error { return (&orderGate{kv: s.kv}).finished(ctx, 7, "k") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kv := &deadlineKV{}
			if err := tt.call(&KVStore{kv: kv}); !errors.Is(err, errFakeKV) {
				t.Fatalf("err %v", err)
			}
			if len(kv.bounded) != 1 || !kv.bounded[0] {
				t.Errorf("requests bounded: %v, want [true]", kv.bounded)
			}
		})
	}
}
