package main

import (
	"context"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/consumers/natstest"
	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

// recordedSpans adds, once for the test binary, a tracer provider recording
// every span in memory to the process's tracer switch. A service started by a
// test sets up no tracer provider of its own without OTEL_* exporter
// settings, so its spans land here; tests tell theirs apart by trace id.
var recordedSpans = sync.OnceValue(func() *tracetest.SpanRecorder {
	rec := tracetest.NewSpanRecorder()
	theProcessTelemetry().tracers.push(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	return rec
})

func spanAttr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

func traceparentOf(sc trace.SpanContext) string {
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"
}

// TestOneWebhookIsOneTraceAndMovesTheMetrics runs the real service against the
// sandbox: one webhook must give one trace from the HTTP request through the
// JetStream publish, the consumer's processing, the calls to Maventa and the
// domain-event publishes, which carry that trace in the lower-case NATS header
// and the CloudEvent extension; no span may hold the webhook secret; and the
// admin listener's /metrics must show the webhook, its ack latency and the events.
func TestOneWebhookIsOneTraceAndMovesTheMetrics(t *testing.T) {
	rec := recordedSpans()
	sb := sandbox.New(sandbox.Config{Seed: 11, TimeScale: 3600})
	co := sandbox.Company{ID: "8b3e4c99-8e3f-4c77-9d58-5a7f3f4f1c33", APIKey: "api-key-t", VendorAPIKey: "vendor-key", Name: "Jäljitys Oy", BID: "3456789-1"}
	sb.AddCompany(co)
	srv, err := sandbox.Start(sb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	inv, err := sb.SendInvoice(co.ID, sandbox.InvoiceSpec{Number: "7001", Sum: sandbox.Amt("50.00"), RecipientName: "Asiakas Oy",
		RecipientBID: "3456789-0", Street: "Katu 1", PostalCode: "00100", City: "Helsinki"})
	if err != nil || inv.AssignmentID == "" {
		t.Fatalf("send: %+v %v", inv, err)
	}
	s := startService(t, map[string]string{
		"MAVENTA_AX_URL": srv.AXURL, "MAVENTA_RECEIVABLES_URL": srv.ReceivablesURL,
		"MAVENTA_VENDOR_API_KEY": "vendor-key", "MAVENTA_COMPANY_CREDENTIALS": co.ID + "=api-key-t",
		"MAVENTA_REQUESTS_PER_SECOND": "1000", "ADMIN_LISTEN": "127.0.0.1:0", "POLL_ENABLED": "false", "LOG_LEVEL": "info",
	})
	if s.adminURL == "" {
		t.Fatalf("the banner names no admin URL\n%s", s.stderr)
	}
	body := `{"event":"DOCUMENTS.INVOICE.DELIVERED","company_id":"` + co.ID + `","event_timestamp":"2026-11-21T06:00:00Z","event_data":{"invoice_id":"` + inv.InvoiceID + `","invoice_number":"7001"}}`
	if code, answer := s.post(t, body); code != 200 {
		t.Fatalf("post: %d %s", code, answer)
	}
	_, evs := waitForEvents(t, s, 2)

	// The server span of our webhook, and its trace.
	var server sdktrace.ReadOnlySpan
	for _, sp := range rec.Ended() {
		if sp.Name() == "POST /webhooks/maventa" && spanAttr(sp, "maventa.company_id") == co.ID {
			server = sp
		}
	}
	if server == nil {
		t.Fatal("no server span for the webhook")
	}
	tid := server.SpanContext().TraceID()
	// The process span ends right after the acknowledgement that waitForEvents saw.
	inTrace := func() []sdktrace.ReadOnlySpan {
		var out []sdktrace.ReadOnlySpan
		for _, sp := range rec.Ended() {
			if sp.SpanContext().TraceID() == tid {
				out = append(out, sp)
			}
		}
		return out
	}
	byName := func(spans []sdktrace.ReadOnlySpan, name string) []sdktrace.ReadOnlySpan {
		var out []sdktrace.ReadOnlySpan
		for _, sp := range spans {
			if sp.Name() == name {
				out = append(out, sp)
			}
		}
		return out
	}
	var spans []sdktrace.ReadOnlySpan
	natstest.WaitFor(t, 10*time.Second, "a process span in the webhook's trace", func() bool {
		spans = inTrace()
		return len(byName(spans, "process MAVENTA_WEBHOOKS")) > 0
	})

	if got := spanAttr(server, "http.route"); got != "/webhooks/maventa" {
		t.Errorf("server span http.route %q", got)
	}
	if got := spanAttr(server, "http.response.status_code"); got != "200" {
		t.Errorf("server span status %q", got)
	}
	pubs := byName(spans, "publish MAVENTA_WEBHOOKS")
	if len(pubs) != 1 || pubs[0].Parent().SpanID() != server.SpanContext().SpanID() {
		t.Fatalf("webhook publish spans %d, want 1 child of the server span", len(pubs))
	}
	proc := byName(spans, "process MAVENTA_WEBHOOKS")[0]
	if proc.Parent().SpanID() != pubs[0].SpanContext().SpanID() {
		t.Errorf("process span's parent %s, want the publish span %s", proc.Parent().SpanID(), pubs[0].SpanContext().SpanID())
	}
	clients := 0
	for _, sp := range spans {
		if sp.SpanKind() != trace.SpanKindClient {
			continue
		}
		clients++
		if sp.Parent().SpanID() != proc.SpanContext().SpanID() {
			t.Errorf("Maventa call %q is not a child of the process span", sp.Name())
		}
	}
	for _, want := range []string{"POST /oauth2/token", "GET /v1/assignments", "GET /v1/assignments/{id}"} {
		if len(byName(spans, want)) == 0 {
			t.Errorf("no %q client span in the trace (%d client spans)", want, clients)
		}
	}
	emits := map[string]bool{}
	for _, sp := range byName(spans, "publish "+events.StreamName) {
		if sp.Parent().SpanID() != proc.SpanContext().SpanID() {
			t.Errorf("event publish span is not a child of the process span")
		}
		emits[traceparentOf(sp.SpanContext())] = true
	}
	for _, sp := range spans {
		for _, kv := range sp.Attributes() {
			if strings.Contains(kv.Value.Emit(), testSecret) {
				t.Errorf("span %q attribute %s carries the webhook secret", sp.Name(), kv.Key)
			}
		}
	}

	// Each domain event carries its publish span in the NATS header and the CloudEvent extension.
	b, err := natsstore.OpenBroker(context.Background(), natsstore.BrokerConfig{URL: s.natsURL}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	st, err := b.JS.Stream(context.Background(), events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if !emits[e.TraceParent] {
			t.Errorf("event %s: CloudEvent traceparent %q is no publish span of the webhook's trace", e.Type, e.TraceParent)
		}
		m, err := st.GetLastMsgForSubject(context.Background(), e.PublishSubject())
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Header["traceparent"]; len(got) != 1 || got[0] != e.TraceParent {
			t.Errorf("event %s: NATS traceparent header %v, extension %q", e.Type, got, e.TraceParent)
		}
	}

	// The Prometheus endpoint on the admin listener.
	resp, err := http.Get(s.adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	text := string(raw)
	for _, re := range []string{
		`maventa_webhooks_received_total\{[^}]*maventa_event_family="DOCUMENTS"[^}]*outcome="stored"[^}]*\} ([0-9.e+]+)`,
		`maventa_webhooks_ack_duration_seconds_count\{[^}]*outcome="stored"[^}]*\} ([0-9.e+]+)`,
		`maventa_events_emitted_total\{[^}]*cloudevents_event_type="` + regexp.QuoteMeta(events.TypeInvoiceDelivered.Type()) + `"[^}]*\} ([0-9.e+]+)`,
		`maventa_api_calls_total\{[^}]*http_route="/v1/assignments/\{id\}"[^}]*\} ([0-9.e+]+)`,
		`http_server_request_duration_seconds_count\{[^}]*http_response_status_code="200"[^}]*http_route="/webhooks/maventa"[^}]*\} ([0-9.e+]+)`,
		`http_client_request_duration_seconds_count\{[^}]*\} ([0-9.e+]+)`,
	} {
		m := regexp.MustCompile(re).FindStringSubmatch(text)
		if m == nil {
			t.Errorf("/metrics has no line matching %s", re)
			continue
		}
		if v, _ := strconv.ParseFloat(m[1], 64); v < 1 {
			t.Errorf("%s = %v, want at least 1", re, v)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}
}

func TestTelemetryExportersFollowTheOTELVariables(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name       string
		env        map[string]string
		spans      string // exporter type, "" for none
		metrics    string
		wantErrors bool
	}{
		{name: "no endpoint exports nothing", env: nil},
		{name: "endpoint exports over OTLP HTTP by default", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"},
			spans: "*otlptrace.Exporter", metrics: "*otlpmetrichttp.Exporter"},
		{name: "grpc protocol", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
			spans: "*otlptrace.Exporter", metrics: "*otlpmetricgrpc.Exporter"},
		{name: "console traces without an endpoint", env: map[string]string{"OTEL_TRACES_EXPORTER": "console"}, spans: "*stdouttrace.Exporter"},
		{name: "none wins over an endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
			"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}},
		{name: "unknown protocol is an error", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
			wantErrors: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			getenv := envFunc(c.env)
			se, serr := spanExporter(ctx, getenv, io.Discard)
			me, merr := metricExporter(ctx, getenv)
			if c.wantErrors {
				if serr == nil || merr == nil {
					t.Fatalf("errors %v, %v; want both", serr, merr)
				}
				return
			}
			if serr != nil || merr != nil {
				t.Fatal(serr, merr)
			}
			t.Cleanup(func() {
				if se != nil {
					_ = se.Shutdown(ctx)
				}
				if me != nil {
					_ = me.Shutdown(ctx)
				}
			})
			if got := typeName(se); got != c.spans {
				t.Errorf("span exporter %s, want %q", got, c.spans)
			}
			if got := typeName(me); got != c.metrics {
				t.Errorf("metric exporter %s, want %q", got, c.metrics)
			}
		})
	}
	res := envResource(envFunc(map[string]string{"OTEL_SERVICE_NAME": "bridge-a", "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=prod,team=r%20x"}))
	for k, want := range map[string]string{"service.name": "bridge-a", "deployment.environment.name": "prod", "team": "r x"} {
		if v, ok := res.Set().Value(attribute.Key(k)); !ok || v.AsString() != want {
			t.Errorf("resource %s = %q, want %q", k, v.AsString(), want)
		}
	}
}

func typeName(v any) string {
	if v == nil || reflect.ValueOf(v).IsNil() {
		return ""
	}
	return reflect.TypeOf(v).String()
}

// TestEachRunHasItsOwnTelemetry starts the service twice, one after the other,
// in this process: the second must serve metrics under its own resource
// (OTEL_SERVICE_NAME), not keep the first run's telemetry, and still count what
// the packages' instruments record.
func TestEachRunHasItsOwnTelemetry(t *testing.T) {
	for i, name := range []string{"first-run", "second-run"} {
		s := startService(t, map[string]string{
			"ADMIN_LISTEN": "127.0.0.1:0", "OTEL_SERVICE_NAME": name, "CONSUMERS_ENABLED": "false",
		})
		if code, answer := s.post(t, webhook(900+i)); code != 200 {
			t.Fatalf("%s: post: %d %s", name, code, answer)
		}
		text := getMetrics(t, s.adminURL)
		if want := `service_name="` + name + `"`; !regexp.MustCompile(`target_info\{[^}]*` + want).MatchString(text) {
			t.Errorf("%s: /metrics has no target_info with %s:\n%s", name, want, grepLines(text, "target_info"))
		}
		m := regexp.MustCompile(`maventa_webhooks_received_total\{[^}]*outcome="stored"[^}]*\} ([0-9.e+]+)`).FindStringSubmatch(text)
		if len(m) < 2 {
			t.Errorf("%s: /metrics counts no stored webhook", name)
		} else if v, _ := strconv.ParseFloat(m[1], 64); v < float64(i+1) {
			t.Errorf("%s: stored webhooks counted %v, want at least %d (both runs')", name, v, i+1)
		}
		if err := s.stop(t); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

func getMetrics(t *testing.T, adminURL string) string {
	t.Helper()
	resp, err := http.Get(adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func grepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestTracerSwitchFollowsTheRunningServices: spans go to the provider of the
// service started last among those still running, and nowhere once none is.
func TestTracerSwitchFollowsTheRunningServices(t *testing.T) {
	sw := &tracerSwitch{}
	tracer := sw.Tracer("scope") // taken before any provider, as package variables are
	recA, recB := tracetest.NewSpanRecorder(), tracetest.NewSpanRecorder()
	a := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recA))
	b := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recB))
	span := func(name string) {
		_, s := tracer.Start(context.Background(), name)
		s.End()
	}
	span("none running")
	sw.push(a)
	span("a running")
	sw.push(b)
	span("a and b running")
	sw.remove(b)
	span("b stopped")
	sw.remove(a)
	span("all stopped")
	names := func(rec *tracetest.SpanRecorder) []string {
		var out []string
		for _, s := range rec.Ended() {
			out = append(out, s.Name())
		}
		return out
	}
	if got, want := names(recA), []string{"a running", "b stopped"}; !reflect.DeepEqual(got, want) {
		t.Errorf("first provider's spans %q, want %q", got, want)
	}
	if got, want := names(recB), []string{"a and b running"}; !reflect.DeepEqual(got, want) {
		t.Errorf("second provider's spans %q, want %q", got, want)
	}
}

// BenchmarkSpanThroughTheSwitch: what the tracer switch adds to a span, with
// tracing off (the default; against the otel no-op it replaces) and on
// (against the SDK's tracer used directly).
func BenchmarkSpanThroughTheSwitch(b *testing.B) {
	sdk := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	on := &tracerSwitch{}
	on.push(sdk)
	for _, c := range []struct {
		name   string
		tracer trace.Tracer
	}{
		{"off/noop", noop.NewTracerProvider().Tracer("bench")},
		{"off/switch", (&tracerSwitch{}).Tracer("bench")},
		{"on/sdk", sdk.Tracer("bench")},
		{"on/switch", on.Tracer("bench")},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				_, s := c.tracer.Start(ctx, "span")
				s.End()
			}
		})
	}
}
