package consumers

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"

	"github.com/maventa-bridge/maventa-events/events"
)

// InstrumentationName is the OTel instrumentation scope of the consumers'
// tracer and meter (this package's and its NATS adapter's).
const InstrumentationName = "github.com/maventa-bridge/maventa-events/consumers"

// meter makes the application's instruments; see natsstore/metrics.go for how
// to add one.
var meter = otel.Meter(InstrumentationName)

var enrichmentSkipped, _ = meter.Int64Counter("maventa.enrichment.skipped",
	metric.WithUnit("{webhook}"),
	metric.WithDescription("Webhooks whose enrichment from Maventa's APIs was skipped, by reason"))

const attrReason = attribute.Key("reason")

// TraceContextOf is the W3C trace context of ctx's current span, as the
// domain events' traceparent/tracestate extensions carry it; empty without a
// span.
func TraceContextOf(ctx context.Context) events.TraceContext {
	m := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, m)
	return events.TraceContext{TraceParent: m["traceparent"], TraceState: m["tracestate"]}
}
