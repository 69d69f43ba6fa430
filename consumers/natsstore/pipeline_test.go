package natsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/consumers"
	"github.com/maventa-bridge/maventa-events/consumers/natstest"
	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
)

const (
	company   = "53a4e05d-42f0-4e76-acd6-968ab4558c6f"
	invoiceID = "12f88354-5998-495b-8675-67bf05de60e5"
)

func deliveredWebhook(ts string) []byte {
	return []byte(`{"event":"DOCUMENTS.INVOICE.DELIVERED","company_id":"` + company + `","event_timestamp":"` + ts + `","event_data":{"invoice_id":"` + invoiceID + `","invoice_number":"1003","destination":"PEPPOL","recipient_name":"Recipient","recipient_bid":"933646920"}}`)
}

// seedAssignment is seed 003's example assignment, linked to our invoice, with
// its events deliberately out of order.
func seedAssignment(t *testing.T) maventa.Assignment {
	t.Helper()
	raw := `{"id":"fa9781ba-20d1-4677-a125-f04bff7bbac0","status":"closed","collection_status":"reminder_sent","service_level":"default",
	"debtor":{"name":"Hanna's Test Company"},"due_date":"2020-04-20","issued_at":"2020-04-01","number":"64488","sum":12.3,"paid":12.3,"currency":"EUR",
	"created_at":"2020-04-15T05:47:07Z","partially_closed_at":null,"updated_at":"2020-04-25T21:01:18Z","closed_at":"2020-04-25T21:01:18Z",
	"reference_ids":[{"type":"agency_id","value":"078dbb88-ef8e-4115-8260-c8a542aaa87c"},{"type":"invoice_id","value":"` + invoiceID + `"},{"type":"number","value":"356241887794"}],
	"events":[
	 {"id":"e3","type":"close","data":{},"party_id":"p","seens":[],"created_at":"2020-04-25T21:01:18Z","happened_at":"2020-04-25T21:01:18Z"},
	 {"id":"e2","type":"paid","data":{"sum_paid":12.3,"booked_at":"2020-04-24","archive_number":"2"},"party_id":"p","seens":[],"created_at":"2020-04-25T21:01:17Z","happened_at":"2020-04-24T00:00:00Z"},
	 {"id":"e1","type":"reminder_sent","data":{},"party_id":"p","seens":[],"created_at":"2020-04-21T08:00:00Z","happened_at":"2020-04-21T08:00:00Z"},
	 {"id":"e0","type":"delivery_status","data":{"status":"DELIVERED"},"party_id":"m","seens":[],"created_at":"2020-04-15T05:47:08Z","happened_at":"2020-04-15T05:47:08Z"}
	]}`
	var a maventa.Assignment
	if err := maventa.Unmarshal([]byte(raw), &a); err != nil {
		t.Fatal(err)
	}
	return a
}

// fakeMaventa answers the processor's two questions; errs are returned first, in order.
type fakeMaventa struct {
	mu          sync.Mutex
	assignments []maventa.Assignment
	service     maventa.ServiceStatus
	errs        []error
	calls       atomic.Int32
}

func (f *fakeMaventa) next() error {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errs) == 0 {
		return nil
	}
	err := f.errs[0]
	f.errs = f.errs[1:]
	return err
}

func (f *fakeMaventa) AssignmentsForInvoice(_ context.Context, _, id string) ([]maventa.Assignment, error) {
	if err := f.next(); err != nil {
		return nil, err
	}
	return f.assignments, nil
}

func (f *fakeMaventa) GetReceivablesService(context.Context, string, string) (maventa.ServiceStatus, error) {
	if err := f.next(); err != nil {
		return maventa.ServiceStatus{}, err
	}
	return f.service, nil
}

// pipeline is a raw-webhook stream with the consumer and processor on real JetStream.
type pipeline struct {
	t     *testing.T
	b     *Broker
	kv    jetstream.KeyValue
	store *WebhookStore
	proc  *consumers.Processor
	api   *fakeMaventa
	state *ReconcileStore
	pc    PipelineConfig
	sc    StreamsConfig
}

