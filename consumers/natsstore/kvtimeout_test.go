package natsstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers/natstest"
)

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
			kv := &natstest.RecordingKV{}
			if err := tt.call(NewKVRecords(kv)); !errors.Is(err, natstest.ErrRecordedKV) {
				t.Fatalf("err %v", err)
			}
			if left := kv.Left(); len(left) != 1 || left[0] < 0 || left[0] > KVRequestTimeout {
				t.Errorf("time left per request %v, want one of at most %v", left, KVRequestTimeout)
			}
		})
	}
}
