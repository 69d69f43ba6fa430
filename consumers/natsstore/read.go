package natsstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StoredMsg is one message read back from a stream; from the raw-webhook
// stream, one webhook (a group message is read as its webhooks).
type StoredMsg struct {
	Seq     uint64
	Time    time.Time
	Subject string
	Header  nats.Header
	Data    []byte
	// Index is the webhook's position (0-based) in the group message at Seq,
	// and GroupSize the number of webhooks that message holds (1: stored alone).
	Index, GroupSize int
}

// StreamState is a stream's size and sequence range.
type StreamState struct {
	Msgs, Bytes       uint64
	FirstSeq, LastSeq uint64
}

// LastMessages reads the newest n webhooks (or messages, from a stream
// other than the raw-webhook stream) of stream, oldest first, and the
// stream's state when it started; a negative n reads all. Messages removed
// meanwhile by age limits or deletion are skipped. A group message is read as
// its webhooks, each with the subject and headers it would have stored alone;
// one that cannot be decoded is returned as it is stored.
func LastMessages(ctx context.Context, js jetstream.JetStream, stream string, n int) (StreamState, []StoredMsg, error) {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return StreamState{}, nil, fmt.Errorf("stream %s: %w", stream, err)
	}
	s := st.CachedInfo().State
	state := StreamState{Msgs: s.Msgs, Bytes: s.Bytes, FirstSeq: s.FirstSeq, LastSeq: s.LastSeq}
	var out []StoredMsg // newest first, reversed at the end
	for seq := state.LastSeq; seq >= state.FirstSeq && seq > 0 && state.Msgs > 0 && (n < 0 || len(out) < n); seq-- {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // removed by age limits or deleted
		}
		if err != nil {
			slices.Reverse(out)
			return state, out, fmt.Errorf("read message %d: %w", seq, err)
		}
		whs, err := ExpandStored(m.Subject, m.Header, m.Data)
		if err != nil {
			whs = []StoredWebhook{{Subject: m.Subject, Header: m.Header, Data: m.Data}}
		}
		for i := len(whs) - 1; i >= 0 && (n < 0 || len(out) < n); i-- {
			out = append(out, StoredMsg{Seq: m.Sequence, Time: m.Time, Subject: whs[i].Subject, Header: whs[i].Header,
				Data: whs[i].Data, Index: i, GroupSize: len(whs)})
		}
	}
	slices.Reverse(out)
	return state, out, nil
}

// CountWebhooks is the number of webhooks the raw-webhook stream holds: its
// messages, a group counted as the webhooks in it (HeaderGroupCount, read
// with the headers only). Tools that compare what was answered 200 with what
// was stored (cmd/loadgen, the fault suite) count with it.
func CountWebhooks(ctx context.Context, js jetstream.JetStream, stream string) (uint64, error) {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(WebhookGroupSubject))
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	total, groups := info.State.Msgs, uint64(0)
	if len(info.State.Subjects) > 0 {
		groups = info.State.Subjects[WebhookGroupSubject]
	}
	if groups == 0 {
		return total, nil
	}
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{WebhookGroupSubject}, HeadersOnly: true})
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	webhooks := total - groups
	for read := uint64(0); read < groups; {
		batch, err := cons.Fetch(min(int(groups-read), 1000), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return 0, fmt.Errorf("stream %s: read groups: %w", stream, err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			c := groupCount(m.Subject(), m.Headers())
			if c == 0 {
				return 0, fmt.Errorf("stream %s: group message without a valid %s header", stream, HeaderGroupCount)
			}
			webhooks += uint64(c)
		}
		if err := batch.Error(); err != nil {
			return 0, fmt.Errorf("stream %s: read groups: %w", stream, err)
		}
		if got == 0 {
			break // none left within the wait: removed meanwhile by age limits
		}
		read += uint64(got)
	}
	return webhooks, nil
}

// TailFrom is where TailEvents starts: new events only (the zero value),
// every stored one (All), or those stored since Since.
type TailFrom struct {
	All   bool
	Since time.Time
}

// TailEvents calls f with each domain event (its CloudEvent JSON) stored in
// the event stream of c under filter, from from on, in stream order, until f
// returns false or ctx ends (then it returns nil).
func TailEvents(ctx context.Context, js jetstream.JetStream, c PipelineConfig, filter string, from TailFrom, f func(data []byte) bool) error {
	oc := jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}, DeliverPolicy: jetstream.DeliverNewPolicy}
	switch {
	case from.All:
		oc.DeliverPolicy = jetstream.DeliverAllPolicy
	case !from.Since.IsZero():
		start := from.Since
		oc.DeliverPolicy, oc.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	cons, err := js.OrderedConsumer(ctx, c.withDefaults().EventStream, oc)
	if err != nil {
		return fmt.Errorf("domain-event stream: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for {
		msg, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		if !f(msg.Data()) {
			return nil
		}
	}
}
