package natsstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/consumers/natstest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func connect(t testing.TB, url string) *Broker {
	t.Helper()
	b, err := OpenBroker(context.Background(), BrokerConfig{URL: url}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

func TestEnsureStreamIsIdempotentAndUpdatesInPlace(t *testing.T) {
	ctx := context.Background()
	b := connect(t, natstest.Start(t, "").ClientURL())
	sc := StreamsConfig{}
	if err := EnsureIntakeStreams(ctx, b.JS, sc, quiet); err != nil {
		t.Fatal(err)
	}
	store := NewWebhookStore(b.JS, sc, PublishAsync)
	if _, err := store.Store(ctx, "c1", "A.B.C", []byte(`{"x":1}`), nil); err != nil {
		t.Fatal(err)
	}
	if err := EnsureIntakeStreams(ctx, b.JS, sc, quiet); err != nil {
		t.Fatalf("second provisioning: %v", err)
	}
	sc.WebhookMaxAge = 48 * time.Hour
	if err := EnsureIntakeStreams(ctx, b.JS, sc, quiet); err != nil {
		t.Fatalf("changing max age: %v", err)
	}
	st, err := b.JS.Stream(ctx, "MAVENTA_WEBHOOKS")
	if err != nil {
		t.Fatal(err)
	}
	info := st.CachedInfo()
	if info.Config.MaxAge != 48*time.Hour || info.Config.Storage != jetstream.FileStorage || info.State.Msgs != 1 {
		t.Fatalf("after update: max_age %v storage %v msgs %d", info.Config.MaxAge, info.Config.Storage, info.State.Msgs)
	}
}

func TestEnsureStreamNeverRecreatesAConflictingStream(t *testing.T) {
	ctx := context.Background()
	b := connect(t, natstest.Start(t, "").ClientURL())
	// Someone made the stream with memory storage and it holds data.
	if _, err := b.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "MAVENTA_WEBHOOKS", Subjects: []string{"maventa.webhooks.>"}, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.JS.Publish(ctx, "maventa.webhooks.c.A", []byte("keep me")); err != nil {
		t.Fatal(err)
	}
	err := EnsureIntakeStreams(ctx, b.JS, StreamsConfig{}, quiet)
	var conflict *StreamConflictError
	if !errors.As(err, &conflict) || conflict.Field != "storage" || conflict.Messages != 1 {
		t.Fatalf("want a storage conflict naming 1 message, got %v", err)
	}
	if !strings.Contains(err.Error(), "never deleted or recreated") {
		t.Errorf("message does not say what to do: %v", err)
	}
	st, _ := b.JS.Stream(ctx, "MAVENTA_WEBHOOKS")
	if info := st.CachedInfo(); info.Config.Storage != jetstream.MemoryStorage || info.State.Msgs != 1 {
		t.Fatal("the conflicting stream was changed")
	}
}

func TestStoreKeepsBytesAndHeadersAndDeduplicates(t *testing.T) {
	for _, mode := range []PublishMode{PublishAsync, PublishSync} {
		t.Run([]string{"async", "sync"}[mode], func(t *testing.T) {
			ctx := context.Background()
			b := connect(t, natstest.Start(t, "").ClientURL())
			sc := StreamsConfig{}
			if err := EnsureIntakeStreams(ctx, b.JS, sc, quiet); err != nil {
				t.Fatal(err)
			}
			store := NewWebhookStore(b.JS, sc, mode)
			body := []byte("{\"event\":\"DOCUMENTS.INVOICE.DELIVERED\",  \"company_id\":\"c-1\"}\n")
			meta := http.Header{"User-Agent": {"Maventa"}, "Received-At": {"2026-11-21T06:00:00Z"}}
			for i, wantDup := range []bool{false, true} {
				dup, err := store.Store(ctx, "c-1", "DOCUMENTS.INVOICE.DELIVERED", body, meta)
				if err != nil || dup != wantDup {
					t.Fatalf("store #%d: dup=%v err=%v", i, dup, err)
				}
			}
			// A hostile event name with a line break must not corrupt the headers.
			if _, err := store.Store(ctx, "c-1", "EVIL\r\nNats-Msg-Id: x", []byte(`other`), nil); err != nil {
				t.Fatal(err)
			}
			if _, err := store.Quarantine(ctx, "invalid_envelope", []byte(`{bad`), http.Header{"Problems": {"body is not valid JSON"}}); err != nil {
				t.Fatal(err)
			}
			st, _ := b.JS.Stream(ctx, "MAVENTA_WEBHOOKS")
			if n := st.CachedInfo().State.Msgs; n != 2 {
				t.Fatalf("stream holds %d messages, want 2 (one deduplicated)", n)
			}
			m, err := st.GetMsg(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if string(m.Data) != string(body) {
				t.Errorf("body changed: %q", m.Data)
			}
			if m.Subject != "maventa.webhooks.c-1.DOCUMENTS.INVOICE.DELIVERED" {
				t.Errorf("subject %q", m.Subject)
			}
			for k, want := range map[string]string{"User-Agent": "Maventa", HeaderEvent: "DOCUMENTS.INVOICE.DELIVERED", HeaderCompanyID: "c-1", "Nats-Msg-Id": BodyID(body)} {
				if got := m.Header.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			q, _ := b.JS.Stream(ctx, "MAVENTA_QUARANTINE")
			qm, err := q.GetMsg(ctx, 1)
			if err != nil || string(qm.Data) != `{bad` || qm.Header.Get(HeaderReason) != "invalid_envelope" || qm.Subject != "maventa.quarantine.invalid_envelope" {
				t.Fatalf("quarantined %v %q %v", err, qm.Data, qm.Header)
			}
		})
	}
}

func TestStoreFailsFastWhileNATSIsDown(t *testing.T) {
	ctx := context.Background()
	ns := natstest.Start(t, "")
	b := connect(t, ns.ClientURL())
	sc := StreamsConfig{}
	if err := EnsureIntakeStreams(ctx, b.JS, sc, quiet); err != nil {
		t.Fatal(err)
	}
	store := NewWebhookStore(b.JS, sc, PublishAsync)
	ns.Stop()
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := store.Store(cctx, "c", "A.B.C", []byte("lost?"), nil)
	if !errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("want ErrStoreUnavailable, got %v", err)
	}
	if b.Connected() {
		t.Error("broker claims to be connected while the server is down")
	}
}

func FuzzWebhookSubject(f *testing.F) {
	f.Add("53a4e05d-42f0-4e76-acd6-968ab4558c6f", "DOCUMENTS.INVOICE.DELIVERED")
	f.Add("", "")
	f.Add("a.b", "*.>")
	f.Add("c c", "A..B.")
	f.Add("\x00\xff", "A.B.C.D.E.F.G.H.I")
	f.Add("%7E", "%")
	f.Add(strings.Repeat("x", 5000), strings.Repeat(".", 5000))
	f.Fuzz(func(t *testing.T, company, event string) {
		subj := WebhookSubject(company, event)
		if !server.IsValidLiteralSubject(subj) {
			t.Fatalf("invalid or wildcard subject %q from (%q, %q)", subj, company, event)
		}
		if !strings.HasPrefix(subj, WebhookSubjectRoot+".") {
			t.Fatalf("subject %q escapes the root", subj)
		}
		if n := strings.Count(subj, "."); n > 2+maxEventTokens {
			t.Fatalf("subject %q has %d dots", subj, n)
		}
		if len(subj) > 1024 {
			t.Fatalf("subject of %d bytes", len(subj))
		}
	})
}

func TestWebhookSubjects(t *testing.T) {
	tests := []struct{ company, event, want string }{
		{"53a4e05d-42f0", "DOCUMENTS.INVOICE.DELIVERED", "maventa.webhooks.53a4e05d-42f0.DOCUMENTS.INVOICE.DELIVERED"},
		{"c", "NEW_EVENT", "maventa.webhooks.c.NEW_EVENT"},
		{"a.b", "*.>", "maventa.webhooks.a%2Eb.%2A.%3E"},
		{"", "A..B", "maventa.webhooks.%.A.%.B"},
		{"c", "A.B.C.D.E.F.G.H", "maventa.webhooks.c.A.B.C.D.E.F%2EG%2EH"},
	}
	for _, tt := range tests {
		if got := WebhookSubject(tt.company, tt.event); got != tt.want {
			t.Errorf("WebhookSubject(%q, %q) = %q, want %q", tt.company, tt.event, got, tt.want)
		}
	}
}

func TestEnsureStreamLeavesAnUnchangedStreamAlone(t *testing.T) {
	ctx := context.Background()
	b := connect(t, natstest.Start(t, "").ClientURL())
	want := PipelineConfig{}.EventStreamConfig() // MaxMsgSize unset: the server stores -1
	if _, err := EnsureStream(ctx, b.JS, want, quiet); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	if _, err := EnsureStream(ctx, b.JS, want, log); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "stream updated") {
		t.Fatalf("an unchanged stream was updated: %s", logs.String())
	}
}

// TestBrokerLogsAsynchronousErrors makes a subscription a slow consumer: the
// error must reach the service's log, not nats.go's default stderr print.
func TestBrokerLogsAsynchronousErrors(t *testing.T) {
	var mu sync.Mutex
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	b, err := OpenBroker(context.Background(), BrokerConfig{URL: natstest.Start(t, "").ClientURL()}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	sub, err := b.NC.SubscribeSync("slow.subject")
	if err != nil {
		t.Fatal(err)
	}
	// Gone before the broker closes: closing drains, and this one never is.
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := sub.SetPendingLimits(1, -1); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := b.NC.Publish("slow.subject", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	natstest.WaitFor(t, 10*time.Second, "the slow-consumer error in the log", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(logs.String(), `msg="nats asynchronous error" subject=slow.subject err="nats: slow consumer`)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// Issue 16, item 1: a 70 000-character event name or a 60 KB User-Agent made
// the headers exceed JetStream's 64 KiB, and the refusal was reported as
// "unavailable", so the sender was told to retry forever.
func TestStoreKeepsWebhooksWithOversizeHeaderValues(t *testing.T) {
	ctx := context.Background()
	b := connect(t, natstest.Start(t, "").ClientURL())
	if err := EnsureIntakeStreams(ctx, b.JS, StreamsConfig{}, quiet); err != nil {
		t.Fatal(err)
	}
	store := NewWebhookStore(b.JS, StreamsConfig{}, PublishAsync)
	long := strings.Repeat("E", 70000)
	tests := []struct {
		name, event, company string
		meta                 http.Header
	}{
		{"70 000-character event name", "DOCUMENTS." + long, "c-1", nil},
		{"70 000-character company id", "DOCUMENTS.INVOICE.DELIVERED", long, nil},
		{"60 KB User-Agent", "DOCUMENTS.INVOICE.DELIVERED", "c-1", http.Header{"User-Agent": {strings.Repeat("u", 60000)}}},
		{"60 KB X-Forwarded-For and User-Agent", "DOCUMENTS.INVOICE.DELIVERED", "c-1", http.Header{
			"User-Agent": {strings.Repeat("ä", 30000)}, "X-Forwarded-For": {strings.Repeat("10.0.0.1, ", 6000)}}},
	}
	st, _ := b.JS.Stream(ctx, "MAVENTA_WEBHOOKS")
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(`{"n":` + strconv.Itoa(i) + `}`)
			if _, err := store.Store(ctx, tt.company, tt.event, body, tt.meta); err != nil {
				t.Fatalf("not stored: %v", err)
			}
			m, err := st.GetLastMsgForSubject(ctx, WebhookSubject(tt.company, tt.event))
			if err != nil {
				t.Fatal(err)
			}
			if string(m.Data) != string(body) {
				t.Fatalf("stored %q", m.Data)
			}
			for k, vs := range m.Header {
				for _, v := range vs {
					if len(v) > maxHeaderValue || !utf8.ValidString(v) && utf8.ValidString(tt.meta.Get(k)) {
						t.Errorf("header %s: %d bytes (valid UTF-8 %v)", k, len(v), utf8.ValidString(v))
					}
				}
			}
			if ev := m.Header.Get(HeaderEvent); len(tt.event) > maxHeaderValue && !strings.Contains(ev, fmt.Sprintf("cut: %d bytes", len(tt.event))) {
				t.Errorf("a cut event name does not say so: %q", ev[len(ev)-60:])
			}
		})
	}
}

// A message JetStream can never take is a RefusedError, never "unavailable".
func TestStoreRefusalsAreNotUnavailability(t *testing.T) {
	ctx := context.Background()
	b := connect(t, natstest.Start(t, "").ClientURL())
	if err := EnsureIntakeStreams(ctx, b.JS, StreamsConfig{}, quiet); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []PublishMode{PublishAsync, PublishSync} {
		store := NewWebhookStore(b.JS, StreamsConfig{}, mode)
		// The server's max_payload is 1 MiB, the receiver's default body limit too:
		// a body at the limit plus its headers does not fit.
		_, err := store.Store(ctx, "c-1", "DOCUMENTS.INVOICE.DELIVERED", make([]byte, 1<<20), nil)
		var refused *RefusedError
		if !errors.As(err, &refused) || refused.Kind != RefusedTooLarge || errors.Is(err, ErrStoreUnavailable) {
			t.Fatalf("mode %d: want a too_large refusal, got %v", mode, err)
		}
		_, err = store.Quarantine(ctx, "invalid_envelope", make([]byte, 1<<20), nil)
		if !errors.As(err, &refused) || refused.Kind != RefusedTooLarge {
			t.Fatalf("mode %d quarantine: want a too_large refusal, got %v", mode, err)
		}
	}

	tests := []struct {
		name string
		err  error
		kind string // "" = unavailable
	}{
		{"client: payload over max_payload", nats.ErrMaxPayload, RefusedTooLarge},
		{"client: invalid subject", nats.ErrBadSubject, RefusedInvalidSubject},
		{"server: message exceeds maximum", &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamMessageExceedsMaximum}, RefusedTooLarge},
		{"server: header exceeds 64k", &jetstream.APIError{Code: 400, ErrorCode: 10097}, RefusedHeadersTooLarge},
		{"server: insufficient resources (store full)", &jetstream.APIError{Code: 503, ErrorCode: 10023}, ""},
		{"no responders", jetstream.ErrNoStreamResponse, ""},
		{"disconnected", nats.ErrConnectionClosed, ""},
		{"deadline", context.DeadlineExceeded, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := storeError(fmt.Errorf("wrapped: %w", tt.err))
			var refused *RefusedError
			switch {
			case tt.kind == "" && (!errors.Is(err, ErrStoreUnavailable) || errors.As(err, &refused)):
				t.Fatalf("want unavailable, got %v", err)
			case tt.kind != "" && (!errors.As(err, &refused) || refused.Kind != tt.kind || errors.Is(err, ErrStoreUnavailable)):
				t.Fatalf("want refusal %s, got %v", tt.kind, err)
			case !errors.Is(err, tt.err):
				t.Fatalf("cause lost: %v", err)
			}
		})
	}
}

func TestCapHeaderValue(t *testing.T) {
	for _, n := range []int{0, maxHeaderValue, maxHeaderValue + 1, 70000} {
		v := strings.Repeat("é", n/2) + strings.Repeat("x", n%2)
		got := capHeaderValue(v)
		switch {
		case len(v) <= maxHeaderValue && got != v:
			t.Errorf("%d bytes: changed", len(v))
		case len(got) > maxHeaderValue || !utf8.ValidString(got):
			t.Errorf("%d bytes: %d bytes out, valid %v", len(v), len(got), utf8.ValidString(got))
		}
	}
	a, b := strings.Repeat("a", 5000)+"1", strings.Repeat("a", 5000)+"2"
	if capHeaderValue(a) == capHeaderValue(b) {
		t.Error("two different long values cut to the same header")
	}
}
