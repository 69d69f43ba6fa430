package handlers

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// The server side of the HTTP semantic conventions, recorded by serverTelemetry.
//
// This replaces otelhttp's handler on the webhook route: its middleware cost
// 36 of the 109 allocations and about half of the handler's time per request
// (BenchmarkWebhookRequest), whether or not anything was exported, at the rate
// where Maventa's 5 s answer budget matters most. The client side (calls to
// Maventa) still uses otelhttp's transport.
const tracerName = "github.com/maventa-bridge/maventa-events/handlers"

var (
	tracer = otel.Tracer(tracerName)

	// requestDuration is the conventional http.server.request.duration, with
	// the method, the route template and the status code.
	requestDuration, _ = meter.Float64Histogram("http.server.request.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of HTTP server requests"),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10))
)

// Semantic-convention attribute keys of the server span and metric.
const (
	attrHTTPMethod = attribute.Key("http.request.method")
	attrHTTPRoute  = attribute.Key("http.route")
	attrHTTPStatus = attribute.Key("http.response.status_code")
	attrURLPath    = attribute.Key("url.path")
	attrURLScheme  = attribute.Key("url.scheme")
	attrUserAgent  = attribute.Key("user_agent.original")
	attrClientAddr = attribute.Key("client.address")
	attrErrorType  = attribute.Key("error.type")
)

// serverTelemetry wraps the router: one server span per request (continuing the
// caller's traceparent, named "METHOD /route" once chi has routed it) and one
// http.server.request.duration measurement. Health checks are neither traced
// nor measured: probes every few seconds would drown what matters. The span
// holds the path only (url.path), never the query string, which may carry the
// secret. Attributes are built only for a span that records, so with tracing
// off (the default) a request costs a no-op span and one histogram record.
func serverTelemetry(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		method := methodOf(r.Method)
		name := method
		if method == "_OTHER" {
			name = "HTTP" // the conventions' name for a method they do not know
		}
		ctx, span := tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		// A route context given to chi is the one it fills in (instead of one
		// from its pool), so the matched template is still readable afterwards.
		st := &requestState{}
		rctx := &st.route
		next.ServeHTTP(ww, r.WithContext(edgeContext{Context: ctx, st: st}))

		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		route := rctx.RoutePattern()
		requestDuration.Record(ctx, time.Since(start).Seconds(), serverSeries(method, route, status))
		if !span.IsRecording() {
			return
		}
		if route != "" {
			span.SetName(name + " " + route)
			span.SetAttributes(attrHTTPRoute.String(route))
		}
		span.SetAttributes(
			attrHTTPMethod.String(method),
			attrURLPath.String(r.URL.Path),
			attrURLScheme.String(schemeOf(r)),
			attrHTTPStatus.Int(status),
			attrClientAddr.String(r.RemoteAddr),
		)
		if ua := r.UserAgent(); ua != "" {
			span.SetAttributes(attrUserAgent.String(ua))
		}
		if status >= 500 {
			// Only our failures are errors of this span; 4xx are the caller's.
			span.SetAttributes(attrErrorType.String(strconv.Itoa(status)))
			span.SetStatus(codes.Error, "")
		}
	})
}

// methodOf is the method as the conventions want it: known methods as they are,
// anything else _OTHER (so outside input cannot create unbounded series).
func methodOf(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

func schemeOf(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// serverSeriesKey identifies one series of http.server.request.duration. Its
// values are bounded: known methods, chi's route templates ("" when nothing
// matched) and status codes.
type serverSeriesKey struct {
	method, route string
	status        int
}

var serverSeriesCache seriesCache[serverSeriesKey]

// serverSeries is the attribute option of one series of
// http.server.request.duration; method is already methodOf's.
func serverSeries(method, route string, status int) metric.MeasurementOption {
	return serverSeriesCache.get(serverSeriesKey{method, route, status}, serverSeriesSet)
}

func serverSeriesSet(k serverSeriesKey) attribute.Set {
	attrs := []attribute.KeyValue{attrHTTPMethod.String(k.method), attrHTTPStatus.Int(k.status)}
	if k.route != "" {
		attrs = append(attrs, attrHTTPRoute.String(k.route))
	}
	if k.status >= 500 {
		attrs = append(attrs, attrErrorType.String(strconv.Itoa(k.status)))
	}
	return attribute.NewSet(attrs...)
}

// seriesCache holds the attribute option of each series of a metric whose
// attribute values are bounded, built on first use: making the set and the
// option on every request cost several allocations per webhook, which showed
// in the intake profile.
type seriesCache[K comparable] struct{ m sync.Map } // K -> metric.MeasurementOption

// get returns the option of series k, made from set(k) the first time.
func (c *seriesCache[K]) get(k K, set func(K) attribute.Set) metric.MeasurementOption {
	if o, ok := c.m.Load(k); ok {
		return o.(metric.MeasurementOption)
	}
	o, _ := c.m.LoadOrStore(k, metric.WithAttributeSet(set(k)))
	return o.(metric.MeasurementOption)
}
