package natsstore

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// leaseMsg counts InProgress calls and signals the second one.
type leaseMsg struct {
	jetstream.Msg
	beats  atomic.Int32
	second chan struct{}
}

func (m *leaseMsg) InProgress() error {
	if m.beats.Add(1) == 2 {
		close(m.second)
	}
	return nil
}

// The heartbeat is one self-re-arming timer: a handler that outlives several
// AckWait/3 periods must get a beat in each of them, not only the first.
func TestKeepingLeaseBeatsUntilTheHandlerReturns(t *testing.T) {
	msg := &leaseMsg{second: make(chan struct{})}
	c := &WebhookConsumer{cfg: ConsumerConfig{AckWait: 30 * time.Millisecond}}
	c.handle = func(ctx context.Context, _ jetstream.Msg) error {
		select {
		case <-msg.second: // the handler returns only once two beats arrived
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.keepingLease(msg, func() error { return c.handle(ctx, msg) }); err != nil {
		t.Fatalf("the handler saw no second heartbeat: %v (beats %d)", err, msg.beats.Load())
	}
}
