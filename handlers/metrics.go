package handlers

import (
	"context"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/maventa-bridge/maventa-events/maventa"
)

// Instruments of the webhook endpoint, created once from the global meter: they
// cost next to nothing until cmd/maventa-events installs a meter provider.
var (
	meter = otel.Meter("github.com/maventa-bridge/maventa-events/handlers")

	// webhooksReceived counts webhook requests by event family and outcome.
	webhooksReceived, _ = meter.Int64Counter("maventa.webhooks.received",
		metric.WithUnit("{webhook}"),
		metric.WithDescription("Webhook requests by event family (first token of the event name) and outcome"))
	// ackDuration is the time from the request's start to the store's acknowledgement.
	ackDuration, _ = meter.Float64Histogram("maventa.webhooks.ack.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Time from a webhook request's start to JetStream's acknowledgement of its write"),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5))
)

// Attribute keys of the webhook metrics and span.
const (
	attrFamily    = attribute.Key("maventa.event.family")
	attrOutcome   = attribute.Key("outcome")
	attrEvent     = attribute.Key("maventa.event")
	attrCompanyID = attribute.Key("maventa.company_id")
)

// Outcomes of a webhook request as counted by maventa.webhooks.received.
const (
	outcomeStored       = "stored"
	outcomeDuplicate    = "duplicate"
	outcomeUnauthorized = "unauthorized"
	outcomeInvalid      = "invalid"
	outcomeTooLarge     = "too_large"
	outcomeUnavailable  = "unavailable"
	// outcomeRefused: authenticated and valid, but the store refused the message
	// itself (too large for NATS, headers or subject it cannot take).
	outcomeRefused = "refused"
)

// familyUnknown is the family of a request whose event name was never read.
const familyUnknown = "unknown"

// eventFamily is the first token of an event name, limited to the areas Maventa
// documents (plus the assumed SERVICES) so that outside input cannot create
// unbounded metric series.
func eventFamily(event string) string {
	first, _, _ := strings.Cut(event, ".")
	switch first {
	case maventa.AreaDocuments, maventa.AreaNetworks, maventa.AreaCompanies, "SERVICES":
		return first
	case "":
		return familyUnknown
	}
	return "other"
}

// recordWebhook counts one answered webhook request; stored ones (new or
// duplicate) also record the time to their acknowledgement.
func recordWebhook(ctx context.Context, family, outcome string, start time.Time) {
	opt := webhookSeries.get([2]string{family, outcome}, func(k [2]string) attribute.Set {
		return attribute.NewSet(attrFamily.String(k[0]), attrOutcome.String(k[1]))
	})
	webhooksReceived.Add(ctx, 1, opt)
	if outcome == outcomeStored || outcome == outcomeDuplicate {
		ackDuration.Record(ctx, time.Since(start).Seconds(), opt)
	}
}

// webhookSeries: family and outcome are bounded (eventFamily, the outcome
// constants).
var webhookSeries seriesCache[[2]string]
