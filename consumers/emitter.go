package consumers

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"

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
		dup, err := e.publish(ctx, ev)
		if err != nil {
			return n, err
		}
		if !dup {
			n++
		}
	}
	return n, nil
}

// publish sends one event within a producer span (a child of the processing
// span) and writes its processed marker. The span's context goes into both the
// lower-case traceparent/tracestate NATS headers and the CloudEvent extensions,
// so that a subscriber continues the trace whichever it reads.
func (e *Emitter) publish(ctx context.Context, ev events.Event) (dup bool, err error) {
	subject := ev.PublishSubject()
	ctx, span := startPublish(ctx, e.stream, subject, ev.MsgID(), 0,
		attrCloudEventID.String(ev.ID), attrCloudEventType.String(ev.Type), attrCompanyID.String(ev.CompanyID))
	defer func() {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "not published")
		}
		span.End()
	}()
	if tc := TraceContextOf(ctx); tc.TraceParent != "" {
		ev.TraceParent, ev.TraceState = tc.TraceParent, tc.TraceState
	}
	body, err := ev.Marshal()
	if err != nil {
		return false, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	if span.IsRecording() {
		span.SetAttributes(attrBodySize.Int(len(body)))
	}
	msg := &nats.Msg{Subject: subject, Data: body, Header: nats.Header{}}
	msg.Header.Set("Content-Type", "application/cloudevents+json")
	// Lower-case keys set directly: nats.Header is case-sensitive and non-Go
	// subscribers look for the W3C names exactly.
	inject(ctx, msg.Header)
	if ev.TraceParent != "" && msg.Header[headerTraceParent] == nil {
		msg.Header[headerTraceParent] = []string{ev.TraceParent}
		if ev.TraceState != "" {
			msg.Header[headerTraceState] = []string{ev.TraceState}
		}
	}
	ack, err := e.js.PublishMsg(ctx, msg, jetstream.WithMsgID(ev.MsgID()), jetstream.WithExpectStream(e.stream))
	if err != nil {
		return false, fmt.Errorf("publish event %s: %w", ev.ID, err)
	}
	if span.IsRecording() {
		span.SetAttributes(attrStreamSequence.Int64(int64(ack.Sequence)), attrDuplicate.Bool(ack.Duplicate))
	}
	if _, err := e.kv.Put(ctx, markerKey(ev.ID), []byte(strconv.FormatUint(ack.Sequence, 10))); err != nil {
		return false, fmt.Errorf("mark event %s processed: %w", ev.ID, err)
	}
	if !ack.Duplicate {
		eventsEmitted.Add(ctx, 1, metric.WithAttributes(attrEventType.String(ev.Type)))
	}
	return ack.Duplicate, nil
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

// markerKey is the KV key of an event id (UUIDs pass as they are).
func markerKey(id string) string { return "e." + kvKey(id) }
