package natsstore

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/maventa-bridge/maventa-events/consumers"
	"github.com/maventa-bridge/maventa-events/consumers/natstest"
	"github.com/maventa-bridge/maventa-events/maventa"
)

// The package's tracer and meter come from the global providers, and
// instruments bind to the first provider installed, so one tracer provider is
// installed for the test binary; its spans go to the recorder of the test that
// is running (these tests are not parallel), so a test sees only its own spans
// however often it runs (-count=2). Metrics are read as differences.
var (
	telOnce sync.Once
	mreader *sdkmetric.ManualReader
	router  spanRouter
)

// spanRouter hands every span to the current test's recorder, if any.
type spanRouter struct {
	cur atomic.Pointer[tracetest.SpanRecorder]
}

func (r *spanRouter) OnStart(parent context.Context, s sdktrace.ReadWriteSpan) {
	if rec := r.cur.Load(); rec != nil {
		rec.OnStart(parent, s)
	}
}

func (r *spanRouter) OnEnd(s sdktrace.ReadOnlySpan) {
	if rec := r.cur.Load(); rec != nil {
		rec.OnEnd(s)
	}
}

func (r *spanRouter) Shutdown(context.Context) error   { return nil }
func (r *spanRouter) ForceFlush(context.Context) error { return nil }

// telemetry returns a span recorder of t's own, receiving the spans started
// until t ends.
func telemetry(t *testing.T) *tracetest.SpanRecorder {
	t.Helper()
	telOnce.Do(func() {
		otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(&router)))
		mreader = sdkmetric.NewManualReader()
		otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(mreader)))
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	})
	rec := tracetest.NewSpanRecorder()
	router.cur.Store(rec)
	t.Cleanup(func() { router.cur.CompareAndSwap(rec, nil) })
	return rec
}

func counter(t *testing.T, name string, want ...attribute.KeyValue) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := mreader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if d, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == name {
			points:
				for _, p := range d.DataPoints {
					for _, kv := range want {
						if v, ok := p.Attributes.Value(kv.Key); !ok || v != kv.Value {
							continue points
						}
					}
					total += p.Value
				}
			}
		}
	}
	return total
}

