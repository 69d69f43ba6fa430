package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

// maxE2EInvoices bounds the invoices created in the sandbox for one -e2e run.
const maxE2EInvoices = 120_000

var e2eCompany = sandbox.Company{ID: "0d5c2a77-6c1f-4a55-9b36-3f5f1e2d9a10", APIKey: "loadgen-api-key",
	VendorAPIKey: "loadgen-vendor-key", Name: "Loadgen Oy", BID: "1234567-8"}

// e2eRun is one end-to-end measurement: invoices created in an in-process
// sandbox that sends no webhooks itself (none is registered), their
// DOCUMENTS.INVOICE.DELIVERED webhooks posted by loadgen, and the domain events
// they cause read back from RECEIVABLES_EVENTS with an ordered consumer.
type e2eRun struct {
	sb       *sandbox.Sandbox
	srv      *sandbox.Server
	bodies   []string
	sentAt   []atomic.Int64 // unix nanos of the first POST of body i
	next     atomic.Int64
	byID     map[string]e2eKey // event id -> (body index, which event)
	mu       sync.Mutex
	seen     map[string]int // every event id read from the stream -> times
	histInv  *hdr.Histogram // POST -> invoice.delivered
	histOpen *hdr.Histogram // POST -> assignment.opened (after the Receivables API calls)
	broker   *natsstore.Broker
	cc       jetstream.ConsumeContext
}

type e2eKey struct {
	idx    int
	opened bool
}

type e2eResult struct {
	posted, expected, arrived, duplicated, missing, streamEvents int
	histInv, histOpen                                            *hdr.Histogram
	rssNow                                                       int64
	cpu                                                          time.Duration // service CPU from warm-up start to the last event
	webhooks                                                     int64         // 2xx answers (warm-up included)
	retained                                                     []streamState
}

func newE2E(o options) (*e2eRun, error) {
	n := int(int64(o.rate) * int64((o.duration+o.warmup)/time.Second+1))
	if int64(n) > o.maxRequests {
		n = int(o.maxRequests)
	}
	sb := sandbox.New(sandbox.Config{Seed: 1})
	sb.AddCompany(e2eCompany)
	srv, err := sandbox.Start(sb)
	if err != nil {
		return nil, err
	}
	r := &e2eRun{sb: sb, srv: srv, bodies: make([]string, n), sentAt: make([]atomic.Int64, n),
		byID: make(map[string]e2eKey, 2*n), seen: map[string]int{},
		histInv: hdr.New(1, 60_000_000, 3), histOpen: hdr.New(1, 60_000_000, 3)}
	due := time.Now().AddDate(0, 1, 0).Format(time.DateOnly)
	helsinki, _ := time.LoadLocation("Europe/Helsinki")
	for i := range n {
		res, err := sb.SendInvoice(e2eCompany.ID, sandbox.InvoiceSpec{Number: "LG-" + strconv.Itoa(i), DueDate: due,
			Sum: sandbox.Amt("100.00"), RecipientName: "Recipient Oy", RecipientBID: "933646920",
			Street: "Katu 1", PostalCode: "00100", City: "Helsinki"})
		if err != nil || res.AssignmentID == "" {
			srv.Close()
			return nil, fmt.Errorf("sandbox invoice %d: %v %+v", i, err, res)
		}
		ts := time.Now()
		if helsinki != nil {
			ts = ts.In(helsinki)
		}
		b, _ := json.Marshal(sandbox.Envelope{Event: sandbox.EventInvoiceDelivered, CompanyID: e2eCompany.ID,
			EventTimestamp: ts.Format(time.RFC3339), EventData: map[string]any{
				"invoice_id": res.InvoiceID, "invoice_number": "LG-" + strconv.Itoa(i), "destination": "PEPPOL",
				"recipient_name": "Recipient Oy", "recipient_bid": "933646920"}})
		r.bodies[i] = string(b)
		r.byID[events.InvoiceNoticeID(events.TypeInvoiceDelivered, res.InvoiceID, "DELIVERED", ts.Truncate(time.Second))] = e2eKey{idx: i}
		r.byID[events.IDFor(events.TypeAssignmentOpened, res.AssignmentID)] = e2eKey{idx: i, opened: true}
	}
	return r, nil
}

// serviceEnv points the service at the sandbox. Polling is off so that every
// domain event measured is caused by a posted webhook; the Maventa rate limit is
// raised because each webhook costs two Receivables API calls.
func (r *e2eRun) serviceEnv(rate int) []string {
	return []string{"MAVENTA_AX_URL=" + r.srv.AXURL, "MAVENTA_RECEIVABLES_URL=" + r.srv.ReceivablesURL,
		"MAVENTA_VENDOR_API_KEY=" + e2eCompany.VendorAPIKey,
		"MAVENTA_COMPANY_CREDENTIALS=" + e2eCompany.ID + "=" + e2eCompany.APIKey,
		"MAVENTA_REQUESTS_PER_SECOND=" + strconv.Itoa(e2eMaventaRate(rate)), "POLL_ENABLED=false"}
}

// e2eMaventaRate is the Maventa budget for a run at rate webhooks/s: twice the
// two Receivables calls per webhook, so the budget never paces the run. It is
// not "unlimited" on purpose: the client's budget keeps one timestamp per
// request of its window (per host, enrichment and polling), so the 1 000 000/s
// used before held 78 MB of the service's heap, an artifact of the tool that
// no deployment (10/s by default) has.
func e2eMaventaRate(rate int) int { return max(1000, 4*rate) }