func newPipeline(t *testing.T, api *fakeMaventa, sc StreamsConfig) *pipeline {
	t.Helper()
	return newPipelineWith(t, api, sc, PipelineConfig{})
}

func newPipelineWith(t *testing.T, api *fakeMaventa, sc StreamsConfig, pc PipelineConfig) *pipeline {
	t.Helper()
	ctx := context.Background()
	b := connect(t, natstest.Start(t, "").ClientURL())
	if err := EnsureIntakeStreams(ctx, b.JS, sc, quiet); err != nil {
		t.Fatal(err)
	}
	kv, err := EnsurePipeline(ctx, b.JS, pc, quiet)
	if err != nil {
		t.Fatal(err)
	}
	p := &pipeline{t: t, b: b, kv: kv, store: NewWebhookStore(b.JS, sc, PublishAsync), api: api, pc: pc, sc: sc}
	rs, err := EnsureReconcileStore(ctx, b.JS, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	p.state = rs
	p.proc = consumers.NewProcessor(api, NewEmitter(b.JS, pc), pc.Stores(NewKVRecords(kv), rs), quiet)
	return p
}

func (p *pipeline) post(body []byte) {
	p.t.Helper()
	if _, err := p.store.Store(context.Background(), company, "DOCUMENTS.INVOICE.DELIVERED", body, http.Header{}); err != nil {
		p.t.Fatal(err)
	}
}

// consume runs a consumer with handle until every stored webhook is answered
// (acknowledged or terminated), then stops it.
func (p *pipeline) consume(cfg ConsumerConfig, handle MessageHandler) {
	p.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if handle == nil {
		handle = ProcessWith(p.proc)
	}
	if cfg.RetryInitial == 0 {
		cfg.RetryInitial, cfg.RetryMax = time.Millisecond, 5*time.Millisecond
	}
	wc, err := NewWebhookConsumer(ctx, p.b.JS, p.sc, cfg, handle, NewDeadLetters(p.b.JS, p.pc), quiet)
	if err != nil {
		p.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- wc.Run(ctx) }()
	p.waitIdle(wc.cfg.Durable)
	cancel()
	if err := <-done; err != nil {
		p.t.Fatal(err)
	}
}

// waitIdle waits until the consumer has nothing pending and nothing unanswered.
func (p *pipeline) waitIdle(durable string) {
	p.t.Helper()
	natstest.WaitFor(p.t, 30*time.Second, "the consumer becomes idle", func() bool {
		c, err := p.b.JS.Consumer(context.Background(), p.sc.withDefaults().WebhookStream, durable)
		if err != nil {
			return false
		}
		info, err := c.Info(context.Background())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.NumRedelivered == 0 && info.Delivered.Stream > 0
	})
}

// probeSubject is inside the domain-event stream but is no event: readEvents skips it.
const probeSubject = events.SubjectRoot + ".probe"

// waitDomainWindowPassed returns once the domain stream's duplicate window has
// passed since now: a probe published now is accepted again only after it.
func (p *pipeline) waitDomainWindowPassed() {
	p.t.Helper()
	ctx := context.Background()
	if _, err := p.b.JS.Publish(ctx, probeSubject, nil, jetstream.WithMsgID("probe")); err != nil {
		p.t.Fatal(err)
	}
	natstest.WaitFor(p.t, 30*time.Second, "the domain stream forgets the probe", func() bool {
		ack, err := p.b.JS.Publish(ctx, probeSubject, nil, jetstream.WithMsgID("probe"))
		if err != nil {
			p.t.Fatal(err)
		}
		return !ack.Duplicate
	})
}

// domainEvents reads the domain-event stream: type counts and ids in stream order.
func (p *pipeline) domainEvents() (map[string]int, []events.Event) {
	p.t.Helper()
	return readEvents(p.t, p.b.JS, p.pc.withDefaults().EventStream)
}

func readEvents(t *testing.T, js jetstream.JetStream, stream string) (map[string]int, []events.Event) {
	t.Helper()
	ctx := context.Background()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	state := st.CachedInfo().State
	counts := map[string]int{}
	var all []events.Event
	for seq := state.FirstSeq; seq <= state.LastSeq && state.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject == probeSubject {
			continue
		}
		e, err := events.Decode(m.Data)
		if err != nil {
			t.Fatalf("stored event does not decode: %v", err)
		}
		if m.Header.Get("Nats-Msg-Id") != e.ID {
			t.Fatalf("Nats-Msg-Id %q != event id %q", m.Header.Get("Nats-Msg-Id"), e.ID)
		}
		counts[e.Type]++
		all = append(all, e)
	}
	return counts, all
}

