package natsstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/consumers/natstest"
)

// gatedJS writes to a real JetStream but holds back each acknowledgement
// until the test releases it, so that a test decides what is in flight when
// the next webhooks arrive (no timing involved).
type gatedJS struct {
	jetstream.JetStream
	mu    sync.Mutex
	sent  []*nats.Msg
	gates []chan error // one per sent message, in order
	open  bool         // release every acknowledgement from now on
}

func (g *gatedJS) PublishMsgAsync(m *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	f, err := g.JetStream.PublishMsgAsync(m, opts...)
	if err != nil {
		return nil, err
	}
	gate := make(chan error, 1)
	g.mu.Lock()
	g.sent = append(g.sent, m)
	g.gates = append(g.gates, gate)
	if g.open {
		gate <- nil
	}
	g.mu.Unlock()
	out := &gatedFuture{PubAckFuture: f, ok: make(chan *jetstream.PubAck, 1), err: make(chan error, 1)}
	go func() {
		if injected := <-gate; injected != nil {
			<-f.Ok() // stored, but the client is told it failed (a lost acknowledgement)
			out.err <- injected
			return
		}
		select {
		case ack := <-f.Ok():
			out.ok <- ack
		case err := <-f.Err():
			out.err <- err
		}
	}()
	return out, nil
}

type gatedFuture struct {
	jetstream.PubAckFuture
	ok  chan *jetstream.PubAck
	err chan error
}

func (f *gatedFuture) Ok() <-chan *jetstream.PubAck { return f.ok }
func (f *gatedFuture) Err() <-chan error            { return f.err }

// release lets the acknowledgement of the i-th sent message through (with
// err instead, when not nil).
func (g *gatedJS) release(i int, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gates[i] <- err
}

// openAll releases every acknowledgement not yet released, and all later ones.
func (g *gatedJS) openAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = true
	for _, gate := range g.gates {
		select {
		case gate <- nil:
		default: // already released
		}
	}
}

func (g *gatedJS) sentCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.sent)
}

func (g *gatedJS) sentMsg(i int) *nats.Msg {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sent[i]
}

func (s *WebhookStore) queued() int {
	s.group.mu.Lock()
	defer s.group.mu.Unlock()
	return len(s.group.queue)
}

// gatedStore is a store on a fresh server whose acknowledgements gate holds,
// with one write in flight at most (so that the second writer queues).
func gatedStore(t *testing.T, sc StreamsConfig) (*WebhookStore, *gatedJS, jetstream.Stream) {
	t.Helper()
	ctx := context.Background()
	b := connect(t, natstest.Start(t, "").ClientURL())
	if err := EnsureIntakeStreams(ctx, b.JS, sc, quiet); err != nil {
		t.Fatal(err)
	}
	gate := &gatedJS{JetStream: b.JS}
	t.Cleanup(gate.openAll) // no writer is left waiting if the test fails half-way
	s := NewWebhookStore(gate, sc, PublishAsync)
	s.group.maxInFlight = 1
	st, err := b.JS.Stream(ctx, sc.withDefaults().WebhookStream)
	if err != nil {
		t.Fatal(err)
	}
	return s, gate, st
}

type storeCall struct {
	i   int
	dup bool
	err error
}

func webhookBody(i int, size int) []byte {
	b := fmt.Appendf(nil, `{"event":"DOCUMENTS.INVOICE.DELIVERED","company_id":"c-%d","event_data":{"invoice_id":"inv-%d"}}`, i%3, i)
	if size > len(b) {
		b = append(b, bytes.Repeat([]byte(" "), size-len(b))...)
	}
	return b
}

