package consumers

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/events"
)

// Emitter publishes domain events so that each appears once, whichever path
// (webhook, enrichment, polling) produces it and however often.
//
// For each event, in order: if its processed marker exists, skip it; otherwise
// publish it with Nats-Msg-Id = its deterministic id and wait for the ack, then
// write the marker. A process dying after the publish and before the marker is
// covered by JetStream's duplicate window (the redelivery publishes the same id
// again within seconds and JetStream drops it); dying after the marker is
// covered by the marker. Markers live far longer than the window
// (PipelineConfig.ProcessedTTL), so the same Maventa fact seen again hours or
// days later, by a Maventa retry or by polling, is not emitted again.
//
// Publishing waits for each acknowledgement before the next event, so one
// emitter's events are stored in the order given.
type Emitter struct {
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	stream string
}

// NewEmitter returns an emitter into the domain-event stream of c, with markers in kv.
func NewEmitter(js jetstream.JetStream, kv jetstream.KeyValue, c PipelineConfig) *Emitter {
	return &Emitter{js: js, kv: kv, stream: c.withDefaults().EventStream}
}

// Emit publishes evs in order and returns how many were new.
func (e *Emitter) Emit(ctx context.Context, evs []events.Event) (int, error) {
	n := 0
	for _, ev := range evs {
		done, err := e.processed(ctx, ev.ID)
		if err != nil {
			return n, err
		}
		if done {
			continue
		}
		body, err := ev.Marshal()
		if err != nil {
			return n, fmt.Errorf("encode event %s: %w", ev.ID, err)
		}
		msg := &nats.Msg{Subject: ev.PublishSubject(), Data: body, Header: nats.Header{}}
		msg.Header.Set("Content-Type", "application/cloudevents+json")
		// Lower-case keys set directly: nats.Header is case-sensitive and non-Go
		// subscribers look for the W3C names exactly.
		if ev.TraceParent != "" {
			msg.Header["traceparent"] = []string{ev.TraceParent}
		}
		if ev.TraceState != "" {
			msg.Header["tracestate"] = []string{ev.TraceState}
		}
		ack, err := e.js.PublishMsg(ctx, msg, jetstream.WithMsgID(ev.MsgID()), jetstream.WithExpectStream(e.stream))
		if err != nil {
			return n, fmt.Errorf("publish event %s: %w", ev.ID, err)
		}
		if _, err := e.kv.Put(ctx, markerKey(ev.ID), []byte(strconv.FormatUint(ack.Sequence, 10))); err != nil {
			return n, fmt.Errorf("mark event %s processed: %w", ev.ID, err)
		}
		if !ack.Duplicate {
			n++
		}
	}
	return n, nil
}

func (e *Emitter) processed(ctx context.Context, id string) (bool, error) {
	_, err := e.kv.Get(ctx, markerKey(id))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("read processed marker %s: %w", id, err)
	}
}

// markerKey is the KV key of an event id. Event ids are UUIDs, valid KV keys as
// they are; SanitizeToken guards against anything else.
func markerKey(id string) string { return "e." + events.SanitizeToken(id) }
