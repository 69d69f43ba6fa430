package consumers

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Reconciliation instruments. Unlike the others they carry the company id: the
// operators' question is "which company lags or fails", and the number of
// companies is bounded by the configured credentials, not by traffic.
var (
	reconcileLag, _ = meter.Float64Gauge("maventa.reconcile.lag",
		metric.WithUnit("s"),
		metric.WithDescription("Poll lag per company: now minus the newest assignment event seen by its last poll"))
	reconcileCalls, _ = meter.Int64Histogram("maventa.reconcile.poll.calls",
		metric.WithUnit("{call}"),
		metric.WithDescription("Maventa API calls made by one company poll"))
	reconcileEvents, _ = meter.Int64Counter("maventa.reconcile.events.read",
		metric.WithUnit("{event}"),
		metric.WithDescription("Assignment events read by polling (the overlap window included)"))
	missedWebhooks, _ = meter.Int64Counter("maventa.reconcile.missed_webhooks",
		metric.WithUnit("{event}"),
		metric.WithDescription("Assignments and invoice statuses found only by polling, that a webhook should have announced"))
	reconcileErrors, _ = meter.Int64Counter("maventa.reconcile.errors",
		metric.WithUnit("{poll}"),
		metric.WithDescription("Company polls that failed (the company backs off alone)"))
	leaseChanges, _ = meter.Int64Counter("maventa.reconcile.lease_changes",
		metric.WithUnit("{lease}"),
		metric.WithDescription("Companies this replica took over from another poller"))
)

const attrCompany = attribute.Key("maventa.company_id")

func companyAttr(c string) metric.MeasurementOption {
	return metric.WithAttributes(attrCompany.String(c))
}

func recordPoll(ctx context.Context, r CompanyPoll, lagSeconds float64) {
	reconcileLag.Record(ctx, lagSeconds, companyAttr(r.Company))
	reconcileCalls.Record(ctx, int64(r.Calls), companyAttr(r.Company))
	reconcileEvents.Add(ctx, int64(r.Events), companyAttr(r.Company))
}
