package natsstore

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers"
	"github.com/maventa-bridge/maventa-events/consumers/natstest"
)

// The reconcile bucket keeps the consumers.PollStore contract the poller is
// written against (and its in-memory double in consumers imitates).
func TestReconcileStoreKeepsThePollStoreContract(t *testing.T) {
	ctx := context.Background()
	b := connect(t, natstest.Start(t, "").ClientURL())
	s, err := EnsureReconcileStore(ctx, b.JS, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	var _ consumers.PollStore = s

	t.Run("compare-and-set refuses a stale revision with ErrConflict", func(t *testing.T) {
		if v, rev, err := s.Load(ctx, "cas.a"); v != nil || rev != 0 || err != nil {
			t.Fatalf("absent key: %q %d %v", v, rev, err)
		}
		if err := s.Store(ctx, "cas.a", []byte("1"), 0); err != nil {
			t.Fatal(err)
		}
		if err := s.Store(ctx, "cas.a", []byte("2"), 0); !errors.Is(err, consumers.ErrConflict) {
			t.Fatalf("create of an existing key: %v, want ErrConflict", err)
		}
		_, rev, _ := s.Load(ctx, "cas.a")
		if err := s.Store(ctx, "cas.a", []byte("2"), rev+7); !errors.Is(err, consumers.ErrConflict) {
			t.Fatalf("update at a wrong revision: %v, want ErrConflict", err)
		}
		if err := s.Store(ctx, "cas.a", []byte("2"), rev); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("list gives every value under the prefix, then returns", func(t *testing.T) {
		for _, k := range []string{"list.a", "list.x.b", "other.c"} {
			if err := s.Put(ctx, k, []byte(k)); err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		if err := s.List(ctx, "list.", func(k string, v []byte) {
			if string(v) != k {
				t.Errorf("%s holds %q", k, v)
			}
			got = append(got, k)
		}); err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if want := []string{"list.a", "list.x.b"}; !slices.Equal(got, want) {
			t.Fatalf("listed %v, want %v", got, want)
		}
		if err := s.List(ctx, "none.", func(string, []byte) { t.Error("a value under an empty prefix") }); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("watch reports new writes under the prefix until ctx ends", func(t *testing.T) {
		if err := s.Put(ctx, "watch.old", nil); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithCancel(ctx)
		keys := make(chan string, 8)
		done := make(chan error, 1)
		go func() { done <- s.Watch(wctx, "watch.", func(k string) { keys <- k }) }()
		// Writes keep coming until the watcher (started asynchronously) reports one.
		natstest.WaitFor(t, 10*time.Second, "the watch reports a new write", func() bool {
			if err := s.Put(ctx, "other.new", nil); err != nil {
				t.Fatal(err)
			}
			if err := s.Put(ctx, "watch.new", nil); err != nil {
				t.Fatal(err)
			}
			select {
			case k := <-keys:
				if k != "watch.new" {
					t.Fatalf("watch reported %q", k)
				}
				return true
			default:
				return false
			}
		})
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("watch ended with %v, want context.Canceled", err)
		}
	})
}

// The dead-letter queue tells a missing stream and a missing dead letter apart
// from other failures.
func TestDeadLetterQueueNamesWhatIsMissing(t *testing.T) {
	ctx := context.Background()
	b := connect(t, natstest.Start(t, "").ClientURL())
	if _, err := OpenDeadLetterQueue(ctx, b.JS, PipelineConfig{}, StreamsConfig{}); !errors.Is(err, ErrNoDeadLetterStream) {
		t.Fatalf("open before provisioning: %v, want ErrNoDeadLetterStream", err)
	}
	if _, err := EnsurePipeline(ctx, b.JS, PipelineConfig{}, quiet); err != nil {
		t.Fatal(err)
	}
	q, err := OpenDeadLetterQueue(ctx, b.JS, PipelineConfig{}, StreamsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Get(ctx, 42); !errors.Is(err, ErrDeadLetterNotFound) {
		t.Fatalf("get of a missing sequence: %v, want ErrDeadLetterNotFound", err)
	}
	n := 0
	if err := q.Each(ctx, DeadLetterFilter("", ""), func(DeadLetter) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("each over an empty queue: %d, %v", n, err)
	}
	if _, err := q.Replay(ctx, DeadLetter{Seq: 1}); err == nil {
		t.Fatal("replay of a dead letter without its subject succeeded")
	}
}
