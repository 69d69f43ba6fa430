package maventa

import (
	"context"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Instruments of the Maventa client, created once from the global meter: they
// cost next to nothing until the program installs a meter provider. Spans of
// the HTTP calls come from the transport (Config.Transport wrapped with otelhttp).
var (
	meter = otel.Meter("github.com/maventa-bridge/maventa-events/maventa")

	apiCalls, _ = meter.Int64Counter("maventa.api.calls",
		metric.WithUnit("{request}"),
		metric.WithDescription("HTTP requests to Maventa's APIs (each attempt), by method, route template and status"))
	apiDuration, _ = meter.Float64Histogram("maventa.api.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of one HTTP request to Maventa's APIs, by method, route template and status"),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
	budgetRequests, _ = meter.Int64Counter("maventa.api.budget.requests",
		metric.WithUnit("{request}"),
		metric.WithDescription("Requests let through a host's budget, by host and class (priority, background); divide its rate by maventa.api.budget.limit for the use"))
	budgetWait, _ = meter.Float64Histogram("maventa.api.budget.wait",
		metric.WithUnit("s"),
		metric.WithDescription("Time a request waited for its host's budget, by host and class"),
		metric.WithExplicitBucketBoundaries(0, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60))
	tokenRefreshes, _ = meter.Int64Counter("maventa.api.token.refreshes",
		metric.WithUnit("{request}"),
		metric.WithDescription("OAuth2 token requests to Maventa, by outcome (ok, error)"))
)

// routeLiterals are the fixed segments of Maventa's API paths; any other
// segment is an id (UUID, business id, provider, invoice id...).
var routeLiterals = map[string]bool{
	"v1": true, "v2": true, "oauth2": true, "token": true,
	"assignments": true, "assignment": true, "events": true, "seen": true, "messages": true,
	"message_threads": true, "service_levels": true, "services": true, "receivables": true,
	"invoices": true, "company": true, "notifications": true, "companies": true,
}

// RouteTemplate is the low-cardinality form of an API path for metrics and span
// names: every segment that is not one of the API's fixed words becomes "{id}",
// e.g. /v1/assignments/fa97.../events -> /v1/assignments/{id}/events.
func RouteTemplate(path string) string {
	path, _, _ = strings.Cut(path, "?")
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if s != "" && !routeLiterals[s] {
			segs[i] = "{id}"
		}
	}
	return strings.Join(segs, "/")
}

// recordCall counts one HTTP attempt; status 0 means no answer arrived.
func recordCall(ctx context.Context, method, path string, status int, d time.Duration) {
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", method),
		attribute.String("http.route", RouteTemplate(path)),
	}
	if status > 0 {
		attrs = append(attrs, attribute.Int("http.response.status_code", status))
	} else {
		attrs = append(attrs, attribute.String("error.type", "transport"))
	}
	set := metric.WithAttributeSet(attribute.NewSet(attrs...))
	apiCalls.Add(ctx, 1, set)
	apiDuration.Record(ctx, d.Seconds(), set)
}

// recordTokenRefresh counts one token request.
func recordTokenRefresh(ctx context.Context, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	tokenRefreshes.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", outcome)))
}

const (
	attrHost  = attribute.Key("server.address")
	attrClass = attribute.Key("maventa.budget.class")
)

// recordBudget counts one request let through host's budget after waiting w.
func recordBudget(ctx context.Context, host string, background bool, w time.Duration) {
	class := "priority"
	if background {
		class = "background"
	}
	opt := metric.WithAttributes(attrHost.String(host), attrClass.String(class))
	budgetRequests.Add(ctx, 1, opt)
	budgetWait.Record(ctx, w.Seconds(), opt)
}

// ObserveBudgets reports the client's per-host budgets (requests per second
// allowed now, shrunk after a 429) as maventa.api.budget.limit, until
// unregistered. The service calls it once for its one client.
func (c *Client) ObserveBudgets() (metric.Registration, error) {
	g, err := meter.Float64ObservableGauge("maventa.api.budget.limit",
		metric.WithUnit("{request}/s"),
		metric.WithDescription("Requests per second a host's budget allows now (halved for a while after a 429), by host and class"))
	if err != nil {
		return nil, err
	}
	return meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, b := range c.Budgets() {
			o.ObserveFloat64(g, b.Limit, metric.WithAttributes(attrHost.String(b.Host), attrClass.String("all")))
			o.ObserveFloat64(g, b.BackgroundLimit, metric.WithAttributes(attrHost.String(b.Host), attrClass.String("background")))
		}
		return nil
	}, g)
}
