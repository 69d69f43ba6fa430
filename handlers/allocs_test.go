package handlers

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Allocation bounds per webhook, measured when they were set (docs/performance.md)
// plus a small margin. A failure means a change made every webhook allocate
// more: find the new allocation (go test -bench . -benchmem -memprofile) and
// remove it, or raise the bound in the same commit and say why.
//
// They count allocations, not time, so they are deterministic on a shared
// machine. The edge is measured with the recording providers the other tests
// install (telemetry(t)), so the count does not depend on which test ran first.
const (
	// maxEdgeAllocs: one webhook through the whole router (request and
	// recorder included), with a recording tracer and meter. Measured 70
	// (88 at 94feb03, before the one-pass envelope and the shared request state).
	maxEdgeAllocs = 74
	// maxHandlerAllocs: handleWebhook alone (request and recorder included),
	// no span in the context. Measured 47 (60 at 94feb03).
	maxHandlerAllocs = 50
)

func TestWebhookAllocationsStayBounded(t *testing.T) {
	telemetry(t)
	secrets := mustSecrets(t, "bench-secret")
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	router := NewRouter(WebhookConfig{Secrets: secrets}, nopStore{}, func(context.Context) error { return nil }, log)
	handler := handleWebhook(WebhookConfig{Secrets: secrets}, nopStore{}, log)
	tests := []struct {
		name string
		h    http.Handler
		max  float64
	}{
		{"the whole edge: router, telemetry, access log, handler", router, maxEdgeAllocs},
		{"the handler: auth, body, envelope, metadata, answer", handler, maxHandlerAllocs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := testing.AllocsPerRun(200, func() {
				req := httptest.NewRequest(http.MethodPost, WebhookPath+"?secret=bench-secret", strings.NewReader(validBody))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				tt.h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					t.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			})
			t.Logf("%.0f allocations per webhook (bound %.0f)", got, tt.max)
			if got > tt.max {
				t.Errorf("%.0f allocations per webhook, more than the bound %.0f", got, tt.max)
			}
		})
	}
}
