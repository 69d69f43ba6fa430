package consumers

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// deadlineKV records whether each request had a deadline within
// KVRequestTimeout; every call fails at once.
type deadlineKV struct {
	jetstream.KeyValue
	bounded []bool
}

var errFake = errors.New("fake kv")

func (k *deadlineKV) note(ctx context.Context) error {
	d, ok := ctx.Deadline()
	k.bounded = append(k.bounded, ok && time.Until(d) <= KVRequestTimeout)
	return errFake
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

// TestKVRequestsAreBoundedOneByOne: a KV request whose reply is lost (a NATS
// node dies with it) must fail after KVRequestTimeout and be retried, not wait
// out its caller's much longer context. That wait held webhooks for 2 minutes
// in TestTwoReplicasOnAThreeNodeClusterSurviveLosingANode.
func TestKVRequestsAreBoundedOneByOne(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour) // a long caller context
	defer cancel()
	tests := []struct {
		name string
		call func(*ReconcileStore) error
	}{
		{"load", func(s *ReconcileStore) error { _, _, err := s.Load(ctx, "k"); return err }},
		{"create", func(s *ReconcileStore) error { return s.Store(ctx, "k", []byte("{}"), 0) }},
		{"update", func(s *ReconcileStore) error { return s.Store(ctx, "k", []byte("{}"), 3) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kv := &deadlineKV{}
			if err := tt.call(NewKVRecords(kv)); !errors.Is(err, errFake) {
				t.Fatalf("err %v", err)
			}
			if len(kv.bounded) != 1 || !kv.bounded[0] {
				t.Errorf("request bounded: %v, want [true]", kv.bounded)
			}
		})
	}
}
