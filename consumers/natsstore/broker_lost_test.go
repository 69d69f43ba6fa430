package natsstore

import (
	"context"
	"testing"
	"time"
)

// TestBrokerLostOnlyWhenNATSIsGoneForGood: Lost is closed when the embedded
// server stops or the connection closes under the broker, never by Close.
func TestBrokerLostOnlyWhenNATSIsGoneForGood(t *testing.T) {
	cases := []struct {
		name     string
		act      func(b *Broker)
		wantLost bool
	}{
		{"the embedded server stops", func(b *Broker) { b.server.Shutdown() }, true},
		{"the connection closes", func(b *Broker) { b.NC.Close() }, true},
		{"the broker is closed", func(b *Broker) { b.Close() }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := OpenBroker(context.Background(), BrokerConfig{DataDir: t.TempDir()}, quiet)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(b.Close)
			c.act(b)
			if !c.wantLost {
				b.Close() // idempotent; the embedded server has stopped when it returns
				select {
				case <-b.Lost():
					t.Fatal("Lost closed by the broker's own Close")
				default:
				}
				return
			}
			select {
			case <-b.Lost():
			case <-time.After(10 * time.Second):
				t.Fatal("Lost not closed within 10s")
			}
			if b.Connected() {
				t.Error("Connected with NATS gone for good")
			}
		})
	}
}
