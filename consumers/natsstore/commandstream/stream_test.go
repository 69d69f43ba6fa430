package commandstream

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers/commands"

	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/consumers/natstest"
)

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
		{"create", func(s *KVStore) error { _, err := s.Put(ctx, commands.Record{ID: "id"}, 0); return err }},
		{"update", func(s *KVStore) error { _, err := s.Put(ctx, commands.Record{ID: "id"}, 4); return err }},
		{"order cursor", func(s *KVStore) error { return (&orderGate{kv: s.kv}).Finished(ctx, 7, "k") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kv := &natstest.RecordingKV{}
			if err := tt.call(&KVStore{kv: kv}); !errors.Is(err, natstest.ErrRecordedKV) {
				t.Fatalf("err %v", err)
			}
			if left := kv.Left(); len(left) != 1 || left[0] < 0 || left[0] > natsstore.KVRequestTimeout {
				t.Errorf("time left per request %v, want one of at most %v", left, natsstore.KVRequestTimeout)
			}
		})
	}
}
