package natsstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamStatus is one stream's state as `status` shows it.
type StreamStatus struct {
	Name      string     `json:"name"`
	Messages  uint64     `json:"messages"`
	Bytes     uint64     `json:"bytes"`
	FirstTime *time.Time `json:"first_time"` // null when empty
	LastTime  *time.Time `json:"last_time"`
	Replicas  int        `json:"replicas"`
}

// ConsumerStatus is one durable consumer's state as `status` shows it.
type ConsumerStatus struct {
	Stream      string     `json:"stream"`
	Name        string     `json:"name"`
	Pending     uint64     `json:"pending"`
	AckPending  int        `json:"ack_pending"`
	Redelivered int        `json:"redelivered"`
	LastActive  *time.Time `json:"last_active"` // last delivery; null when never
}

// BucketStatus is one KV bucket's size and TTL (0: values never expire).
type BucketStatus struct {
	Name  string
	Keys  uint64
	Bytes uint64
	TTL   time.Duration
}

// ReadStreams lists every stream (KV buckets' backing streams left out) and
// the consumers of each, by name.
func ReadStreams(ctx context.Context, js jetstream.JetStream) ([]StreamStatus, []ConsumerStatus, error) {
	streams, consumers := []StreamStatus{}, []ConsumerStatus{}
	sl := js.ListStreams(ctx)
	var infos []*jetstream.StreamInfo
	for si := range sl.Info() {
		infos = append(infos, si)
	}
	if err := sl.Err(); err != nil {
		return streams, consumers, fmt.Errorf("list streams: %w", err)
	}
	slices.SortFunc(infos, func(a, b *jetstream.StreamInfo) int { return strings.Compare(a.Config.Name, b.Config.Name) })
	for _, si := range infos {
		if strings.HasPrefix(si.Config.Name, "KV_") {
			continue // a KV bucket's backing stream: ReadBuckets shows it
		}
		ss := StreamStatus{Name: si.Config.Name, Messages: si.State.Msgs, Bytes: si.State.Bytes, Replicas: si.Config.Replicas}
		if si.State.Msgs > 0 {
			first, last := si.State.FirstTime.UTC(), si.State.LastTime.UTC()
			ss.FirstTime, ss.LastTime = &first, &last
		}
		streams = append(streams, ss)
		st, err := js.Stream(ctx, si.Config.Name)
		if err != nil {
			return streams, consumers, fmt.Errorf("stream %s: %w", si.Config.Name, err)
		}
		cl := st.ListConsumers(ctx)
		var cons []ConsumerStatus
		for ci := range cl.Info() {
			c := ConsumerStatus{Stream: ci.Stream, Name: ci.Name, Pending: ci.NumPending, AckPending: ci.NumAckPending, Redelivered: ci.NumRedelivered}
			if ci.Delivered.Last != nil {
				t := ci.Delivered.Last.UTC()
				c.LastActive = &t
			}
			cons = append(cons, c)
		}
		if err := cl.Err(); err != nil {
			return streams, consumers, fmt.Errorf("consumers of %s: %w", si.Config.Name, err)
		}
		slices.SortFunc(cons, func(a, b ConsumerStatus) int { return strings.Compare(a.Name, b.Name) })
		consumers = append(consumers, cons...)
	}
	return streams, consumers, nil
}

// ReadBuckets lists every KV bucket, by name.
func ReadBuckets(ctx context.Context, js jetstream.JetStream) ([]BucketStatus, error) {
	out := []BucketStatus{}
	kl := js.KeyValueStores(ctx)
	for kv := range kl.Status() {
		out = append(out, BucketStatus{Name: kv.Bucket(), Keys: kv.Values(), Bytes: kv.Bytes(), TTL: kv.TTL()})
	}
	if err := kl.Error(); err != nil {
		return out, fmt.Errorf("list kv buckets: %w", err)
	}
	slices.SortFunc(out, func(a, b BucketStatus) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
