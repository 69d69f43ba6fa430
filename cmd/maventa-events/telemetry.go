package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"go.opentelemetry.io/otel/trace/noop"
)

// telemetry is one service's OpenTelemetry setup: its tracer provider and
// exporters, its meter provider with the Prometheus handler for the admin
// listener, and its resource (OTEL_SERVICE_NAME...). Each service value sets up
// its own and shuts it down with it, so a second run() in one process (tests,
// or a restart in place) exports with its own settings.
type telemetry struct {
	// Metrics serves the meter provider's Prometheus reader (GET /metrics).
	Metrics http.Handler
	tp      *sdktrace.TracerProvider // nil: tracing off (spans go to the no-op)
	mp      *sdkmetric.MeterProvider // nil: OTEL_SDK_DISABLED
}

// processTelemetry is what the instrumented packages (handlers, consumers,
// maventa) bind to: they create their tracers and instruments from the global
// API in package variables, and otel binds those, once, to the first providers
// installed. So the process installs, once, a tracer provider that forwards
// each span to the running service's provider, and a meter provider whose
// instruments every service's readers read (through a metric producer).
// Nothing here is configured by a service; counters therefore count for the
// process, as a Prometheus client's do.
type processTelemetry struct {
	tracers     *tracerSwitch
	instruments *sdkmetric.ManualReader
}

var theProcessTelemetry = sync.OnceValue(func() *processTelemetry {
	pt := &processTelemetry{tracers: &tracerSwitch{}, instruments: sdkmetric.NewManualReader()}
	otel.SetTracerProvider(pt.tracers)
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(pt.instruments)))
	return pt
})

// Produce hands a service's readers what the process's instruments recorded.
func (pt *processTelemetry) Produce(ctx context.Context) ([]metricdata.ScopeMetrics, error) {
	var rm metricdata.ResourceMetrics
	err := pt.instruments.Collect(ctx, &rm)
	return rm.ScopeMetrics, err
}

// setupTelemetry builds a service's telemetry from the standard OTEL_* variables:
//
//   - the W3C TraceContext + Baggage propagator, always;
//   - a tracer provider exporting spans over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT
//     (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, using
//     OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf, the default, or grpc), or to
//     stdout with OTEL_TRACES_EXPORTER=console; none otherwise (the no-op,
//     so spans cost next to nothing); OTEL_TRACES_EXPORTER=none turns it off, and
//     the SDK reads OTEL_TRACES_SAMPLER(_ARG) and the exporters the other
//     OTEL_EXPORTER_OTLP_* settings (headers, timeout, TLS) themselves;
//   - a meter provider with a Prometheus reader (served at /metrics on the admin
//     listener), plus an OTLP reader when an endpoint is set and
//     OTEL_METRICS_EXPORTER is not none;
//   - a resource from OTEL_SERVICE_NAME (default maventa-events) and
//     OTEL_RESOURCE_ATTRIBUTES.
//
// OTEL_SDK_DISABLED=true sets up no provider at all (propagation still works).
// Shutdown exports what is buffered and stops them.
//
// go.opentelemetry.io/contrib/exporters/autoexport (v0.72.0) would choose the
// exporters from the same variables, but it reads them with os.Getenv, so
// run's getenv would no longer decide (nor tests set them); with
// OTEL_TRACES_EXPORTER unset it exports OTLP to localhost:4318 even when no
// endpoint is configured (retrying into the void, where this turns tracing
// off); its console exporter writes to os.Stdout, not run's stdout; and its
// "prometheus" reader serves a second HTTP server on localhost:9464 instead of
// the admin listener's /metrics. It would add console metrics and metric
// producers, which nobody here uses, and the log-exporter and Prometheus-bridge
// modules to the build.
func setupTelemetry(ctx context.Context, getenv func(string) string, stdout io.Writer, log *slog.Logger) (*telemetry, error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("opentelemetry", "err", err) }))
	reg := prometheus.NewRegistry()
	t := &telemetry{Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		log.Info("opentelemetry SDK disabled (OTEL_SDK_DISABLED)")
		return t, nil
	}
	res, err := resource.Merge(
		resource.NewSchemaless(attribute.String("service.name", "maventa-events")),
		envResource(getenv))
	if err == nil {
		// telemetry.sdk.*, host and process identity from the SDK's defaults.
		res, err = resource.Merge(resource.Default(), res)
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}

	pt := theProcessTelemetry()
	prom, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithProducer(pt))
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	spans, err := spanExporter(ctx, getenv, stdout)
	if err != nil {
		return nil, err
	}
	metrics, err := metricExporter(ctx, getenv)
	if err != nil {
		if spans != nil {
			_ = spans.Shutdown(ctx)
		}
		return nil, err
	}
	opts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(prom)}
	if metrics != nil {
		opts = append(opts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metrics, sdkmetric.WithProducer(pt))))
	}
	t.mp = sdkmetric.NewMeterProvider(opts...)
	if spans != nil {
		t.tp = sdktrace.NewTracerProvider(sdktrace.WithBatcher(spans), sdktrace.WithResource(res))
		pt.tracers.push(t.tp)
	}
	log.Info("opentelemetry", "traces", spans != nil, "otlp_metrics", metrics != nil,
		"endpoint", getenv("OTEL_EXPORTER_OTLP_ENDPOINT"), "protocol", otlpProtocol(getenv, "TRACES"))
	return t, nil
}

