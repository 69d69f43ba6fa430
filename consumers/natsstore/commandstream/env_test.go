package commandstream

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers/commands"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/consumers/natstest"
	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

const (
	company = "0d5c2a77-6c1f-4a55-9b36-3f5f1e2d9a10"
	apiKey  = "demo-api-key"
	vendor  = "demo-vendor-key"
	other   = "7b0e9c1d-2f3a-4b5c-8d6e-9f0a1b2c3d4e" // a company without credentials here
)

var quiet = slog.New(slog.DiscardHandler)

// sent is one write the client sent to Maventa.
type sent struct {
	Method, Path string
	Body         []byte
}

// recorder records every write (non-GET) the client sends.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	w    []sent
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet && !strings.HasPrefix(req.URL.Path, "/oauth2") {
		var b []byte
		if req.Body != nil {
			b, _ = io.ReadAll(req.Body)
			req.Body = io.NopCloser(bytes.NewReader(b))
		}
		r.mu.Lock()
		r.w = append(r.w, sent{req.Method, req.URL.Path, b})
		r.mu.Unlock()
	}
	return r.next.RoundTrip(req)
}

func (r *recorder) writes() []sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sent(nil), r.w...)
}

// clock is the sandbox's and the handler's clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is JetStream, the sandbox, a Maventa client and the outcome events seen.
type env struct {
	t       testing.TB
	js      jetstream.JetStream
	nc      *nats.Conn
	sb      *sandbox.Sandbox
	api     *maventa.Client
	rec     *recorder
	clock   *clock
	store   *KVStore
	emitter *natsstore.Emitter
	dl      *natsstore.DeadLetters
	sc      StreamConfig

	mu       sync.Mutex
	outcomes map[string][]events.Event // by command id
	results  map[string][]events.Event // invoice transfer results, by command id
	services []events.Event            // service.* events
	changed  chan struct{}
}

func newEnv(t *testing.T) *env { t.Helper(); return newEnvWith(t, false) }

// newEnvWith: strict routes invoices through Amili Kassavirta only for companies
// with the service active, so that invoices have no assignment until transferred.
func newEnvWith(t testing.TB, strict bool) *env {
	t.Helper()
	ctx := context.Background()
	ns := natstest.Start(t, "")
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	pc := natsstore.PipelineConfig{}
	if _, err := natsstore.EnsurePipeline(ctx, js, pc, quiet); err != nil {
		t.Fatal(err)
	}
	sc := StreamConfig{AckWait: 3 * time.Second, RetryInitial: 5 * time.Millisecond, RetryMax: 50 * time.Millisecond}
	store, err := Ensure(ctx, js, sc, quiet)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	sb := sandbox.New(sandbox.Config{Seed: 11, Logger: quiet, TimeScale: 3600, Clock: clk.Now, StrictActivation: strict})
	t.Cleanup(sb.Close)
	sb.AddCompany(sandbox.Company{ID: company, APIKey: apiKey, VendorAPIKey: vendor, Name: "Acme Oy", BID: "1234567-8"})
	srv, err := sandbox.Start(sb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	rec := &recorder{next: http.DefaultTransport.(*http.Transport).Clone()}
	api, err := maventa.New(maventa.Config{
		AXBaseURL: srv.AXURL, ReceivablesBaseURL: srv.ReceivablesURL, VendorAPIKey: maventa.NewSecret(vendor),
		Transport: rec, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxElapsed: 2 * time.Second,
		Timeout: 10 * time.Second, RequestsPerSecond: -1,
	}, maventa.StaticCredentials(map[string]string{company: apiKey}), quiet)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, js: js, nc: nc, sb: sb, api: api, rec: rec, clock: clk, store: store,
		emitter: natsstore.NewEmitter(js, pc), dl: natsstore.NewDeadLetters(js, pc), sc: sc,
		outcomes: map[string][]events.Event{}, results: map[string][]events.Event{}, changed: make(chan struct{}, 1)}
	// Outcomes as stored in the event stream (a core subscription would also
	// see publishes JetStream drops as duplicates).
	oc, err := js.OrderedConsumer(ctx, events.StreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.SubjectRoot + ".*.command.>", events.SubjectRoot + ".*.invoice.>", events.SubjectRoot + ".*.service.>"}})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := oc.Consume(func(m jetstream.Msg) {
		ev, err := events.Decode(m.Data())
		if err != nil {
			t.Errorf("outcome event: %v", err)
			return
		}
		var d struct {
			CommandID string `json:"command_id"`
		}
		_ = json.Unmarshal(ev.Data, &d)
		e.mu.Lock()
		if strings.HasPrefix(ev.Type, events.TypePrefix+"service.") {
			e.services = append(e.services, ev)
		} else if strings.HasPrefix(ev.Type, events.TypePrefix+"invoice.transfer_") {
			e.results[d.CommandID] = append(e.results[d.CommandID], ev)
		} else {
			e.outcomes[d.CommandID] = append(e.outcomes[d.CommandID], ev)
		}
		e.mu.Unlock()
		select {
		case e.changed <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
	return e
}

// handler returns a handler on the env's store, emitter and client.
func (e *env) handler(holder string) *commands.Handler {
	return commands.NewHandler(commands.Config{Holder: holder, Now: e.clock.Now, ApplyLease: time.Minute, FollowInterval: 10 * time.Millisecond}, e.store, e.emitter, e.api, quiet)
}

// run starts a runner until the test ends.
func (e *env) run(h *commands.Handler, sc StreamConfig) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := NewRunner(sc, e.js, h, e.dl, quiet)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("runner: %v", err)
		}
	})
}

