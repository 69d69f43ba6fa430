package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
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
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// telemetry is the process's OpenTelemetry setup: the global tracer and meter
// providers that the instrumented packages (handlers, consumers, maventa) use
// through the global API, and the Prometheus handler for the admin listener.
type telemetry struct {
	// Metrics serves the meter provider's Prometheus reader (GET /metrics).
	Metrics http.Handler
	tp      *sdktrace.TracerProvider // nil: tracing off (the global no-op)
	mp      *sdkmetric.MeterProvider // nil: OTEL_SDK_DISABLED
}

// The providers are global to the process, and instruments created before the
// first provider is installed stay bound to it, so they are set up once per
// process (the first serve decides; tests start several services in one process).
// A second run in one process cannot get telemetry of its own while handlers,
// consumers and maventa create their instruments from the global API in
// package variables: otel delegates those to the first provider ever set, once.
// Giving each run its own providers needs those packages to take a
// MeterProvider and TracerProvider as dependencies.
var (
	telemetryOnce sync.Once
	telemetryInst *telemetry
	telemetryErr  error
)

// setupTelemetry installs, once per process, from the standard OTEL_* variables:
//
//   - the W3C TraceContext + Baggage propagator, always;
//   - a tracer provider exporting spans over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT
//     (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, using
//     OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf, the default, or grpc), or to
//     stdout with OTEL_TRACES_EXPORTER=console; none otherwise (the global no-op,
//     so spans cost next to nothing); OTEL_TRACES_EXPORTER=none turns it off, and
//     the SDK reads OTEL_TRACES_SAMPLER(_ARG) and the exporters the other
//     OTEL_EXPORTER_OTLP_* settings (headers, timeout, TLS) themselves;
//   - a meter provider with a Prometheus reader (served at /metrics on the admin
//     listener), plus an OTLP reader when an endpoint is set and
//     OTEL_METRICS_EXPORTER is not none;
//   - a resource from OTEL_SERVICE_NAME (default maventa-events) and
//     OTEL_RESOURCE_ATTRIBUTES.
//
// OTEL_SDK_DISABLED=true installs no provider at all (propagation still works).
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
	telemetryOnce.Do(func() {
		telemetryInst, telemetryErr = newTelemetry(ctx, getenv, stdout, log)
	})
	return telemetryInst, telemetryErr
}

func newTelemetry(ctx context.Context, getenv func(string) string, stdout io.Writer, log *slog.Logger) (*telemetry, error) {
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

	spans, err := spanExporter(ctx, getenv, stdout)
	if err != nil {
		return nil, err
	}
	if spans != nil {
		t.tp = sdktrace.NewTracerProvider(sdktrace.WithBatcher(spans), sdktrace.WithResource(res))
		otel.SetTracerProvider(t.tp)
	}

	prom, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	opts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(prom)}
	metrics, err := metricExporter(ctx, getenv)
	if err != nil {
		return nil, err
	}
	if metrics != nil {
		opts = append(opts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metrics)))
	}
	t.mp = sdkmetric.NewMeterProvider(opts...)
	otel.SetMeterProvider(t.mp)
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

// Flush exports every span and metric still buffered, bounded by timeout. serve
// calls it on its way out. The providers are not shut down: they belong to the
// process, which ends right after (and, in tests, starts further services).
func (t *telemetry) Flush(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var errs []error
	if t.tp != nil {
		errs = append(errs, t.tp.ForceFlush(ctx))
	}
	if t.mp != nil {
		errs = append(errs, t.mp.ForceFlush(ctx))
	}
	return errors.Join(errs...)
}