// spansOf returns the ended spans named name whose attribute key equals value.
func spansOf(spans *tracetest.SpanRecorder, name string, key attribute.Key, value string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans.Ended() {
		if s.Name() != name {
			continue
		}
		for _, kv := range s.Attributes() {
			if kv.Key == key && kv.Value.Emit() == value {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, key attribute.Key) string {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

// storeTraced stores body inside a server span, as the webhook handler does,
// and returns that span's context.
func storeTraced(t *testing.T, p *pipeline, body []byte) trace.SpanContext {
	t.Helper()
	ctx, root := otel.Tracer("test").Start(context.Background(), "POST /webhooks/maventa", trace.WithSpanKind(trace.SpanKindServer))
	if _, err := p.store.Store(ctx, company, "DOCUMENTS.INVOICE.DELIVERED", body, http.Header{}); err != nil {
		t.Fatal(err)
	}
	root.End()
	return root.SpanContext()
}

func TestOneStoredWebhookIsOneConnectedTrace(t *testing.T) {
	spans := telemetry(t)
	p := newPipeline(t, &fakeMaventa{assignments: []maventa.Assignment{seedAssignment(t)}}, StreamsConfig{})
	emitted := counter(t, "maventa.events.emitted")
	acked := counter(t, "maventa.consumer.messages", attrOutcome.String("ack"))
	body := deliveredWebhook("2019-11-23T12:03:48+02:00")
	root := storeTraced(t, p, body)

	// The stored message carries the publish span's context under lower-case keys.
	stored, err := p.b.JS.Stream(context.Background(), "MAVENTA_WEBHOOKS")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := stored.GetLastMsgForSubject(context.Background(), WebhookSubjectRoot+".>")
	if err != nil {
		t.Fatal(err)
	}
	pubs := spansOf(spans, "publish MAVENTA_WEBHOOKS", attrMessageID, BodyID(body))
	if len(pubs) != 1 {
		t.Fatalf("%d webhook publish spans, want 1", len(pubs))
	}
	pub := pubs[0]
	if pub.Parent().SpanID() != root.SpanID() || pub.SpanKind() != trace.SpanKindProducer {
		t.Errorf("webhook publish span: parent %s kind %v, want child of the server span, producer", pub.Parent().SpanID(), pub.SpanKind())
	}
	if got, want := raw.Header["traceparent"], "00-"+root.TraceID().String()+"-"+pub.SpanContext().SpanID().String()+"-01"; len(got) != 1 || got[0] != want {
		t.Errorf("stored traceparent %v, want [%s]", got, want)
	}
	if _, ok := raw.Header["Traceparent"]; ok {
		t.Error("stored message has a canonical-case Traceparent header")
	}
	for k, want := range map[attribute.Key]string{
		"messaging.system": "nats", "messaging.operation.type": "publish",
		"messaging.destination.name": raw.Subject, "maventa.company_id": company,
	} {
		if got := attr(pub, k); got != want {
			t.Errorf("publish %s = %q, want %q", k, got, want)
		}
	}

	p.consume(ConsumerConfig{}, nil)

	procs := spansOf(spans, "process MAVENTA_WEBHOOKS", attrMessageID, BodyID(body))
	if len(procs) != 1 {
		t.Fatalf("%d process spans, want 1", len(procs))
	}
	proc := procs[0]
	if proc.Parent().SpanID() != pub.SpanContext().SpanID() || proc.SpanContext().TraceID() != root.TraceID() ||
		proc.SpanKind() != trace.SpanKindConsumer {
		t.Errorf("process span: trace %s parent %s kind %v, want a consumer child of the publish span in the same trace",
			proc.SpanContext().TraceID(), proc.Parent().SpanID(), proc.SpanKind())
	}
	if attr(proc, "messaging.operation.type") != "process" || attr(proc, attrDeliveryCount) != "1" || len(proc.Links()) != 0 {
		t.Errorf("process span attributes %v links %v", proc.Attributes(), proc.Links())
	}

	_, evs := p.domainEvents()
	if len(evs) == 0 {
		t.Fatal("no domain events")
	}
	emits := map[string]sdktrace.ReadOnlySpan{} // traceparent -> span
	for _, s := range spans.Ended() {
		if s.Name() == "publish RECEIVABLES_EVENTS" && s.Parent().SpanID() == proc.SpanContext().SpanID() {
			emits["00-"+s.SpanContext().TraceID().String()+"-"+s.SpanContext().SpanID().String()+"-01"] = s
		}
	}
	if len(emits) != len(evs) {
		t.Errorf("%d event publish spans under the process span, want %d", len(emits), len(evs))
	}
	st, err := p.b.JS.Stream(context.Background(), p.pc.withDefaults().EventStream)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		s, ok := emits[e.TraceParent]
		if !ok {
			t.Errorf("event %s traceparent %q is no publish span of the trace", e.Type, e.TraceParent)
			continue
		}
		if attr(s, attrMessageID) != e.ID || attr(s, attrCloudEventType) != e.Type {
			t.Errorf("publish span of %s has attributes %v", e.ID, s.Attributes())
		}
		m, err := st.GetLastMsgForSubject(context.Background(), e.PublishSubject())
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Header["traceparent"]; len(got) != 1 || got[0] != e.TraceParent {
			t.Errorf("event %s: NATS traceparent header %v, CloudEvent extension %q", e.Type, got, e.TraceParent)
		}
	}
	if d := counter(t, "maventa.events.emitted") - emitted; d != int64(len(evs)) {
		t.Errorf("maventa.events.emitted moved by %d, want %d", d, len(evs))
	}
	if d := counter(t, "maventa.consumer.messages", attrOutcome.String("ack")) - acked; d != 1 {
		t.Errorf("acknowledged messages moved by %d, want 1", d)
	}
}

func TestARedeliveryStartsANewTraceLinkedToTheStoredOne(t *testing.T) {
	spans := telemetry(t)
	p := newPipeline(t, &fakeMaventa{assignments: []maventa.Assignment{seedAssignment(t)}}, StreamsConfig{})
	body := deliveredWebhook("2020-01-02T03:04:05Z")
	root := storeTraced(t, p, body)
	pub := spansOf(spans, "publish MAVENTA_WEBHOOKS", attrMessageID, BodyID(body))[0]

	var calls atomic.Int32
	p.consume(ConsumerConfig{}, func(ctx context.Context, m jetstream.Msg) error {
		if calls.Add(1) == 1 {
			return &consumers.ProcessError{Reason: "transient", Retry: true, Err: errors.New("NATS hiccup")}
		}
		return ProcessWith(p.proc)(ctx, m)
	})

	procs := spansOf(spans, "process MAVENTA_WEBHOOKS", attrMessageID, BodyID(body))
	if len(procs) != 2 {
		t.Fatalf("%d process spans, want 2 (first try, redelivery)", len(procs))
	}
	first, second := procs[0], procs[1]
	if attr(first, attrDeliveryCount) != "1" || first.Parent().SpanID() != pub.SpanContext().SpanID() {
		t.Errorf("first delivery: count %s parent %s, want 1 and the publish span", attr(first, attrDeliveryCount), first.Parent().SpanID())
	}
	if attr(second, attrDeliveryCount) != "2" {
		t.Errorf("redelivery count %q, want 2", attr(second, attrDeliveryCount))
	}
	if second.Parent().IsValid() || second.SpanContext().TraceID() == root.TraceID() {
		t.Errorf("redelivery has parent %v in trace %s: want a new root", second.Parent(), second.SpanContext().TraceID())
	}
	links := second.Links()
	if len(links) != 1 || links[0].SpanContext.SpanID() != pub.SpanContext().SpanID() || links[0].SpanContext.TraceID() != root.TraceID() {
		t.Errorf("redelivery links %+v, want one link to the stored publish span", links)
	}
	_, evs := p.domainEvents()
	for _, e := range evs {
		if want := second.SpanContext().TraceID().String(); len(e.TraceParent) < 35 || e.TraceParent[3:35] != want {
			t.Errorf("event %s traceparent %q, want trace %s (the redelivery's)", e.Type, e.TraceParent, want)
		}
	}
}

func TestSkippedEnrichmentIsCounted(t *testing.T) {
	telemetry(t)
	p := newPipeline(t, &fakeMaventa{errs: []error{maventa.ErrNoCredentials}}, StreamsConfig{})
	before := counter(t, "maventa.enrichment.skipped", attrReason.String("no_credentials"))
	p.post(deliveredWebhook("2021-01-02T03:04:05Z"))
	p.consume(ConsumerConfig{}, nil)
	if d := counter(t, "maventa.enrichment.skipped", attrReason.String("no_credentials")) - before; d != 1 {
		t.Errorf("maventa.enrichment.skipped moved by %d, want 1", d)
	}
}

func TestHeaderCarrierKeepsW3CKeysLowerCaseAndReadsOldOnes(t *testing.T) {
	telemetry(t)
	h := nats.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
	if headerCarrier(h).Get("traceparent") == "" {
		t.Error("a canonical-case Traceparent stored by an earlier version is not read")
	}
	inject(extract(context.Background(), h), h)
	if _, ok := h["Traceparent"]; ok || len(h["traceparent"]) != 1 {
		t.Errorf("after inject: %v, want only lower-case traceparent", h)
	}
}

// gaugePoints is the data points of gauge name whose consumer group is durable.
func gaugePoints(t *testing.T, name, durable string) []metricdata.DataPoint[int64] {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := mreader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var out []metricdata.DataPoint[int64]
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if g, ok := m.Data.(metricdata.Gauge[int64]); ok && m.Name == name {
				for _, p := range g.DataPoints {
					if v, ok := p.Attributes.Value(attrConsumerGroup); ok && v.AsString() == durable {
						out = append(out, p)
					}
				}
			}
		}
	}
	return out
}

// Each running webhook consumer reports its info through the gauges, and a
// stopped one no longer does (its registration ends with Run).
func TestConsumerGaugesFollowTheRunningConsumers(t *testing.T) {
	telemetry(t)
	p := newPipeline(t, &fakeMaventa{}, StreamsConfig{})
	p.post(deliveredWebhook("2020-01-02T03:04:05Z"))
	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	wc, err := NewWebhookConsumer(ctx, p.b.JS, p.sc, ConsumerConfig{Durable: "gauged", InfoInterval: 10 * time.Millisecond},
		func(ctx context.Context, _ jetstream.Msg) error { <-release; return nil }, NewDeadLetters(p.b.JS, p.pc), quiet)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- wc.Run(ctx) }()
	natstest.WaitFor(t, 30*time.Second, "the running consumer's ack_pending gauge shows the webhook", func() bool {
		ps := gaugePoints(t, "maventa.consumer.ack_pending", "gauged")
		return len(ps) == 1 && ps[0].Value == 1
	})
	close(release)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ps := gaugePoints(t, "maventa.consumer.pending", "gauged"); len(ps) != 0 {
		t.Fatalf("a stopped consumer still reported: %+v", ps)
	}
}
