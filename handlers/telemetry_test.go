package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// The providers are global and instruments bind to the first one installed, so
// every test of this package shares one recorder and one reader (tests compare
// before and after, or filter by trace id).
var (
	telOnce sync.Once
	spans   *tracetest.SpanRecorder
	mreader *sdkmetric.ManualReader
	// telInstalled is set once the recording providers above are global.
	telInstalled bool
	telSetup     = func() {
		telInstalled = true
		spans = tracetest.NewSpanRecorder()
		otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)))
		mreader = sdkmetric.NewManualReader()
		otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(mreader)))
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	}
)

func telemetry(t *testing.T) {
	t.Helper()
	telOnce.Do(telSetup)
}

// metricValue sums the data points of metric name whose attributes include want
// (counters: the sum; histograms: the count).
func metricValue(t *testing.T, name string, want ...attribute.KeyValue) float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := mreader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	match := func(s attribute.Set) bool {
		for _, kv := range want {
			if v, ok := s.Value(kv.Key); !ok || v != kv.Value {
				return false
			}
		}
		return true
	}
	total := 0.0
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					if match(p.Attributes) {
						total += float64(p.Value)
					}
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					if match(p.Attributes) {
						total += float64(p.Count)
					}
				}
			}
		}
	}
	return total
}

// spanStore records the span context the store was called with.
type spanStore struct {
	fakeStore
	mu sync.Mutex
	sc trace.SpanContext
}

func (s *spanStore) Store(ctx context.Context, companyID, event string, body []byte, meta http.Header) (bool, error) {
	s.mu.Lock()
	s.sc = trace.SpanContextFromContext(ctx)
	s.mu.Unlock()
	return s.fakeStore.Store(ctx, companyID, event, body, meta)
}

func TestWebhookServerSpanContinuesTheCallersTraceWithoutTheSecret(t *testing.T) {
	telemetry(t)
	store := &spanStore{}
	h := newTestRouter(t, store, WebhookConfig{}, nil)
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	rec := post(h, WebhookPath+"?secret=new-secret", validBody, func(r *http.Request) {
		r.Header.Set("traceparent", parent)
		r.Header.Set("User-Agent", "Maventa")
	})
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var server sdktrace.ReadOnlySpan
	for _, s := range spans.Ended() {
		if s.SpanContext().TraceID().String() == "4bf92f3577b34da6a3ce929d0e0e4736" {
			server = s
		}
	}
	if server == nil {
		t.Fatal("no server span in the caller's trace")
	}
	if server.Name() != "POST /webhooks/maventa" || server.SpanKind() != trace.SpanKindServer {
		t.Errorf("span %q kind %v, want POST /webhooks/maventa server", server.Name(), server.SpanKind())
	}
	if server.Parent().SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("parent %s, want the caller's span", server.Parent().SpanID())
	}
	attrs := map[attribute.Key]attribute.Value{}
	for _, kv := range server.Attributes() {
		attrs[kv.Key] = kv.Value
		if strings.Contains(kv.Value.Emit(), "new-secret") {
			t.Errorf("attribute %s carries the secret: %s", kv.Key, kv.Value.Emit())
		}
	}
	for k, want := range map[attribute.Key]string{
		"http.route": WebhookPath, "http.request.method": "POST", "http.response.status_code": "200",
		"url.path": WebhookPath, "maventa.event": "DOCUMENTS.INVOICE.DELIVERED",
		"maventa.company_id": "53a4e05d-42f0-4e76-acd6-968ab4558c6f",
	} {
		if got := attrs[k].Emit(); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// The store works inside the server span (it injects that context, not the caller's header).
	store.mu.Lock()
	defer store.mu.Unlock()
	if store.sc.SpanID() != server.SpanContext().SpanID() {
		t.Errorf("store called in span %s, want the server span %s", store.sc.SpanID(), server.SpanContext().SpanID())
	}
	if m := store.metas[len(store.metas)-1]; m.Get("Traceparent") != "" {
		t.Errorf("the request's traceparent header was copied into the stored metadata: %v", m)
	}
}

