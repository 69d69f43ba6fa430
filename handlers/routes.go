// Package handlers is the HTTP edge of the service: the Maventa webhook receiver
// and the health endpoints, all routes in one place.
package handlers

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
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
// Every request except the health checks is traced and measured by
// serverTelemetry (see tracing.go).
func NewRouter(cfg WebhookConfig, store Store, ready ReadyFunc, log *slog.Logger) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Use(accessLog(log))
	r.Method(http.MethodPost, WebhookPath, handleWebhook(cfg, store, log))
	r.Get("/healthz", handleHealthz())
	r.Get("/readyz", handleReadyz(ready))
	return serverTelemetry(r)
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