// Concurrent webhooks queued behind a write in flight are stored as ONE
// message, each caller returns only once that message is acknowledged, and
// every webhook reads back exactly as it would be stored alone.
func TestConcurrentWebhooksAreStoredAsOneGroup(t *testing.T) {
	ctx := context.Background()
	s, gate, st := gatedStore(t, StreamsConfig{})
	const n = 40
	done := make(chan storeCall, n+1)
	store := func(i int) {
		meta := http.Header{"User-Agent": {fmt.Sprintf("agent-%d", i)}, "X-Forwarded-For": {"10.0.0.1", "10.0.0.2"}}
		dup, err := s.Store(ctx, fmt.Sprintf("c-%d", i%3), "DOCUMENTS.INVOICE.DELIVERED", webhookBody(i, 0), meta)
		done <- storeCall{i, dup, err}
	}
	go store(0)
	natstest.WaitFor(t, 10*time.Second, "the first webhook is sent", func() bool { return gate.sentCount() == 1 })
	for i := 1; i <= n; i++ {
		go store(i)
	}
	natstest.WaitFor(t, 10*time.Second, "the others queue behind it", func() bool { return s.queued() == n })
	if len(done) != 0 {
		t.Fatal("a caller returned before its acknowledgement")
	}
	gate.release(0, nil)
	if c := <-done; c.i != 0 || c.err != nil || c.dup {
		t.Fatalf("first: %+v", c)
	}
	natstest.WaitFor(t, 10*time.Second, "the queue is sent as one group", func() bool { return gate.sentCount() == 2 })
	if len(done) != 0 || s.queued() != 0 {
		t.Fatalf("%d callers returned before the group's acknowledgement; %d still queued", len(done), s.queued())
	}
	group := gate.sentMsg(1)
	if group.Subject != WebhookGroupSubject || group.Header.Get(HeaderGroupCount) != fmt.Sprint(n) || group.Header.Get(nats.MsgIdHdr) != "" {
		t.Fatalf("group message: subject %q headers %v", group.Subject, group.Header)
	}
	gate.release(1, nil)
	for range n {
		if c := <-done; c.err != nil || c.dup {
			t.Fatalf("webhook %d: %+v", c.i, c)
		}
	}

	info, err := st.Info(ctx)
	if err != nil || info.State.Msgs != 2 {
		t.Fatalf("stream holds %d messages (%v), want 2: one alone, one group", info.State.Msgs, err)
	}
	count, err := CountWebhooks(ctx, gate.JetStream, "MAVENTA_WEBHOOKS")
	if err != nil || count != n+1 {
		t.Fatalf("CountWebhooks = %d, %v; want %d", count, err, n+1)
	}
	_, read, err := LastMessages(ctx, gate.JetStream, "MAVENTA_WEBHOOKS", -1)
	if err != nil || len(read) != n+1 {
		t.Fatalf("read back %d webhooks (%v), want %d", len(read), err, n+1)
	}
	seen := map[string]bool{}
	for _, m := range read {
		i := 0
		if _, err := fmt.Sscanf(m.Header.Get("User-Agent"), "agent-%d", &i); err != nil {
			t.Fatalf("webhook without its metadata: %v", m.Header)
		}
		wantSubject := WebhookSubject(fmt.Sprintf("c-%d", i%3), "DOCUMENTS.INVOICE.DELIVERED")
		body := webhookBody(i, 0)
		switch {
		case !bytes.Equal(m.Data, body):
			t.Errorf("webhook %d body %q", i, m.Data)
		case m.Subject != wantSubject:
			t.Errorf("webhook %d subject %q, want %q", i, m.Subject, wantSubject)
		case m.Header.Get(nats.MsgIdHdr) != BodyID(body) || m.Header.Get(HeaderCompanyID) != fmt.Sprintf("c-%d", i%3) ||
			m.Header.Get(HeaderEvent) != "DOCUMENTS.INVOICE.DELIVERED" || strings.Join(m.Header.Values("X-Forwarded-For"), ",") != "10.0.0.1,10.0.0.2":
			t.Errorf("webhook %d headers %v", i, m.Header)
		case (i == 0) != (m.GroupSize == 1):
			t.Errorf("webhook %d: group size %d", i, m.GroupSize)
		}
		seen[string(m.Data)] = true
	}
	if len(seen) != n+1 {
		t.Fatalf("%d distinct webhooks read back, want %d", len(seen), n+1)
	}
}

// A group JetStream refuses as too large is written again webhook by webhook,
// so that valid webhooks are stored (never answered 400 for their neighbours);
// a webhook too large for a group goes alone and its refusal is its own.
func TestARefusedGroupIsRetriedAlone(t *testing.T) {
	ctx := context.Background()
	s, gate, st := gatedStore(t, StreamsConfig{MaxMsgSize: 100 << 10})
	done := make(chan storeCall, 5)
	store := func(i, size int) {
		dup, err := s.Store(ctx, "c-1", "DOCUMENTS.INVOICE.DELIVERED", webhookBody(i, size), nil)
		done <- storeCall{i, dup, err}
	}
	go store(0, 0)
	natstest.WaitFor(t, 10*time.Second, "the first webhook is sent", func() bool { return gate.sentCount() == 1 })
	for i := 1; i <= 3; i++ { // 3 x 40 KiB: a group over the stream's 100 KiB
		go store(i, 40<<10)
		natstest.WaitFor(t, 10*time.Second, "it queues", func() bool { return s.queued() == i })
	}
	go store(4, 120<<10) // over maxGroupMember and over MaxMsgSize on its own
	natstest.WaitFor(t, 10*time.Second, "it queues", func() bool { return s.queued() == 4 })
	gate.openAll()
	results := map[int]error{}
	for range 5 {
		c := <-done
		results[c.i] = c.err
	}
	for i := range 4 {
		if results[i] != nil {
			t.Errorf("webhook %d: %v", i, results[i])
		}
	}
	var refused *RefusedError
	if !errors.As(results[4], &refused) || refused.Kind != RefusedTooLarge {
		t.Errorf("oversized webhook: want a too_large refusal, got %v", results[4])
	}
	var subjects []string
	for i := range gate.sentCount() {
		subjects = append(subjects, gate.sentMsg(i).Subject)
	}
	if subjects[1] != WebhookGroupSubject {
		t.Errorf("sent %v: the three were not tried as a group first", subjects)
	}
	info, err := st.Info(ctx)
	if err != nil || info.State.Msgs != 4 {
		t.Fatalf("stream holds %d messages (%v), want 4 single webhooks", info.State.Msgs, err)
	}
	_, read, _ := LastMessages(ctx, gate.JetStream, "MAVENTA_WEBHOOKS", -1)
	for _, m := range read {
		if m.GroupSize != 1 || m.Header.Get(nats.MsgIdHdr) != BodyID(m.Data) {
			t.Errorf("seq %d: group size %d, id %q: not stored alone", m.Seq, m.GroupSize, m.Header.Get(nats.MsgIdHdr))
		}
	}
}