func TestWebhookMetricsCountOutcomesAndAckLatency(t *testing.T) {
	telemetry(t)
	h := newTestRouter(t, &fakeStore{}, WebhookConfig{}, nil)
	family := attrFamily.String("DOCUMENTS")
	stored := metricValue(t, "maventa.webhooks.received", family, attrOutcome.String(outcomeStored))
	dups := metricValue(t, "maventa.webhooks.received", family, attrOutcome.String(outcomeDuplicate))
	unauth := metricValue(t, "maventa.webhooks.received", attrOutcome.String(outcomeUnauthorized))
	acks := metricValue(t, "maventa.webhooks.ack.duration")

	body := strings.Replace(validBody, "12f88354", "aaaaaaaa", 1) // not stored by another test
	post(h, WebhookPath+"?secret=new-secret", body, nil)
	post(h, WebhookPath+"?secret=new-secret", body, nil)
	post(h, WebhookPath+"?secret=wrong", body, nil)

	if d := metricValue(t, "maventa.webhooks.received", family, attrOutcome.String(outcomeStored)) - stored; d != 1 {
		t.Errorf("stored moved by %v, want 1", d)
	}
	if d := metricValue(t, "maventa.webhooks.received", family, attrOutcome.String(outcomeDuplicate)) - dups; d != 1 {
		t.Errorf("duplicate moved by %v, want 1", d)
	}
	if d := metricValue(t, "maventa.webhooks.received", attrFamily.String(familyUnknown), attrOutcome.String(outcomeUnauthorized)) - unauth; d != 1 {
		t.Errorf("unauthorized moved by %v, want 1", d)
	}
	if d := metricValue(t, "maventa.webhooks.ack.duration") - acks; d != 2 {
		t.Errorf("ack latency histogram count moved by %v, want 2 (stored and duplicate)", d)
	}
}

func TestEventFamilyIsBounded(t *testing.T) {
	for in, want := range map[string]string{
		"DOCUMENTS.INVOICE.DELIVERED": "DOCUMENTS", "NETWORKS.PEPPOL.ENABLED": "NETWORKS",
		"COMPANIES.AUTHORIZATION.VERIFIED": "COMPANIES", "SERVICES.AMILI.ACTIVATED": "SERVICES",
		"anything.else": "other", "": "unknown",
	} {
		if got := eventFamily(in); got != want {
			t.Errorf("eventFamily(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestServerTelemetrySpansAndDurationMetric(t *testing.T) {
	telemetry(t)
	tests := []struct {
		name       string
		store      Store
		method     string
		target     string
		wantStatus int
		wantSpan   string // "" = no span expected
		wantError  bool
		wantAttrs  []attribute.KeyValue // of the http.server.request.duration point
	}{
		{"stored webhook", &fakeStore{}, http.MethodPost, WebhookPath + "?secret=new-secret", 200,
			"POST /webhooks/maventa", false,
			[]attribute.KeyValue{attrHTTPMethod.String("POST"), attrHTTPRoute.String(WebhookPath), attrHTTPStatus.Int(200)}},
		{"our failure is an error", &fakeStore{storeErr: errors.New("nats down")}, http.MethodPost, WebhookPath + "?secret=new-secret", 503,
			"POST /webhooks/maventa", true,
			[]attribute.KeyValue{attrHTTPRoute.String(WebhookPath), attrHTTPStatus.Int(503), attrErrorType.String("503")}},
		{"the caller's mistake is not", &fakeStore{}, http.MethodPost, WebhookPath + "?secret=wrong", 401,
			"POST /webhooks/maventa", false,
			[]attribute.KeyValue{attrHTTPRoute.String(WebhookPath), attrHTTPStatus.Int(401)}},
		{"unmatched route, odd method", &fakeStore{}, "BREW", "/teapot", 405,
			"HTTP", false,
			[]attribute.KeyValue{attrHTTPMethod.String("_OTHER"), attrHTTPStatus.Int(405)}},
		{"health checks are neither traced nor measured", &fakeStore{}, http.MethodGet, "/healthz", 200, "", false, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestRouter(t, tt.store, WebhookConfig{}, nil)
			traceID := fmt.Sprintf("4bf92f3577b34da6a3ce929d0e0e47%02x", i)
			before := metricValue(t, "http.server.request.duration", tt.wantAttrs...)
			req := httptest.NewRequest(tt.method, tt.target, strings.NewReader(validBody))
			req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d", rec.Code, tt.wantStatus)
			}
			var got sdktrace.ReadOnlySpan
			for _, s := range spans.Ended() {
				if s.SpanContext().TraceID().String() == traceID {
					got = s
				}
			}
			if tt.wantSpan == "" {
				if got != nil {
					t.Fatalf("span %q recorded for a health check", got.Name())
				}
				return
			}
			if got == nil || got.Name() != tt.wantSpan {
				t.Fatalf("span = %v, want %q", got, tt.wantSpan)
			}
			if isErr := got.Status().Code == codes.Error; isErr != tt.wantError {
				t.Errorf("span status %v, want error %v", got.Status(), tt.wantError)
			}
			if d := metricValue(t, "http.server.request.duration", tt.wantAttrs...) - before; d != 1 {
				t.Errorf("http.server.request.duration %v moved by %v, want 1", tt.wantAttrs, d)
			}
		})
	}
}
