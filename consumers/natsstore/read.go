package natsstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StoredMsg is one message read back from a stream.
type StoredMsg struct {
	Seq     uint64
	Time    time.Time
	Subject string
	Header  nats.Header
	Data    []byte
}

// StreamState is a stream's size and sequence range.
type StreamState struct {
	Msgs, Bytes       uint64
	FirstSeq, LastSeq uint64
}

// LastMessages reads the newest n messages of stream, oldest first (those
// removed meanwhile by age limits or deletion are skipped), and the stream's
// state when it started.
func LastMessages(ctx context.Context, js jetstream.JetStream, stream string, n int) (StreamState, []StoredMsg, error) {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return StreamState{}, nil, fmt.Errorf("stream %s: %w", stream, err)
	}
	s := st.CachedInfo().State
	state := StreamState{Msgs: s.Msgs, Bytes: s.Bytes, FirstSeq: s.FirstSeq, LastSeq: s.LastSeq}
	first := state.FirstSeq
	if n >= 0 && state.LastSeq >= uint64(n) && state.LastSeq-uint64(n)+1 > first {
		first = state.LastSeq - uint64(n) + 1
	}
	var out []StoredMsg
	for seq := first; seq <= state.LastSeq && state.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // removed by age limits or deleted
		}
		if err != nil {
			return state, out, fmt.Errorf("read message %d: %w", seq, err)
		}
		out = append(out, StoredMsg{Seq: m.Sequence, Time: m.Time, Subject: m.Subject, Header: m.Header, Data: m.Data})
	}
	return state, out, nil
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