func (r *e2eRun) body() (int64, string) {
	i := r.next.Add(1) - 1
	if i >= int64(len(r.bodies)) {
		// More sends than invoices (a pacer that caught up): resend the last
		// body, a duplicate the service must absorb.
		i = int64(len(r.bodies)) - 1
	}
	return i, r.bodies[i]
}

func (r *e2eRun) sent(i int64) { r.sentAt[i].CompareAndSwap(0, time.Now().UnixNano()) }

func (r *e2eRun) subscribe(ctx context.Context, natsURL string) error {
	b, err := natsstore.OpenBroker(ctx, natsstore.BrokerConfig{URL: natsURL, Name: "loadgen-e2e"}, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	r.broker = b
	c, err := b.JS.OrderedConsumer(ctx, events.StreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"receivables.events.>"}})
	if err != nil {
		return err
	}
	r.cc, err = c.Consume(func(m jetstream.Msg) {
		now := time.Now().UnixNano()
		id := m.Headers().Get("Nats-Msg-Id")
		r.mu.Lock()
		defer r.mu.Unlock()
		r.seen[id]++
		k, ok := r.byID[id]
		if !ok || r.seen[id] > 1 {
			return
		}
		if at := r.sentAt[k.idx].Load(); at > 0 {
			h := r.histInv
			if k.opened {
				h = r.histOpen
			}
			_ = h.RecordValue((now - at) / 1000)
		}
	})
	return err
}

// finish waits (at most wait) until both expected events of every posted
// webhook arrived, then counts.
func (r *e2eRun) finish(ctx context.Context, wait time.Duration) *e2eResult {
	posted := int(r.next.Load())
	if posted > len(r.bodies) {
		posted = len(r.bodies)
	}
	expected := map[string]bool{}
	for id, k := range r.byID {
		if k.idx < posted && r.sentAt[k.idx].Load() > 0 {
			expected[id] = true
		}
	}
	deadline := time.Now().Add(wait)
	res := &e2eResult{posted: posted, expected: len(expected)}
	for {
		r.mu.Lock()
		res.arrived, res.missing, res.duplicated = 0, 0, 0
		for id := range expected {
			if r.seen[id] > 0 {
				res.arrived++
			} else {
				res.missing++
			}
		}
		for _, n := range r.seen {
			if n > 1 {
				res.duplicated += n - 1
			}
		}
		res.streamEvents = len(r.seen)
		r.mu.Unlock()
		if res.missing == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, bounded by deadline
	}
	r.cc.Stop()
	r.mu.Lock()
	res.histInv, res.histOpen = r.histInv, r.histOpen
	r.mu.Unlock()
	return res
}

func (r *e2eRun) close() {
	if r.broker != nil {
		r.broker.Close()
	}
	r.srv.Close()
	r.sb.Close()
}

// retainedState is what JetStream keeps after a run, stream by stream: the
// domain events and the state behind exactly-once (the KV buckets).
func retainedState(ctx context.Context, js jetstream.JetStream) []streamState {
	var out []streamState
	for _, name := range []string{events.StreamName, "KV_MAVENTA_PROCESSED", "KV_MAVENTA_RECONCILE"} {
		st, err := js.Stream(ctx, name)
		if err != nil {
			continue
		}
		info, err := st.Info(ctx, jetstream.WithSubjectFilter(">"))
		if err != nil {
			continue
		}
		out = append(out, streamState{name: name, msgs: info.State.Msgs, bytes: info.State.Bytes, subjects: info.State.NumSubjects})
	}
	return out
}

type streamState struct {
	name        string
	msgs, bytes uint64
	subjects    uint64
}

func (r *e2eResult) ok() bool { return r.missing == 0 && r.duplicated == 0 }

func (r *e2eResult) print(w io.Writer) {
	q := func(h *hdr.Histogram, p float64) string {
		return fmt.Sprintf("%.2fms", float64(h.ValueAtQuantile(p))/1000)
	}
	fmt.Fprintf(w, "end to end (POST -> domain event read from RECEIVABLES_EVENTS), %d webhooks posted:\n", r.posted)
	fmt.Fprintf(w, "  invoice.delivered  p50 %s  p99 %s  p999 %s  max %s  (n=%d)\n",
		q(r.histInv, 50), q(r.histInv, 99), q(r.histInv, 99.9), q(r.histInv, 100), r.histInv.TotalCount())
	fmt.Fprintf(w, "  assignment.opened  p50 %s  p99 %s  p999 %s  max %s  (n=%d, after 2 Receivables API calls)\n",
		q(r.histOpen, 50), q(r.histOpen, 99), q(r.histOpen, 99.9), q(r.histOpen, 100), r.histOpen.TotalCount())
	fmt.Fprintf(w, "  expected events %d, arrived %d, missing %d, duplicated %d, distinct events in stream %d: %s\n",
		r.expected, r.arrived, r.missing, r.duplicated, r.streamEvents,
		map[bool]string{true: "match", false: "MISMATCH"}[r.ok()])
	if r.webhooks > 0 {
		fmt.Fprintf(w, "  service CPU from warm-up to the last event %.2fs: %.0f us per webhook\n",
			r.cpu.Seconds(), float64(r.cpu.Microseconds())/float64(r.webhooks))
	}
	if r.rssNow > 0 {
		fmt.Fprintf(w, "  service RSS after the run %.1f MB\n", float64(r.rssNow)/(1<<20))
	}
	for _, s := range r.retained {
		fmt.Fprintf(w, "  retained %-22s %8d messages, %8d subjects, %7.1f MB\n", s.name, s.msgs, s.subjects, float64(s.bytes)/(1<<20))
	}
}
