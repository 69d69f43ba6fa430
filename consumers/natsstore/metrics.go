package natsstore

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/maventa-bridge/maventa-events/consumers"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Instruments of the NATS edge, created once from the global meter: they cost
// next to nothing until cmd/maventa-events installs a meter provider, and need
// no wiring.
//
// To add an instrument (reconciliation's poll lag and missed webhooks, say),
// follow the same pattern in this package (here or in the file that records it):
// a package-level instrument from meter, a name under "maventa.", a UCUM unit
// ("s", "By") or an annotation in braces ("{webhook}"), and attributes with a
// small, fixed set of values (never a company id, invoice id or raw path):
//
//	var reconcileLag, _ = meter.Float64Gauge("maventa.reconcile.lag",
//		metric.WithUnit("s"),
//		metric.WithDescription("Age of the newest change seen by the last reconciliation poll"))
//	var missedWebhooks, _ = meter.Int64Counter("maventa.reconcile.missed_webhooks",
//		metric.WithUnit("{event}"),
//		metric.WithDescription("Domain events found by polling that no webhook had produced"))
//
//	reconcileLag.Record(ctx, lag.Seconds(), metric.WithAttributes(attrAPI.String("receivables")))
//	missedWebhooks.Add(ctx, int64(n))
//
// Code outside this package (cmd/) gets the same meter with
// otel.Meter(consumers.InstrumentationName). Values that are expensive to read
// (a consumer's info from the server) are refreshed on a timer and reported by
// an observable gauge's callback, as the webhook consumer's are below, never
// fetched per scrape.
var (
	meter = otel.Meter(consumers.InstrumentationName)

	storeFailures, _ = meter.Int64Counter("maventa.webhooks.store.failures",
		metric.WithUnit("{failure}"),
		metric.WithDescription("Webhook or quarantine writes that JetStream did not acknowledge (answered 503)"))
	deadLetters, _ = meter.Int64Counter("maventa.deadletters",
		metric.WithUnit("{message}"),
		metric.WithDescription("Stored webhooks moved to the dead-letter stream, by reason"))
	eventsEmitted, _ = meter.Int64Counter("maventa.events.emitted",
		metric.WithUnit("{event}"),
		metric.WithDescription("New domain events published (duplicates and already processed ones excluded), by type"))
	messagesProcessed, _ = meter.Int64Counter("maventa.consumer.messages",
		metric.WithUnit("{message}"),
		metric.WithDescription("Stored webhooks handled by the consumer, by outcome (ack, retry, dead_letter)"))
)

// Metric attribute keys.
const (
	attrReason    = attribute.Key("reason")
	attrOutcome   = attribute.Key("outcome")
	attrEventType = attribute.Key("cloudevents.event_type")
	attrErrorType = attribute.Key("error.type")
)

// consumerStats is the last info read from one durable consumer.
type consumerStats struct {
	attrs                              attribute.Set
	known                              atomic.Bool
	pending, ackPending, redeliveredAt atomic.Int64
}

// consumerGauges are the webhook consumers' observable gauges, made once.
var consumerGauges = sync.OnceValue(func() [3]metric.Int64ObservableGauge {
	pending, _ := meter.Int64ObservableGauge("maventa.consumer.pending",
		metric.WithUnit("{message}"),
		metric.WithDescription("Stored webhooks not yet delivered to the durable consumer (read every ConsumerConfig.InfoInterval)"))
	ackPending, _ := meter.Int64ObservableGauge("maventa.consumer.ack_pending",
		metric.WithUnit("{message}"),
		metric.WithDescription("Stored webhooks delivered and not yet answered"))
	redelivered, _ := meter.Int64ObservableGauge("maventa.consumer.redelivered",
		metric.WithUnit("{message}"),
		metric.WithDescription("Stored webhooks delivered more than once and not yet answered"))
	return [3]metric.Int64ObservableGauge{pending, ackPending, redelivered}
})

// observe reports s through the consumer gauges until the registration is
// unregistered (when its consumer stops).
func (s *consumerStats) observe() (metric.Registration, error) {
	g := consumerGauges()
	return meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		if s.known.Load() {
			o.ObserveInt64(g[0], s.pending.Load(), metric.WithAttributeSet(s.attrs))
			o.ObserveInt64(g[1], s.ackPending.Load(), metric.WithAttributeSet(s.attrs))
			o.ObserveInt64(g[2], s.redeliveredAt.Load(), metric.WithAttributeSet(s.attrs))
		}
		return nil
	}, g[0], g[1], g[2])
}