// A group whose write is not acknowledged fails every caller in it as
// unavailable (503, retry later); a caller whose context ends first gets
// ErrStoreUnavailable at once, and one that never left the queue is not
// written at all.
func TestAGroupFailsTogetherAndDeadlinesAreKept(t *testing.T) {
	ctx := context.Background()
	s, gate, st := gatedStore(t, StreamsConfig{})
	done := make(chan storeCall, 10)
	store := func(ctx context.Context, i int) {
		dup, err := s.Store(ctx, "c-1", "DOCUMENTS.INVOICE.DELIVERED", webhookBody(i, 0), nil)
		done <- storeCall{i, dup, err}
	}
	go store(ctx, 0)
	natstest.WaitFor(t, 10*time.Second, "the first webhook is sent", func() bool { return gate.sentCount() == 1 })
	for i := 1; i <= 3; i++ {
		go store(ctx, i)
	}
	natstest.WaitFor(t, 10*time.Second, "three queue", func() bool { return s.queued() == 3 })
	gate.release(0, nil)
	if c := <-done; c.err != nil {
		t.Fatal(c.err)
	}
	natstest.WaitFor(t, 10*time.Second, "the group is sent", func() bool { return gate.sentCount() == 2 })

	// While the group is in flight, a caller that queues gives up.
	cctx, cancel := context.WithCancel(ctx)
	go store(cctx, 4)
	natstest.WaitFor(t, 10*time.Second, "it queues", func() bool { return s.queued() == 1 })
	cancel()
	if c := <-done; c.i != 4 || !errors.Is(c.err, ErrStoreUnavailable) || !errors.Is(c.err, context.Canceled) {
		t.Fatalf("cancelled caller: %+v", c)
	}
	if s.queued() != 0 {
		t.Fatal("a cancelled caller stayed in the queue")
	}

	gate.release(1, nats.ErrConnectionClosed)
	for range 3 {
		c := <-done
		var refused *RefusedError
		if !errors.Is(c.err, ErrStoreUnavailable) || errors.As(c.err, &refused) {
			t.Fatalf("webhook %d of the failed group: %v", c.i, c.err)
		}
	}
	// The store goes on: the next webhook leads a write of its own.
	lctx, lcancel := context.WithCancel(ctx)
	go store(lctx, 5)
	natstest.WaitFor(t, 10*time.Second, "the next webhook is sent", func() bool { return gate.sentCount() == 3 })
	lcancel() // the leader's deadline ends before its acknowledgement
	if c := <-done; c.i != 5 || !errors.Is(c.err, ErrStoreUnavailable) {
		t.Fatalf("leader without acknowledgement: %+v", c)
	}
	gate.release(2, nil)
	go store(ctx, 6)
	natstest.WaitFor(t, 10*time.Second, "the store still writes", func() bool { return gate.sentCount() == 4 })
	gate.release(3, nil)
	if c := <-done; c.i != 6 || c.err != nil {
		t.Fatalf("after the failures: %+v", c)
	}
	_, read, err := LastMessages(ctx, gate.JetStream, "MAVENTA_WEBHOOKS", -1)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range read {
		if bytes.Equal(m.Data, webhookBody(4, 0)) {
			t.Fatal("the webhook whose caller gave up in the queue was written")
		}
	}
	if info, _ := st.Info(ctx); info.State.Msgs != 4 {
		t.Fatalf("%d messages, want 4 (the failed group landed: its acknowledgement was lost)", info.State.Msgs)
	}
}

