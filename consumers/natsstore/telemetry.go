package natsstore

import (
	"context"
	"net/http"
	"sync"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/maventa-bridge/maventa-events/consumers"
	"github.com/maventa-bridge/maventa-events/events"
)

var tracer = otel.Tracer(consumers.InstrumentationName)

// Span attribute keys (OTel messaging semantic conventions, plus ours).
const (
	attrMessagingSystem     = attribute.Key("messaging.system")
	attrDestinationName     = attribute.Key("messaging.destination.name")
	attrOperationType       = attribute.Key("messaging.operation.type")
	attrOperationName       = attribute.Key("messaging.operation.name")
	attrMessageID           = attribute.Key("messaging.message.id")
	attrConsumerGroup       = attribute.Key("messaging.consumer.group.name")
	attrBodySize            = attribute.Key("messaging.message.body.size")
	attrDeliveryCount       = attribute.Key("messaging.nats.message.delivery_count")
	attrStreamSequence      = attribute.Key("messaging.nats.stream.sequence")
	attrStream              = attribute.Key("messaging.nats.stream")
	attrDuplicate           = attribute.Key("messaging.nats.duplicate")
	attrEvent               = attribute.Key("maventa.event")
	attrCompanyID           = attribute.Key("maventa.company_id")
	attrCloudEventID        = attribute.Key("cloudevents.event_id")
	attrCloudEventType      = attribute.Key("cloudevents.event_type")
	attrProcessOutcome      = attribute.Key("maventa.outcome")
	messagingSystemNATS     = "nats"
	operationPublish        = "publish"
	operationProcess        = "process"
	headerTraceParent       = "traceparent"
	headerTraceState        = "tracestate"
	canonicalTraceParentKey = "Traceparent" // how stored webhooks carried it before
)

// headerCarrier adapts a nats.Header to the OTel propagators with the keys
// exactly as the propagator names them: the W3C names are lower-case and
// nats.Header, unlike http.Header, is case-sensitive, so Set must not
// canonicalize them (non-Go subscribers look for "traceparent"). Get also finds
// the canonical spelling, which messages stored by earlier versions carry.
type headerCarrier nats.Header

func (c headerCarrier) Get(key string) string {
	if v := c[key]; len(v) > 0 {
		return v[0]
	}
	if v := c[http.CanonicalHeaderKey(key)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c headerCarrier) Set(key, value string) { c[key] = []string{value} }

func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// inject writes the trace context of ctx into h under lower-case keys,
// replacing any trace context h already held.
func inject(ctx context.Context, h nats.Header) {
	delete(h, canonicalTraceParentKey)
	delete(h, "Tracestate")
	otel.GetTextMapPropagator().Inject(ctx, headerCarrier(h))
}

// extract returns ctx carrying the trace context stored in h.
func extract(ctx context.Context, h nats.Header) context.Context {
	return otel.GetTextMapPropagator().Extract(ctx, headerCarrier(h))
}

// StoredTraceContext is the trace context a stored webhook's headers carry
// (the HTTP request's span), for the events built from it when no span of the
// consumer is current.
func StoredTraceContext(h nats.Header) events.TraceContext {
	c := headerCarrier(h)
	return events.TraceContext{TraceParent: c.Get(headerTraceParent), TraceState: c.Get(headerTraceState)}
}

// startPublish starts a producer span for a publish to subject of stream. The
// attributes are built only when the span records: with tracing off (the
// default) this runs once per webhook and per domain event, and building them
// for a no-op span showed in the intake profile.
func startPublish(ctx context.Context, stream, subject, msgID string, size int, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	ctx, span := tracer.Start(ctx, publishSpanName(stream), trace.WithSpanKind(trace.SpanKindProducer))
	if span.IsRecording() {
		span.SetAttributes(
			attrMessagingSystem.String(messagingSystemNATS),
			attrDestinationName.String(subject),
			attrOperationType.String(operationPublish),
			attrOperationName.String(operationPublish),
			attrMessageID.String(msgID),
			attrStream.String(stream),
			attrBodySize.Int(size))
		span.SetAttributes(attrs...)
	}
	return ctx, span
}

// publishSpanName is "publish <stream>" without building the string per call
// (a process publishes to three or four streams).
func publishSpanName(stream string) string {
	if n, ok := publishSpanNames.Load(stream); ok {
		return n.(string)
	}
	n, _ := publishSpanNames.LoadOrStore(stream, "publish "+stream)
	return n.(string)
}

var publishSpanNames sync.Map // stream -> "publish " + stream
