package natsstore

import (
	"context"
	"fmt"

	"github.com/maventa-bridge/maventa-events/consumers"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/maventa-bridge/maventa-events/events"
)

// Emitter publishes domain events into the domain-event stream, each with
// Nats-Msg-Id = its deterministic id. It does not decide what is new: the
// per-aggregate records do (see update); the stream's duplicate window drops
// what a retry publishes again.
//
// Emit sends all its events before waiting for their acknowledgements (one
// round trip for the batch, not one per event); JetStream stores the messages
// of one connection in the order sent, so one call's events are stored in the
// order given.
type Emitter struct {
	js     jetstream.JetStream
	stream string
}

// NewEmitter returns an emitter into the domain-event stream of c.
func NewEmitter(js jetstream.JetStream, c PipelineConfig) *Emitter {
	return &Emitter{js: js, stream: c.withDefaults().EventStream}
}

// Emit publishes evs and returns how many were new to the stream (not
// dropped as duplicates).
func (e *Emitter) Emit(ctx context.Context, evs []events.Event) (int, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	type pending struct {
		ev   events.Event
		f    jetstream.PubAckFuture
		span trace.Span
		ctx  context.Context
	}
	ps := make([]pending, 0, len(evs))
	var firstErr error
	for _, ev := range evs {
		pctx, span, msg, err := e.message(ctx, ev)
		if err != nil {
			firstErr = err
			span.End()
			break
		}
		f, err := e.js.PublishMsgAsync(msg, jetstream.WithMsgID(ev.MsgID()), jetstream.WithExpectStream(e.stream))
		if err != nil {
			firstErr = fmt.Errorf("publish event %s: %w", ev.ID, err)
			span.RecordError(err)
			span.SetStatus(codes.Error, "not published")
			span.End()
			break
		}
		ps = append(ps, pending{ev: ev, f: f, span: span, ctx: pctx})
	}
	n := 0
	for _, p := range ps {
		var err error
		select {
		case ack := <-p.f.Ok():
			if p.span.IsRecording() {
				p.span.SetAttributes(attrStreamSequence.Int64(int64(ack.Sequence)), attrDuplicate.Bool(ack.Duplicate))
			}
			if !ack.Duplicate {
				n++
				eventsEmitted.Add(p.ctx, 1, metric.WithAttributes(attrEventType.String(p.ev.Type)))
			}
		case err = <-p.f.Err():
			err = fmt.Errorf("publish event %s: %w", p.ev.ID, err)
		case <-ctx.Done():
			err = fmt.Errorf("publish event %s: %w", p.ev.ID, ctx.Err())
		}
		if err != nil {
			p.span.RecordError(err)
			p.span.SetStatus(codes.Error, "not published")
			if firstErr == nil {
				firstErr = err
			}
		}
		p.span.End()
	}
	return n, firstErr
}

// message builds the NATS message of one event within a producer span (a
// child of the processing span). The span's context goes into both the
// lower-case traceparent/tracestate NATS headers and the CloudEvent
// extensions, so that a subscriber continues the trace whichever it reads.
func (e *Emitter) message(ctx context.Context, ev events.Event) (context.Context, trace.Span, *nats.Msg, error) {
	subject := ev.PublishSubject()
	ctx, span := startPublish(ctx, e.stream, subject, ev.MsgID(), 0,
		attrCloudEventID.String(ev.ID), attrCloudEventType.String(ev.Type), attrCompanyID.String(ev.CompanyID))
	if tc := consumers.TraceContextOf(ctx); tc.TraceParent != "" {
		ev.TraceParent, ev.TraceState = tc.TraceParent, tc.TraceState
	}
	body, err := ev.Marshal()
	if err != nil {
		return ctx, span, nil, fmt.Errorf("encode event %s: %w", ev.ID, err)
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
	return ctx, span, msg, nil
}
