package commandstream

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers/commands"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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

// TestRunnerStartingAndStopping: a shutdown while the runner is still setting
// up is a clean stop, as its end is; a missing command stream is an error.
func TestRunnerStartingAndStopping(t *testing.T) {
	tests := []struct {
		name    string
		ensure  bool // provision the command stream first
		cancel  bool // the context has ended when Run starts
		wantErr bool
	}{
		{name: "shut down while starting", ensure: true, cancel: true},
		{name: "no command stream", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := natstest.Start(t, "")
			nc, err := nats.Connect(ns.ClientURL())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(nc.Close)
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			if tt.ensure {
				if _, err := Ensure(t.Context(), js, StreamConfig{}, quiet); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if tt.cancel {
				cancel()
			}
			err = NewRunner(StreamConfig{}, js, nil, nil, quiet).Run(ctx)
			if (err != nil) != tt.wantErr {
				t.Errorf("Run = %v, want error %t", err, tt.wantErr)
			}
		})
	}
}
