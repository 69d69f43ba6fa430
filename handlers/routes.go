// Package handlers is the HTTP edge of the service: the Maventa webhook receiver
// and the health endpoints, all routes in one place.
package handlers

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// WebhookPath is where Maventa posts webhooks.
const WebhookPath = "/webhooks/maventa"

// ReadyFunc reports why the service cannot take webhooks now (nil when it can).
type ReadyFunc func(ctx context.Context) error

// NewRouter returns the service's whole HTTP surface:
//
//	POST /webhooks/maventa  receive a Maventa webhook
//	GET  /healthz           the process is alive
//	GET  /readyz            NATS connected and streams ready (503 otherwise)
//
// Every request except the health checks is traced with an OTel HTTP server
// span (through the global tracer provider; without one it costs next to
// nothing) named after its route, e.g. "POST /webhooks/maventa". The span holds
// the path only (url.path), never the query string that may carry the secret.
func NewRouter(cfg WebhookConfig, store Store, ready ReadyFunc, log *slog.Logger) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Use(accessLog(log))
	r.Use(routeSpan)
	r.Method(http.MethodPost, WebhookPath, handleWebhook(cfg, store, log))
	r.Get("/healthz", handleHealthz())
	r.Get("/readyz", handleReadyz(ready))
	return otelhttp.NewHandler(r, "maventa-events",
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }),
		// Probes every few seconds would drown the traces that matter.
		otelhttp.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/healthz" && r.URL.Path != "/readyz" }))
}

// routeSpan names the server span after the matched route template and adds
// http.route to the span and to otelhttp's request metrics, once chi has routed
// the request (chi does not set http.Request.Pattern, which otelhttp reads).
func routeSpan(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		rc := chi.RouteContext(r.Context())
		if rc == nil || rc.RoutePattern() == "" {
			return
		}
		route := attribute.String("http.route", rc.RoutePattern())
		span := trace.SpanFromContext(r.Context())
		span.SetName(r.Method + " " + rc.RoutePattern())
		span.SetAttributes(route)
		if l, ok := otelhttp.LabelerFromContext(r.Context()); ok {
			l.Add(route)
		}
	})
}

func handleHealthz() http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
	}
}

func handleReadyz(ready ReadyFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := ready(r.Context()); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not_ready", "reason": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}
}