func typeOf(d events.TypeDef) string { return d.Type() }

func mustType(maventaType string) events.TypeDef {
	d, ok := events.TypeForAssignmentEvent(maventaType)
	if !ok {
		panic("no catalog type for " + maventaType)
	}
	return d
}

// wantSeedEvents is what seedAssignment yields, each once.
var wantSeedEvents = map[string]int{
	typeOf(events.TypeInvoiceDelivered):                  1,
	typeOf(events.TypeAssignmentOpened):                  1,
	typeOf(mustType("delivery_status")):                  1,
	typeOf(mustType("reminder_sent")):                    1,
	typeOf(events.TypeAssignmentCollectionStatusChanged): 1,
	typeOf(mustType("paid")):                             1,
	typeOf(mustType("close")):                            1,
	typeOf(events.TypeAssignmentStatusChanged):           1,
}

func assertCounts(t *testing.T, got, want map[string]int) {
	t.Helper()
	for typ, n := range want {
		if got[typ] != n {
			t.Errorf("%s: %d events, want %d", typ, got[typ], n)
		}
	}
	for typ, n := range got {
		if _, ok := want[typ]; !ok {
			t.Errorf("unexpected %d x %s", n, typ)
		}
	}
}

func TestAWebhookYieldsItsEventsOnceInMaventasOrder(t *testing.T) {
	p := newPipeline(t, &fakeMaventa{assignments: []maventa.Assignment{seedAssignment(t)}}, StreamsConfig{})
	p.post(deliveredWebhook("2020-04-15T08:47:08+03:00"))
	p.consume(ConsumerConfig{}, nil)
	counts, all := p.domainEvents()
	assertCounts(t, counts, wantSeedEvents)
	// Per assignment, Maventa's order: happened_at, then created_at.
	var order []string
	for _, e := range all {
		if e.MaventaEventID != "" && e.Type != typeOf(events.TypeAssignmentStatusChanged) && e.Type != typeOf(events.TypeAssignmentCollectionStatusChanged) {
			order = append(order, e.MaventaEventID)
		}
	}
	if fmt.Sprint(order) != "[e0 e1 e2 e3]" {
		t.Fatalf("assignment events stored in order %v, want [e0 e1 e2 e3]", order)
	}
	// The paid event's party_id is the one on the agency-only reminder and close.
	for _, e := range all {
		if e.Type == typeOf(mustType("paid")) {
			var d struct{ Party string }
			if err := json.Unmarshal(e.Data, &d); err != nil || d.Party != string(events.PartyAgency) {
				t.Fatalf("paid party %q (%v), want agency", d.Party, err)
			}
		}
	}
}