// assignment sends an invoice of sum and returns its new assignment's id.
func (e *env) assignment(number, sum string) string {
	e.t.Helper()
	r, err := e.sb.SendInvoice(company, sandbox.InvoiceSpec{Number: number, Sum: sandbox.Amt(sum), RecipientName: "Asiakas Oy",
		RecipientBID: "3456789-0", Street: "Katu 1", PostalCode: "00100", City: "Helsinki"})
	if err != nil || r.AssignmentID == "" {
		e.t.Fatalf("send invoice: %+v %v", r, err)
	}
	return r.AssignmentID
}

// command is the JSON of a command.
func command(def events.CommandDef, id, companyID, subject, data string) []byte {
	b, err := events.Command{ID: id, Source: "erp://test", Type: def.Type(), Subject: subject, CompanyID: companyID,
		CorrelationID: "corr-" + id, Data: json.RawMessage(data)}.Marshal()
	if err != nil {
		panic(err)
	}
	return b
}

// publish stores a command in the command stream, Nats-Msg-Id = its id.
func (e *env) publish(def events.CommandDef, id, companyID, subject, data string) {
	e.t.Helper()
	if _, err := e.js.Publish(context.Background(), def.Subject(companyID), command(def, id, companyID, subject, data),
		jetstream.WithMsgID(id)); err != nil {
		e.t.Fatal(err)
	}
}

// outcome waits for the outcome event of command id.
func (e *env) outcome(id string) events.Event {
	e.t.Helper()
	return e.first(e.outcomes, id, "outcome")
}

// result waits for the transfer result event of command id.
func (e *env) result(id string) events.Event {
	e.t.Helper()
	return e.first(e.results, id, "transfer result")
}

// first waits until byID holds an event of command id and returns the first.
func (e *env) first(byID map[string][]events.Event, id, what string) events.Event {
	e.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		e.mu.Lock()
		evs := byID[id]
		e.mu.Unlock()
		if len(evs) > 0 {
			return evs[0]
		}
		select {
		case <-e.changed:
		case <-deadline:
			e.t.Fatalf("no %s for command %s", what, id)
		}
	}
}

// invoice sends an invoice; with a strict sandbox it gets no assignment.
func (e *env) invoice(number string) string {
	e.t.Helper()
	r, err := e.sb.SendInvoice(company, sandbox.InvoiceSpec{Number: number, Sum: sandbox.Amt("1250.00"), RecipientName: "Asiakas Oy",
		RecipientBID: "1234567-1", Street: "Katu 1", PostalCode: "00100", City: "Helsinki"})
	if err != nil || r.InvoiceID == "" {
		e.t.Fatalf("send invoice: %+v %v", r, err)
	}
	return r.InvoiceID
}

// serviceEvents waits until n service.* events are stored and returns them.
func (e *env) serviceEvents(n int) []events.Event {
	e.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		e.mu.Lock()
		evs := append([]events.Event(nil), e.services...)
		e.mu.Unlock()
		if len(evs) >= n {
			return evs
		}
		select {
		case <-e.changed:
		case <-deadline:
			e.t.Fatalf("%d service events, want %d", len(evs), n)
		}
	}
}

func (e *env) outcomeCount(id string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.outcomes[id])
}

// types lists an assignment's event types, oldest first.
func (e *env) types(assignmentID string) []string {
	e.t.Helper()
	a, err := e.sb.Assignment(assignmentID)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range a.Events {
		out = append(out, ev.Type)
	}
	return out
}