func TestGroupFramingRoundTrips(t *testing.T) {
	msgs := []*nats.Msg{
		{Header: nats.Header{HeaderCompanyID: {"c-1"}, HeaderEvent: {"A.B.C"}, "X-Forwarded-For": {"a", "b"}}, Data: []byte(`{"x":1}`)},
		{Header: nats.Header{HeaderCompanyID: {"c 2"}, HeaderEvent: {""}}, Data: nil},
		{Header: nats.Header{}, Data: bytes.Repeat([]byte{0, 0xff}, 300)},
	}
	got, err := DecodeGroup(appendGroup(nil, msgs))
	if err != nil || len(got) != len(msgs) {
		t.Fatalf("decoded %d, %v", len(got), err)
	}
	for i, m := range msgs {
		if !bytes.Equal(got[i].Data, m.Data) || fmt.Sprint(got[i].Header) != fmt.Sprint(m.Header) ||
			got[i].Subject != WebhookSubject(m.Header.Get(HeaderCompanyID), m.Header.Get(HeaderEvent)) {
			t.Errorf("entry %d: %q %v %q", i, got[i].Data, got[i].Header, got[i].Subject)
		}
	}
	good := appendGroup(nil, msgs[:1])
	for name, data := range map[string][]byte{
		"empty":                nil,
		"another format":       []byte(`{"event":"x"}`),
		"a later version":      append([]byte("MWG\x02"), good[4:]...),
		"truncated":            good[:len(good)-1],
		"trailing bytes":       append(append([]byte(nil), good...), 0),
		"count beyond the end": []byte("MWG\x01\xff\xff\xff\xff\x0f"),
		// Found by FuzzDecodeGroup: the header map was made with the corrupt
		// count as its size hint (gigabytes) before the error was looked at.
		"header count beyond the end": []byte("MWG\x01\x01\xb2\xb2\xb2\xb2\xb2\x01\xdf0"),
	} {
		if _, err := DecodeGroup(data); !errors.Is(err, ErrBadGroup) {
			t.Errorf("%s: want ErrBadGroup, got %v", name, err)
		}
	}
}

func FuzzDecodeGroup(f *testing.F) {
	f.Add(appendGroup(nil, []*nats.Msg{{Header: nats.Header{"K": {"v"}}, Data: []byte("body")}}))
	f.Add([]byte("MWG\x01\x02\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := DecodeGroup(data)
		if err != nil {
			return
		}
		// What decodes re-encodes to the same bytes, header order aside: compare decoded forms.
		msgs := make([]*nats.Msg, len(got))
		for i, w := range got {
			msgs[i] = &nats.Msg{Header: w.Header, Data: w.Data}
		}
		again, err := DecodeGroup(appendGroup(nil, msgs))
		if err != nil || len(again) != len(got) {
			t.Fatalf("re-encoded group does not decode: %v", err)
		}
		for i := range got {
			if !bytes.Equal(again[i].Data, got[i].Data) || again[i].Subject != got[i].Subject {
				t.Fatalf("entry %d changed", i)
			}
		}
	})
}

// BenchmarkStoreGrouped stores unique ~420-byte webhooks from many
// goroutines at once (as the HTTP edge does under load) through the group
// commit on a real embedded server, for several bounds of writes in flight;
// webhooks/msg is how many shared one stored message. "alone" is every
// webhook written as its own message (the store before group commit).
func BenchmarkStoreGrouped(b *testing.B) {
	for _, inFlight := range []int{0, 1, 2, 4, 8} {
		name := fmt.Sprintf("inflight=%d", inFlight)
		if inFlight == 0 {
			name = "alone"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			br := connect(b, natstest.Start(b, "").ClientURL())
			if err := EnsureIntakeStreams(ctx, br.JS, StreamsConfig{}, quiet); err != nil {
				b.Fatal(err)
			}
			s := NewWebhookStore(br.JS, StreamsConfig{}, PublishAsync)
			s.group.maxInFlight = inFlight
			var next atomic.Int64
			b.SetParallelism(32) // 32 x GOMAXPROCS concurrent requests
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := int(next.Add(1))
					var err error
					if inFlight == 0 {
						msg := &nats.Msg{Subject: WebhookSubject("c-1", "DOCUMENTS.INVOICE.DELIVERED"), Data: webhookBody(i, 420),
							Header: headerWith(nil, HeaderEvent, "DOCUMENTS.INVOICE.DELIVERED", HeaderCompanyID, "c-1")}
						_, _, err = publishAlone(ctx, br.JS, msg, "MAVENTA_WEBHOOKS", BodyID(msg.Data))
					} else {
						_, err = s.Store(ctx, "c-1", "DOCUMENTS.INVOICE.DELIVERED", webhookBody(i, 420), nil)
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			st, _ := br.JS.Stream(ctx, "MAVENTA_WEBHOOKS")
			if info, err := st.Info(ctx); err == nil && info.State.Msgs > 0 {
				b.ReportMetric(float64(next.Load())/float64(info.State.Msgs), "webhooks/msg")
			}
		})
	}
}