func TestTheSameWebhookAfterTheDuplicateWindowEmitsNothingNew(t *testing.T) {
	// 100ms windows on both streams: Maventa's hourly retry is far outside any
	// window, so only the processed markers can stop a second emission.
	sc := StreamsConfig{DuplicateWindow: 100 * time.Millisecond}
	p := newPipelineWith(t, &fakeMaventa{assignments: []maventa.Assignment{seedAssignment(t)}}, sc,
		PipelineConfig{EventDuplicateWindow: 100 * time.Millisecond})
	body := deliveredWebhook("2020-04-15T08:47:08+03:00")
	p.post(body)
	p.consume(ConsumerConfig{}, nil)
	p.waitDomainWindowPassed()
	// Post the same body until JetStream stores it as a new message again.
	natstest.WaitFor(t, 30*time.Second, "the raw stream stores the same body again", func() bool {
		dup, err := p.store.Store(context.Background(), company, "DOCUMENTS.INVOICE.DELIVERED", body, http.Header{})
		if err != nil {
			t.Fatal(err)
		}
		return !dup
	})
	p.consume(ConsumerConfig{}, nil)
	st, _ := p.b.JS.Stream(context.Background(), "MAVENTA_WEBHOOKS")
	if n := st.CachedInfo().State.Msgs; n != 2 {
		t.Fatalf("raw stream holds %d copies, want 2", n)
	}
	counts, _ := p.domainEvents()
	assertCounts(t, counts, wantSeedEvents)
}

// failingRecords fails the first write it is given: the process "dies" after
// publishing an aggregate's events and before writing its record.
type failingRecords struct {
	consumers.Records
	failed *atomic.Bool
}

func (r failingRecords) Store(ctx context.Context, key string, v []byte, rev uint64) error {
	if r.failed.CompareAndSwap(false, true) {
		return errors.New("killed between publish and record write")
	}
	return r.Records.Store(ctx, key, v, rev)
}

func TestDyingBetweenPublishAndRecordWriteGivesNoDuplicate(t *testing.T) {
	for _, which := range []string{"invoice record", "assignment record"} {
		t.Run(which, func(t *testing.T) {
			api := &fakeMaventa{assignments: []maventa.Assignment{seedAssignment(t)}}
			p := newPipeline(t, api, StreamsConfig{})
			st := p.pc.Stores(NewKVRecords(p.kv), p.state)
			var failed atomic.Bool
			if which == "invoice record" {
				st.Facts = failingRecords{Records: st.Facts, failed: &failed}
			} else {
				st.Assignments = failingRecords{Records: st.Assignments, failed: &failed}
			}
			p.proc = consumers.NewProcessor(api, NewEmitter(p.b.JS, p.pc), st, quiet)
			p.post(deliveredWebhook("2020-04-15T08:47:08+03:00"))
			p.consume(ConsumerConfig{}, nil)
			if !failed.Load() {
				t.Fatal("the record write never failed")
			}
			counts, _ := p.domainEvents()
			assertCounts(t, counts, wantSeedEvents)
		})
	}
}

func TestDyingBetweenMarkAndAckGivesNoDuplicateAndNoLoss(t *testing.T) {
	p := newPipeline(t, &fakeMaventa{assignments: []maventa.Assignment{seedAssignment(t)}}, StreamsConfig{})
	p.post(deliveredWebhook("2020-04-15T08:47:08+03:00"))
	var died atomic.Bool
	// The first worker does all the work, then its goroutine ends without
	// answering: as if the process were killed before the ack.
	handle := func(ctx context.Context, m jetstream.Msg) error {
		err := ProcessWith(p.proc)(ctx, m)
		if died.CompareAndSwap(false, true) {
			runtime.Goexit()
		}
		return err
	}
	// A short AckWait so the unanswered message comes back quickly.
	p.consume(ConsumerConfig{AckWait: 200 * time.Millisecond}, handle)
	if !died.Load() {
		t.Fatal("the handler never ran")
	}
	counts, _ := p.domainEvents()
	assertCounts(t, counts, wantSeedEvents)
}