// envResource is the resource described by OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES (key=value,... with percent-encoded values), read
// through getenv so that tests can set them.
func envResource(getenv func(string) string) *resource.Resource {
	var attrs []attribute.KeyValue
	for _, kv := range strings.Split(getenv("OTEL_RESOURCE_ATTRIBUTES"), ",") {
		k, v, ok := strings.Cut(kv, "=")
		if k = strings.TrimSpace(k); !ok || k == "" {
			continue
		}
		if u, err := url.PathUnescape(strings.TrimSpace(v)); err == nil {
			v = u
		}
		attrs = append(attrs, attribute.String(k, v))
	}
	if name := strings.TrimSpace(getenv("OTEL_SERVICE_NAME")); name != "" {
		attrs = append(attrs, attribute.String("service.name", name))
	}
	return resource.NewSchemaless(attrs...)
}

// otlpProtocol is OTEL_EXPORTER_OTLP_<signal>_PROTOCOL, else
// OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf.
func otlpProtocol(getenv func(string) string, signal string) string {
	for _, k := range []string{"OTEL_EXPORTER_OTLP_" + signal + "_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
	}
	return "http/protobuf"
}

// otlpEndpointSet reports whether an OTLP endpoint is configured for signal.
func otlpEndpointSet(getenv func(string) string, signal string) bool {
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_"+signal+"_ENDPOINT") != ""
}

// spanExporter chooses the span exporter; nil means tracing stays off.
func spanExporter(ctx context.Context, getenv func(string) string, stdout io.Writer) (sdktrace.SpanExporter, error) {
	switch kind := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); kind {
	case "none":
		return nil, nil
	case "console":
		return stdouttrace.New(stdouttrace.WithWriter(stdout))
	case "", "otlp":
		if !otlpEndpointSet(getenv, "TRACES") {
			return nil, nil
		}
		switch p := otlpProtocol(getenv, "TRACES"); p {
		case "grpc":
			return otlptracegrpc.New(ctx)
		case "http/protobuf":
			return otlptracehttp.New(ctx)
		default:
			return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL %q: want http/protobuf or grpc", p)
		}
	default:
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER %q: want otlp, console or none", kind)
	}
}

// metricExporter chooses the OTLP metric exporter; nil means Prometheus only.
func metricExporter(ctx context.Context, getenv func(string) string) (sdkmetric.Exporter, error) {
	switch kind := strings.TrimSpace(getenv("OTEL_METRICS_EXPORTER")); kind {
	case "none", "prometheus":
		return nil, nil
	case "", "otlp":
		if !otlpEndpointSet(getenv, "METRICS") {
			return nil, nil
		}
		switch p := otlpProtocol(getenv, "METRICS"); p {
		case "grpc":
			return otlpmetricgrpc.New(ctx)
		case "http/protobuf":
			return otlpmetrichttp.New(ctx)
		default:
			return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL %q: want http/protobuf or grpc", p)
		}
	default:
		return nil, fmt.Errorf("OTEL_METRICS_EXPORTER %q: want otlp, prometheus or none", kind)
	}
}

// Shutdown exports every span and metric still buffered, bounded by
// timeout, and stops this service's providers; spans started afterwards go to
// the service that runs next, or nowhere. serve calls it on its way out.
func (t *telemetry) Shutdown(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var errs []error
	if t.tp != nil {
		theProcessTelemetry().tracers.remove(t.tp)
		errs = append(errs, t.tp.Shutdown(ctx))
	}
	if t.mp != nil {
		errs = append(errs, t.mp.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// tracerSwitch is a trace.TracerProvider whose tracers start each span with
// the provider of the service started last among those running with tracing,
// or the no-op when there is none.
type tracerSwitch struct {
	embedded.TracerProvider
	mu      sync.Mutex
	running []trace.TracerProvider
	current atomic.Pointer[trace.TracerProvider]
}

func (s *tracerSwitch) push(tp trace.TracerProvider) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running = append(s.running, tp)
	s.current.Store(&tp)
}

func (s *tracerSwitch) remove(tp trace.TracerProvider) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running = slices.DeleteFunc(s.running, func(r trace.TracerProvider) bool { return r == tp })
	if n := len(s.running); n > 0 {
		s.current.Store(&s.running[n-1])
	} else {
		s.current.Store(nil)
	}
}

func (s *tracerSwitch) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return &switchedTracer{s: s, name: name, opts: opts}
}

// switchedTracer is one instrumentation scope's tracer of a tracerSwitch.
type switchedTracer struct {
	embedded.Tracer
	s      *tracerSwitch
	name   string
	opts   []trace.TracerOption
	cached atomic.Pointer[providerTracer] // the tracer of the provider last used
}

// providerTracer is a provider's tracer for one scope: asking the SDK for it
// per span would take its lock and build a scope key every time.
type providerTracer struct {
	tp     *trace.TracerProvider
	tracer trace.Tracer
}

func (t *switchedTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	tp := t.s.current.Load()
	if tp == nil {
		return noop.Tracer{}.Start(ctx, name, opts...)
	}
	c := t.cached.Load()
	if c == nil || c.tp != tp {
		c = &providerTracer{tp: tp, tracer: (*tp).Tracer(t.name, t.opts...)}
		t.cached.Store(c)
	}
	return c.tracer.Start(ctx, name, opts...)
}
