package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/consumers/natstest"
	"github.com/maventa-bridge/maventa-events/events"
)

const (
	companyA = "53a4e05d-42f0-4e76-acd6-968ab4558c6f"
	companyB = "6f1c2a77-6c1f-4a55-9b36-3f5f1e2d9a11"
)

// dlqSpec is a webhook to store and dead-letter with reason.
type dlqSpec struct {
	company, event, reason, invoice string
}

func (d dlqSpec) body() string {
	return fmt.Sprintf(`{"event":%q,"company_id":%q,"event_timestamp":"2026-11-20T10:00:00+02:00","event_data":{"invoice_id":%q}}`,
		d.event, d.company, d.invoice)
}

// dlqEnv is a NATS server with the service's streams, webhooks stored through
// the real store and dead-lettered through natsstore.DeadLetters, as the
// webhook consumer does after its last try.
type dlqEnv struct {
	url   string
	js    jetstream.JetStream
	specs []dlqSpec
	seqs  []uint64 // dead-letter sequence of specs[i]
}

func newDLQEnv(t *testing.T, specs ...dlqSpec) *dlqEnv {
	t.Helper()
	ctx := context.Background()
	ns := natstest.Start(t, "")
	b, err := natsstore.OpenBroker(ctx, natsstore.BrokerConfig{URL: ns.ClientURL()}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	if err := natsstore.EnsureIntakeStreams(ctx, b.JS, natsstore.StreamsConfig{}, quietLog()); err != nil {
		t.Fatal(err)
	}
	if _, err := natsstore.EnsurePipeline(ctx, b.JS, natsstore.PipelineConfig{}, quietLog()); err != nil {
		t.Fatal(err)
	}
	e := &dlqEnv{url: ns.ClientURL(), js: b.JS, specs: specs}
	store := natsstore.NewWebhookStore(b.JS, natsstore.StreamsConfig{}, natsstore.PublishSync)
	for _, s := range specs {
		meta := http.Header{"Received-At": {"2026-11-20T08:00:01Z"}, "Content-Type": {"application/json"},
			"Authorization": {"Basic bWF2ZW50YTpzM2NyM3Q="}} // never stored by the receiver; hidden if it ever were
		if _, err := store.Store(ctx, s.company, s.event, []byte(s.body()), meta); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := b.JS.OrderedConsumer(ctx, "MAVENTA_WEBHOOKS", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	dl := natsstore.NewDeadLetters(b.JS, natsstore.PipelineConfig{})
	batch, err := cons.Fetch(len(specs), jetstream.FetchMaxWait(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for m := range batch.Messages() {
		if err := dl.Put(ctx, m, specs[i].reason, fmt.Errorf("giving up: GET https://u:pw-in-error@ax/v1/x?secret=err-s3cr3t")); err != nil {
			t.Fatal(err)
		}
		i++
	}
	if i != len(specs) {
		t.Fatalf("dead-lettered %d of %d", i, len(specs))
	}
	st, err := b.JS.Stream(ctx, "MAVENTA_DEADLETTER")
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= uint64(len(specs)); seq++ {
		if _, err := st.GetMsg(ctx, seq); err != nil {
			t.Fatalf("dead letter %d: %v", seq, err)
		}
		e.seqs = append(e.seqs, seq)
	}
	return e
}

// deadLetterSeqs lists what the dead-letter stream still holds.
func (e *dlqEnv) deadLetterSeqs(t *testing.T) []uint64 {
	t.Helper()
	q, err := natsstore.OpenDeadLetterQueue(context.Background(), e.js, natsstore.PipelineConfig{}, natsstore.StreamsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	if err := q.Each(context.Background(), natsstore.DeadLetterFilter("", ""), func(m natsstore.DeadLetter) error {
		out = append(out, m.Seq)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// webhookMsgs reads the raw-webhook stream.
func (e *dlqEnv) webhookMsgs(t *testing.T) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	st, err := e.js.Stream(ctx, "MAVENTA_WEBHOOKS")
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	state := st.CachedInfo().State
	for seq := state.FirstSeq; state.Msgs > 0 && seq <= state.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

var dlqSpecs = []dlqSpec{
	{companyA, "DOCUMENTS.INVOICE.DELIVERED", "assignment_not_found", "inv-1"},
	{companyB, "DOCUMENTS.INVOICE.DELIVERED", "forbidden", "inv-2"},
	{companyA, "SERVICES.AMILI.ACTIVATED", "forbidden", "inv-3"},
}

func TestDLQListAndShow(t *testing.T) {
	e := newDLQEnv(t, dlqSpecs...)
	list := []struct {
		name string
		args []string
		want []uint64
	}{
		{"all, oldest first", nil, []uint64{1, 2, 3}},
		{"by reason", []string{"-reason", "forbidden"}, []uint64{2, 3}},
		{"by company", []string{"-company", companyA}, []uint64{1, 3}},
		{"by reason and company", []string{"-reason", "forbidden", "-company", companyA}, []uint64{3}},
		{"newest N", []string{"-last", "2"}, []uint64{2, 3}},
		{"no match", []string{"-reason", "nope"}, nil},
	}
	for _, tt := range list {
		t.Run("list "+tt.name, func(t *testing.T) {
			out, errOut, err := runCLI(t, nil, append([]string{"dlq", "list", "-nats-url", e.url, "--json"}, tt.args...)...)
			if err != nil {
				t.Fatalf("%v\n%s", err, errOut)
			}
			var got []deadLetter
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			var seqs []uint64
			for _, d := range got {
				seqs = append(seqs, d.Seq)
				s := e.specs[d.Seq-1]
				if d.Reason != s.reason || d.CompanyID != s.company || d.Event != s.event || d.Deliveries != 1 ||
					!strings.HasPrefix(d.Original, "maventa.webhooks.") || d.Stream != "MAVENTA_WEBHOOKS" {
					t.Errorf("dead letter %d: %+v, want %+v", d.Seq, d, s)
				}
			}
			if !slices.Equal(seqs, tt.want) {
				t.Fatalf("listed %v, want %v", seqs, tt.want)
			}
			text, _, err := runCLI(t, nil, append([]string{"dlq", "list", "-nats-url", e.url}, tt.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil && !strings.Contains(text, "no dead letters") {
				t.Fatalf("text output:\n%s", text)
			}
			for _, seq := range tt.want {
				s := e.specs[seq-1]
				if !strings.Contains(text, s.reason) || !strings.Contains(text, s.company) || !strings.Contains(text, s.event) {
					t.Fatalf("text output lacks dead letter %d:\n%s", seq, text)
				}
			}
			if strings.Contains(text+out, "s3cr3t") || strings.Contains(text+out, "pw-in-error") {
				t.Fatalf("a secret in the error header was printed:\n%s%s", text, out)
			}
		})
	}

	t.Run("show prints every header and the body", func(t *testing.T) {
		out, _, err := runCLI(t, nil, "dlq", "show", "-nats-url", e.url, "-seq", "2")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"dead letter #2", "Dead-Letter-Reason:", "forbidden", "Dead-Letter-Subject:", "Dead-Letter-Deliveries:",
			"Dead-Letter-Error:", "Original-Msg-Id:", "Maventa-Company-Id:", companyB, "Received-At:", "Authorization:", "REDACTED", e.specs[1].body()} {
			if !strings.Contains(out, want) {
				t.Errorf("show lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "bWF2ZW50YTpzM2NyM3Q") || strings.Contains(out, "s3cr3t") {
			t.Fatalf("show printed a secret:\n%s", out)
		}
		out, _, err = runCLI(t, nil, "dlq", "show", "-nats-url", e.url, "-seq", "2", "-json")
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Seq     uint64              `json:"seq"`
			Headers map[string][]string `json:"headers"`
			Body    json.RawMessage     `json:"body"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		var body, want any
		_ = json.Unmarshal(doc.Body, &body)
		_ = json.Unmarshal([]byte(e.specs[1].body()), &want)
		if doc.Seq != 2 || fmt.Sprint(body) != fmt.Sprint(want) || doc.Headers["Dead-Letter-Reason"][0] != "forbidden" {
			t.Fatalf("show -json: %s", out)
		}
	})

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"show without -seq", []string{"dlq", "show"}, "-seq is required"},
		{"show of a missing sequence", []string{"dlq", "show", "-seq", "99"}, "dead letter 99 not found"},
		{"unknown subcommand", []string{"dlq", "purge"}, `unknown dlq command "purge"`},
		{"negative -last", []string{"dlq", "list", "-last", "-1"}, "-last must not be negative"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runCLI(t, nil, append(tt.args, "-nats-url", e.url)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestDLQReplay(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		replayed []int // indexes into dlqSpecs
		dryRun   bool
	}{
		{"one by sequence", []string{"-seq", "2"}, []int{1}, false},
		{"by reason", []string{"-reason", "forbidden"}, []int{1, 2}, false},
		{"by company", []string{"-company", companyA}, []int{0, 2}, false},
		{"all, rate limited", []string{"-all", "-rate", "50"}, []int{0, 1, 2}, false},
		{"dry run changes nothing", []string{"-all", "-dry-run"}, []int{0, 1, 2}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newDLQEnv(t, dlqSpecs...)
			before := e.webhookMsgs(t)
			out, errOut, err := runCLI(t, nil, append([]string{"dlq", "replay", "-nats-url", e.url, "-json"}, tt.args...)...)
			if err != nil {
				t.Fatalf("%v\n%s%s", err, out, errOut)
			}
			var rep struct {
				DryRun   bool           `json:"dry_run"`
				Replayed int            `json:"replayed"`
				Failed   int            `json:"failed"`
				Would    int            `json:"would_replay"`
				Results  []replayResult `json:"results"`
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			after := e.webhookMsgs(t)
			left := e.deadLetterSeqs(t)
			if tt.dryRun {
				if rep.Would != len(tt.replayed) || rep.Replayed != 0 || len(after) != len(before) || len(left) != len(dlqSpecs) {
					t.Fatalf("dry run changed something: %+v, %d webhooks, dead letters %v", rep, len(after), left)
				}
				text, _, err := runCLI(t, nil, append([]string{"dlq", "replay", "-nats-url", e.url}, tt.args...)...)
				if err != nil || !strings.Contains(text, "would replay #1") || !strings.Contains(text, "3 dead letters would be replayed") {
					t.Fatalf("dry run text: %v\n%s", err, text)
				}
				return
			}
			if rep.Replayed != len(tt.replayed) || rep.Failed != 0 {
				t.Fatalf("report %+v, want %d replayed", rep, len(tt.replayed))
			}
			// Each replayed dead letter is stored again, exactly, on its original
			// subject, although the original is still within the duplicate window.
			added := after[len(before):]
			if len(added) != len(tt.replayed) {
				t.Fatalf("%d messages republished, want %d", len(added), len(tt.replayed))
			}
			for i, idx := range tt.replayed {
				s, orig, m := e.specs[idx], before[idx], added[i]
				if string(m.Data) != s.body() || m.Subject != orig.Subject || m.Subject != natsstore.WebhookSubject(s.company, s.event) {
					t.Errorf("republished %s %q, want %s %q", m.Subject, m.Data, orig.Subject, s.body())
				}
				for k := range m.Header {
					if strings.HasPrefix(k, "Dead-Letter-") || k == natsstore.HeaderOriginalID {
						t.Errorf("republished with header %s", k)
					}
				}
				for _, k := range []string{natsstore.HeaderEvent, natsstore.HeaderCompanyID, "Received-At", "Content-Type"} {
					if m.Header.Get(k) != orig.Header.Get(k) {
						t.Errorf("header %s: %q, want the original %q", k, m.Header.Get(k), orig.Header.Get(k))
					}
				}
				if want := "MAVENTA_DEADLETTER:" + strconv.Itoa(idx+1); m.Header.Get(natsstore.HeaderReplayedFrom) != want {
					t.Errorf("Replayed-From %q, want %q", m.Header.Get(natsstore.HeaderReplayedFrom), want)
				}
				if rep.Results[i].NewSeq != m.Sequence || rep.Results[i].Seq != uint64(idx+1) {
					t.Errorf("result %+v, want new seq %d", rep.Results[i], m.Sequence)
				}
			}
			var wantLeft []uint64
			for i := range dlqSpecs {
				if !slices.Contains(tt.replayed, i) {
					wantLeft = append(wantLeft, uint64(i+1))
				}
			}
			if !slices.Equal(left, wantLeft) {
				t.Fatalf("dead letters left %v, want %v", left, wantLeft)
			}
		})
	}
}

func TestDLQReplayKeepsADeadLetterWhosePublishFails(t *testing.T) {
	e := newDLQEnv(t, dlqSpecs[0])
	// A dead letter whose original subject no stream holds any more.
	h := nats.Header{}
	h.Set(natsstore.HeaderDLReason, "forbidden")
	h.Set(natsstore.HeaderDLSubject, "maventa.gone.x")
	h.Set(natsstore.HeaderDLStream, "MAVENTA_WEBHOOKS")
	if _, err := e.js.PublishMsg(context.Background(), &nats.Msg{Subject: "maventa.deadletter.forbidden.x", Header: h, Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCLI(t, nil, "dlq", "replay", "-nats-url", e.url, "-all")
	if err == nil || !strings.Contains(err.Error(), "1 of 2 dead letters were not replayed") {
		t.Fatalf("got %v\n%s", err, out)
	}
	if !strings.Contains(out, "replayed #1") || !strings.Contains(out, "FAILED #2") || !strings.Contains(out, "replayed 1, failed 1") {
		t.Fatalf("report:\n%s", out)
	}
	if left := e.deadLetterSeqs(t); !slices.Equal(left, []uint64{2}) {
		t.Fatalf("dead letters left %v: the one whose publish failed must stay", left)
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"nothing chosen", nil, "exactly one of"},
		{"sequence and all", []string{"-seq", "1", "-all"}, "exactly one of"},
		{"filter and all", []string{"-reason", "x", "-all"}, "exactly one of"},
		{"negative rate", []string{"-all", "-rate", "-1"}, "-rate must not be negative"},
		{"missing sequence", []string{"-seq", "99"}, "dead letter 99 not found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runCLI(t, nil, append([]string{"dlq", "replay", "-nats-url", e.url}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// TestDLQReplayIsProcessedOnceByTheService replays dead letters into the real
// service: the webhook is processed into its domain event, and replaying the
// same webhook again emits nothing new (the processed markers).
func TestDLQReplayIsProcessedOnceByTheService(t *testing.T) {
	s := startService(t, map[string]string{"LOG_LEVEL": "info"})
	ctx := context.Background()
	b, err := natsstore.OpenBroker(ctx, natsstore.BrokerConfig{URL: s.natsURL}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	body := webhook(4242) // never received: it exists only as a dead letter
	putDeadLetter := func() {
		t.Helper()
		h := nats.Header{}
		h.Set(natsstore.HeaderEvent, "DOCUMENTS.INVOICE.DELIVERED")
		h.Set(natsstore.HeaderCompanyID, companyA)
		h.Set(natsstore.HeaderDLReason, "transient_exhausted")
		h.Set(natsstore.HeaderDLSubject, natsstore.WebhookSubject(companyA, "DOCUMENTS.INVOICE.DELIVERED"))
		h.Set(natsstore.HeaderDLStream, "MAVENTA_WEBHOOKS")
		h.Set(natsstore.HeaderOriginalID, natsstore.BodyID([]byte(body)))
		if _, err := b.JS.PublishMsg(ctx, &nats.Msg{Subject: "maventa.deadletter.transient_exhausted." + companyA, Header: h, Data: []byte(body)}); err != nil {
			t.Fatal(err)
		}
	}
	replayAndWait := func() {
		t.Helper()
		out, errOut, err := runCLI(t, nil, "dlq", "replay", "-nats-url", s.natsURL, "-all", "-json")
		if err != nil {
			t.Fatalf("%v\n%s", err, errOut)
		}
		var rep struct {
			Results []replayResult `json:"results"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Results) != 1 || rep.Results[0].Result != "replayed" {
			t.Fatalf("replay: %v\n%s", err, out)
		}
		waitConsumed(t, b.JS, rep.Results[0].NewSeq, s)
	}
	countEvents := func() int {
		t.Helper()
		st, err := b.JS.Stream(ctx, events.StreamName)
		if err != nil {
			t.Fatal(err)
		}
		n, state := 0, st.CachedInfo().State
		for seq := state.FirstSeq; state.Msgs > 0 && seq <= state.LastSeq; seq++ {
			m, err := st.GetMsg(ctx, seq)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(m.Data), "inv-4242") {
				n++
			}
		}
		return n
	}

	putDeadLetter()
	replayAndWait()
	if n := countEvents(); n != 1 {
		t.Fatalf("after the first replay: %d events for the webhook, want 1", n)
	}
	putDeadLetter() // dead-lettered again, e.g. by a later failure
	replayAndWait()
	if n := countEvents(); n != 1 {
		t.Fatalf("after replaying the same webhook again: %d events, want still 1", n)
	}
}

// waitConsumed waits until the service's webhook consumer has acknowledged the
// raw-webhook stream up to seq.
func waitConsumed(t *testing.T, js jetstream.JetStream, seq uint64, s *service) {
	t.Helper()
	ctx := context.Background()
	natstest.WaitFor(t, 60*time.Second, fmt.Sprintf("webhook %d processed", seq), func() bool {
		c, err := js.Consumer(ctx, "MAVENTA_WEBHOOKS", "maventa-events-webhooks")
		if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			t.Fatal(err)
		}
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.AckFloor.Stream >= seq && info.NumAckPending == 0
	})
}