func TestMaventa503Then200GivesOneEventEach(t *testing.T) {
	api := &fakeMaventa{assignments: []maventa.Assignment{seedAssignment(t)},
		errs: []error{&maventa.APIError{Status: 503, Code: "unavailable"}, &maventa.APIError{Status: 503, Code: "unavailable"}}}
	p := newPipeline(t, api, StreamsConfig{})
	p.post(deliveredWebhook("2020-04-15T08:47:08+03:00"))
	p.consume(ConsumerConfig{}, nil)
	counts, _ := p.domainEvents()
	assertCounts(t, counts, wantSeedEvents)
	if api.calls.Load() != 3 {
		t.Fatalf("%d consumers.Maventa calls, want 3 (two 503s, then the answer)", api.calls.Load())
	}
}

func TestRetryAfterWinsOverBackoff(t *testing.T) {
	wc := &WebhookConsumer{cfg: ConsumerConfig{}.withDefaults()}
	if d := wc.retryDelay(5, &consumers.ProcessError{Retry: true, RetryAfter: 42 * time.Second}); d != 42*time.Second {
		t.Fatalf("delay %v, want Retry-After's 42s", d)
	}
	for n := uint64(1); n < 30; n++ {
		if d := wc.retryDelay(n, &consumers.ProcessError{Retry: true}); d <= 0 || d > wc.cfg.RetryMax {
			t.Fatalf("delivery %d: delay %v out of (0, %v]", n, d, wc.cfg.RetryMax)
		}
	}
}

func storedDeadLetters(t *testing.T, p *pipeline) []jetstream.RawStreamMsg {
	t.Helper()
	st, err := p.b.JS.Stream(context.Background(), p.pc.withDefaults().DeadLetterStream)
	if err != nil {
		t.Fatal(err)
	}
	var out []jetstream.RawStreamMsg
	state := st.CachedInfo().State
	for seq := state.FirstSeq; seq <= state.LastSeq && state.Msgs > 0; seq++ {
		m, err := st.GetMsg(context.Background(), seq)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, *m)
	}
	return out
}

func TestMaventa403GoesToTheDeadLetterStreamWithItsReason(t *testing.T) {
	api := &fakeMaventa{errs: []error{&maventa.APIError{Status: 403, Code: "forbidden", Message: "no access"}}}
	p := newPipeline(t, api, StreamsConfig{})
	body := deliveredWebhook("2020-04-15T08:47:08+03:00")
	p.post(body)
	p.consume(ConsumerConfig{}, nil)
	dl := storedDeadLetters(t, p)
	if len(dl) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dl))
	}
	m := dl[0]
	if m.Header.Get(HeaderDLReason) != "forbidden" || string(m.Data) != string(body) ||
		m.Header.Get(HeaderDLSubject) != WebhookSubject(company, "DOCUMENTS.INVOICE.DELIVERED") || m.Header.Get(HeaderCompanyID) != company {
		t.Fatalf("dead letter %s %v", m.Data, m.Header)
	}
	if api.calls.Load() != 1 {
		t.Fatalf("403 was retried: %d calls", api.calls.Load())
	}
	// The webhook's own event was still emitted.
	counts, _ := p.domainEvents()
	assertCounts(t, counts, map[string]int{typeOf(events.TypeInvoiceDelivered): 1})
}

func TestACompanyWithoutCredentialsStillGetsItsInvoiceEvents(t *testing.T) {
	api := &fakeMaventa{errs: []error{&maventa.NoCredentialsError{CompanyID: company}}}
	p := newPipeline(t, api, StreamsConfig{})
	p.post(deliveredWebhook("2020-04-15T08:47:08+03:00"))
	p.consume(ConsumerConfig{}, nil)
	counts, _ := p.domainEvents()
	assertCounts(t, counts, map[string]int{typeOf(events.TypeInvoiceDelivered): 1})
	if p.proc.Stats.EnrichmentSkipped.Load() != 1 || len(storedDeadLetters(t, p)) != 0 {
		t.Fatalf("skipped %d, dead letters %d", p.proc.Stats.EnrichmentSkipped.Load(), len(storedDeadLetters(t, p)))
	}
}

