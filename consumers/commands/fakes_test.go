package commands

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

// memStore is an in-memory Store with JetStream KV's compare-and-set: a
// record is kept as its JSON (so what the handler stores is what it reads
// back) with a revision that grows on every write.
type memStore struct {
	mu   sync.Mutex
	recs map[string]memEntry
	last uint64
	// beforePut, when set, runs before every Put (without the lock held), so a
	// test can let another writer move the record in between.
	beforePut func(r Record, rev uint64)
	// failPut, when set, fails the Put it returns true for, as a lost NATS
	// answer does.
	failPut func(r Record) bool
}

type memEntry struct {
	value []byte
	rev   uint64
}

func newMemStore() *memStore { return &memStore{recs: map[string]memEntry{}} }

// Get implements Store.
func (s *memStore) Get(_ context.Context, id string) (Record, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.recs[id]
	if !ok {
		return Record{}, 0, nil
	}
	var r Record
	if err := json.Unmarshal(e.value, &r); err != nil {
		return Record{}, 0, err
	}
	return r, e.rev, nil
}

// Put implements Store.
func (s *memStore) Put(_ context.Context, r Record, rev uint64) (uint64, error) {
	if s.beforePut != nil {
		s.beforePut(r, rev)
	}
	if s.failPut != nil && s.failPut(r) {
		return 0, errLostAnswer
	}
	b, err := json.Marshal(r)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recs[r.ID].rev != rev {
		return 0, ErrConflict
	}
	s.last++
	s.recs[r.ID] = memEntry{value: b, rev: s.last}
	return s.last, nil
}

// errLostAnswer is a store write whose answer did not come back.
var errLostAnswer = errors.New("store answer lost")

// memEmitter keeps the events emitted, each id once (the event stream's
// Nats-Msg-Id deduplication).
type memEmitter struct {
	mu  sync.Mutex
	evs []events.Event
}

// Emit implements Emitter.
func (m *memEmitter) Emit(_ context.Context, evs []events.Event) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, ev := range evs {
		if !slices.ContainsFunc(m.evs, func(e events.Event) bool { return e.ID == ev.ID }) {
			m.evs = append(m.evs, ev)
			n++
		}
	}
	return n, nil
}

// types lists the emitted event types, in order.
func (m *memEmitter) types() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, ev := range m.evs {
		out = append(out, ev.Type)
	}
	return out
}

// writeCounter counts the POSTs the client sends to the assignment event
// endpoint: the writes a command makes at Maventa.
type writeCounter struct {
	next http.RoundTripper
	mu   sync.Mutex
	n    int
}

func (w *writeCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/events") {
		w.mu.Lock()
		w.n++
		w.mu.Unlock()
	}
	return w.next.RoundTrip(req)
}

func (w *writeCounter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

const (
	fakeCompany = "0d5c2a77-6c1f-4a55-9b36-3f5f1e2d9a10"
	fakeAPIKey  = "demo-api-key"
	fakeVendor  = "demo-vendor-key"
)

// sandboxAPI starts the Maventa sandbox on 127.0.0.1 with one company and
// one assignment, and returns it, a client of it, the counter of its
// assignment event writes and the assignment's id.
func sandboxAPI(t *testing.T) (*sandbox.Sandbox, *maventa.Client, *writeCounter, string) {
	t.Helper()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	sb := sandbox.New(sandbox.Config{Seed: 7, Clock: func() time.Time { return now }})
	t.Cleanup(sb.Close)
	sb.AddCompany(sandbox.Company{ID: fakeCompany, APIKey: fakeAPIKey, VendorAPIKey: fakeVendor, Name: "Acme Oy", BID: "1234567-8"})
	srv, err := sandbox.Start(sb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	wc := &writeCounter{next: http.DefaultTransport.(*http.Transport).Clone()}
	api, err := maventa.New(maventa.Config{
		AXBaseURL: srv.AXURL, ReceivablesBaseURL: srv.ReceivablesURL, VendorAPIKey: maventa.NewSecret(fakeVendor),
		Transport: wc, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond, MaxElapsed: 50 * time.Millisecond,
		Timeout: 10 * time.Second, RequestsPerSecond: -1,
	}, maventa.StaticCredentials(map[string]string{fakeCompany: fakeAPIKey}), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := sb.SendInvoice(fakeCompany, sandbox.InvoiceSpec{Number: "F1", Sum: sandbox.Amt("100.00"), RecipientName: "Asiakas Oy",
		RecipientBID: "3456789-0", Street: "Katu 1", PostalCode: "00100", City: "Helsinki"})
	if err != nil || r.AssignmentID == "" {
		t.Fatalf("send invoice: %+v %v", r, err)
	}
	return sb, api, wc, r.AssignmentID
}
