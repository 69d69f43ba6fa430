package handlers

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// nopStore acknowledges every write at once, so that the benchmark measures
// the HTTP edge alone (routing, auth, parsing, telemetry, logging, answer).
type nopStore struct{}

func (nopStore) Store(context.Context, string, string, []byte, http.Header) (bool, error) {
	return false, nil
}

func (nopStore) Quarantine(context.Context, string, []byte, http.Header) (bool, error) {
	return false, nil
}

// BenchmarkWebhookRequest is one authenticated webhook through the whole
// router, with telemetry set up as the service runs by default: a meter
// provider with a reader (the Prometheus one in production) and no tracer
// provider. Run it alone, since the tests install a recording tracer:
//
//	go test -run '^$' -bench WebhookRequest -benchmem ./handlers/
func BenchmarkWebhookRequest(b *testing.B) {
	if telInstalled {
		b.Skip("the tests installed recording providers; run with -run '^$'")
	}
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader())))
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	secrets, err := NewSecrets([]string{"bench-secret"})
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h := NewRouter(WebhookConfig{Secrets: secrets}, nopStore{}, func(context.Context) error { return nil }, log)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, WebhookPath, strings.NewReader(validBody))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth("maventa", "bench-secret")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