func TestAnAssignmentThatNeverAppearsIsDeadLetteredAfterMaxDeliver(t *testing.T) {
	api := &fakeMaventa{service: maventa.ServiceStatus{Status: "ACTIVE"}}
	p := newPipeline(t, api, StreamsConfig{})
	p.post(deliveredWebhook("2020-04-15T08:47:08+03:00"))
	p.consume(ConsumerConfig{MaxDeliver: 3}, nil)
	dl := storedDeadLetters(t, p)
	if len(dl) != 1 || dl[0].Header.Get(HeaderDLReason) != "exhausted_assignment_not_found" || dl[0].Header.Get(HeaderDLDeliveries) != "3" {
		t.Fatalf("dead letters: %d %v", len(dl), dl)
	}
}

func TestNoAssignmentWithoutKassavirtaIsNotAnError(t *testing.T) {
	api := &fakeMaventa{service: maventa.ServiceStatus{Status: "DISABLED"}}
	p := newPipeline(t, api, StreamsConfig{})
	p.post(deliveredWebhook("2020-04-15T08:47:08+03:00"))
	p.consume(ConsumerConfig{}, nil)
	if len(storedDeadLetters(t, p)) != 0 {
		t.Fatal("an invoice of a company without an assignment service was dead-lettered")
	}
	counts, _ := p.domainEvents()
	assertCounts(t, counts, map[string]int{typeOf(events.TypeInvoiceDelivered): 1})
}

func TestAssignmentEventsAreDeterministic(t *testing.T) {
	a := seedAssignment(t)
	firstLook := func(companyID string, a maventa.Assignment) ([]events.Event, error) {
		s, err := a.Snapshot()
		if err != nil {
			return nil, err
		}
		_, evs, err := events.ApplyAssignment(events.AssignmentRecord{}, companyID, events.AssignmentFacts{Snapshot: &s}, events.TraceContext{})
		return evs, err
	}
	first, err := firstLook(company, a)
	if err != nil {
		t.Fatal(err)
	}
	// The same assignment fetched again later (events in another order) gives the same ids.
	a.Events[0], a.Events[3] = a.Events[3], a.Events[0]
	second, err := firstLook(company, a)
	if err != nil {
		t.Fatal(err)
	}
	ids := func(evs []events.Event) string {
		b, _ := json.Marshal(func() []string {
			var s []string
			for _, e := range evs {
				s = append(s, e.ID)
			}
			return s
		}())
		return string(b)
	}
	if ids(first) != ids(second) {
		t.Fatalf("ids differ:\n%s\n%s", ids(first), ids(second))
	}
}

// An id far longer than a NATS subject may be (a hostile 70 000-character
// company_id or invoice_id, accepted by the intake) must not become a KV key
// as it is: the server closes the connection over the control-line limit, and
// every later webhook then fails.
func TestAnOversizeIDKeepsTheConnection(t *testing.T) {
	p := newPipeline(t, &fakeMaventa{}, StreamsConfig{})
	ctx := context.Background()
	long := strings.Repeat("X", 70000)
	invoice := func(id string) []byte {
		return []byte(`{"event":"DOCUMENTS.INVOICE.DELIVERED","company_id":"` + company + `","event_timestamp":"2026-03-02T08:00:00Z",` +
			`"event_data":{"invoice_id":"` + id + `","invoice_number":"1003","destination":"PEPPOL","recipient_name":"Recipient","recipient_bid":"933646920"}}`)
	}
	bodies := [][]byte{
		[]byte(`{"event":"NETWORKS.PEPPOL.CREATED","company_id":"` + long + `","event_timestamp":"2026-03-02T08:00:00Z","event_data":{}}`),
		invoice(long),
		invoice("after-the-long-ones"),
	}
	for i, b := range bodies {
		if err := p.proc.Process(ctx, b, events.TraceContext{}); err != nil {
			t.Fatalf("webhook %d: %v", i, err)
		}
	}
}
