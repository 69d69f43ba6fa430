package consumers

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
)

// The in-memory doubles of the NATS adapter (package natsstore), so that the
// processor and the poller run here without a server. The same code runs on
// JetStream in natsstore's tests.

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// memRecords is a PollStore in memory, with the same compare-and-set as the
// KV bucket.
type memRecords struct {
	mu       sync.Mutex
	vals     map[string][]byte
	revs     map[string]uint64
	last     uint64 // the bucket's revision counter: a key's revision is its write's
	watchers map[*memWatcher]struct{}
}

type memWatcher struct {
	prefix string
	ch     chan string
}

func newMemRecords() *memRecords {
	return &memRecords{vals: map[string][]byte{}, revs: map[string]uint64{}, watchers: map[*memWatcher]struct{}{}}
}

func (m *memRecords) Load(_ context.Context, key string) ([]byte, uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.vals[key], m.revs[key], nil
}

func (m *memRecords) Store(_ context.Context, key string, v []byte, rev uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.revs[key] != rev {
		return ErrConflict
	}
	m.write(key, v)
	return nil
}

func (m *memRecords) Put(_ context.Context, key string, v []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(key, v)
	return nil
}

// write stores v at key and tells the watchers; m.mu is held.
func (m *memRecords) write(key string, v []byte) {
	m.last++
	m.vals[key] = slices.Clone(v)
	m.revs[key] = m.last
	for w := range m.watchers {
		if strings.HasPrefix(key, w.prefix) {
			select {
			case w.ch <- key:
			default: // a watcher that does not keep up loses updates, as a slow KV watcher would
			}
		}
	}
}

func (m *memRecords) List(_ context.Context, prefix string, f func(key string, value []byte)) error {
	m.mu.Lock()
	keys := []string{}
	for k := range m.vals {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	vals := make([][]byte, len(keys))
	for i, k := range keys {
		vals[i] = slices.Clone(m.vals[k])
	}
	m.mu.Unlock()
	for i, k := range keys {
		f(k, vals[i])
	}
	return nil
}

func (m *memRecords) Watch(ctx context.Context, prefix string, f func(key string)) error {
	w := &memWatcher{prefix: prefix, ch: make(chan string, 1024)}
	m.mu.Lock()
	m.watchers[w] = struct{}{}
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.watchers, w)
		m.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case k := <-w.ch:
			f(k)
		}
	}
}

// memStream is the domain-event stream in memory: it drops a publication of
// an id already stored within window, as JetStream's duplicate window does
// (window 0: forever), and keeps every other one in order.
type memStream struct {
	window time.Duration

	mu    sync.Mutex
	at    map[string]time.Time // when each id was last stored
	byID  map[string][]byte
	order []events.Event
	dups  int // publications dropped as duplicates
}

func (s *memStream) Emit(_ context.Context, evs []events.Event) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID == nil {
		s.byID, s.at = map[string][]byte{}, map[string]time.Time{}
	}
	n := 0
	for _, e := range evs {
		if at, dup := s.at[e.ID]; dup && (s.window == 0 || time.Since(at) < s.window) {
			s.dups++
			continue
		}
		b, err := e.Marshal()
		if err != nil {
			return n, err
		}
		s.at[e.ID] = time.Now()
		s.byID[e.ID] = b
		s.order = append(s.order, e)
		n++
	}
	return n, nil
}

// stored is every event kept, in the order published.
func (s *memStream) stored() []events.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.order)
}

// contents is every stored event, sorted by id, as one comparable string.
func (s *memStream) contents() string {
	var out []string
	for id, b := range s.byID {
		out = append(out, id+" "+string(b))
	}
	sort.Strings(out)
	b, _ := json.Marshal(out)
	return string(b)
}

const (
	company   = "53a4e05d-42f0-4e76-acd6-968ab4558c6f"
	invoiceID = "12f88354-5998-495b-8675-67bf05de60e5"
)

// noAssignments is the processor's Maventa for a company whose invoices have
// no assignment yet and whose services are unknown.
type noAssignments struct{}

func (noAssignments) AssignmentsForInvoice(context.Context, string, string) ([]maventa.Assignment, error) {
	return nil, nil
}

func (noAssignments) GetReceivablesService(context.Context, string, string) (maventa.ServiceStatus, error) {
	return maventa.ServiceStatus{}, nil
}

// newMemProcessor is a processor on in-memory records and stream.
func newMemProcessor(api Maventa) (*Processor, *memStream) {
	em := &memStream{}
	return NewProcessor(api, em, Stores{Assignments: newMemRecords(), Facts: newMemRecords(), Keep: time.Hour}, quiet), em
}

func typeOf(d events.TypeDef) string { return d.Type() }

func mustType(maventaType string) events.TypeDef {
	d, ok := events.TypeForAssignmentEvent(maventaType)
	if !ok {
		panic("no catalog type for " + maventaType)
	}
	return d
}
