package consumers

import (
	"context"
	"time"

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

// Scheduling instruments, by tier (their names are what the dashboards and
// alerts in deploy/ use: keep them).
var (
	pollLagHist, _ = meter.Float64Histogram("maventa.reconcile.poll.lag",
		metric.WithUnit("s"),
		metric.WithDescription("Time since a company's previous poll, when it is polled again, by tier"),
		metric.WithExplicitBucketBoundaries(1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400))
	tierCompanies, _ = meter.Int64ObservableGauge("maventa.reconcile.companies",
		metric.WithUnit("{company}"),
		metric.WithDescription("Companies this replica polls, by tier"))
	tierOverdue, _ = meter.Int64ObservableGauge("maventa.reconcile.overdue",
		metric.WithUnit("{company}"),
		metric.WithDescription("Companies not polled for more than twice their tier's ceiling, by tier"))
	budgetNeed, _ = meter.Float64ObservableGauge("maventa.reconcile.budget.need",
		metric.WithUnit("1"),
		metric.WithDescription("Share of polling's Maventa budget this replica's companies need at their tiers' ceilings, by host (the sizing model; above 1: polled later than the ceilings)"))
)

const attrHost = attribute.Key("maventa.host")

// needs is the last sizing check's share of polling's budget per host (nil
// before the first check, or when the budget is not known).
func (p *Poller) needs() map[string]float64 {
	p.needMu.Lock()
	defer p.needMu.Unlock()
	return p.need
}

const attrTier = attribute.Key("tier")

func lagRecorded(ctx context.Context, t Tier, lag time.Duration) {
	pollLagHist.Record(ctx, lag.Seconds(), metric.WithAttributes(attrTier.String(string(t))))
}

// observeTiers reports p's tiers through the gauges until unregistered.
func (p *Poller) observeTiers() (metric.Registration, error) {
	return meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, ts := range p.TierStats() {
			attrs := metric.WithAttributes(attrTier.String(string(ts.Tier)))
			o.ObserveInt64(tierCompanies, int64(ts.Companies), attrs)
			o.ObserveInt64(tierOverdue, int64(ts.Overdue), attrs)
		}
		for host, share := range p.needs() {
			o.ObserveFloat64(budgetNeed, share, metric.WithAttributes(attrHost.String(host)))
		}
		return nil
	}, tierCompanies, tierOverdue, budgetNeed)
}

const attrCompany = attribute.Key("maventa.company_id")

func companyAttr(c string) metric.MeasurementOption {
	return metric.WithAttributes(attrCompany.String(c))
}

func recordPoll(ctx context.Context, r CompanyPoll, lagSeconds float64) {
	reconcileLag.Record(ctx, lagSeconds, companyAttr(r.Company))
	reconcileCalls.Record(ctx, int64(r.Calls), companyAttr(r.Company))
	reconcileEvents.Add(ctx, int64(r.Events), companyAttr(r.Company))
}
