package natsstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/events"
)

// HeaderReplayedFrom marks a replayed webhook with the dead letter it came
// from (<dead-letter stream>:<sequence>), so its handling can be traced back.
const HeaderReplayedFrom = "Replayed-From"

// DeadLetter is one stored dead letter, read back with the headers Put added.
type DeadLetter struct {
	Seq        uint64
	Time       time.Time
	Subject    string // maventa.deadletter.<reason>.<company>
	Reason     string
	CompanyID  string
	Event      string
	Deliveries int    // how often the original was tried
	Error      string // the error text as stored (never secrets; printing may redact more)
	Original   string // the original subject: where a replay publishes
	Stream     string // the original stream; "" when the header is missing
	OrigSeq    uint64 // its sequence there; 0 when unknown
	Header     nats.Header
	Body       []byte
}

func newDeadLetter(m *jetstream.RawStreamMsg) DeadLetter {
	h := m.Header
	d := DeadLetter{
		Seq: m.Sequence, Time: m.Time.UTC(), Subject: m.Subject, Body: m.Data, Header: h,
		Reason: h.Get(HeaderDLReason), CompanyID: h.Get(HeaderCompanyID), Event: h.Get(HeaderEvent),
		Error: h.Get(HeaderDLError), Original: h.Get(HeaderDLSubject), Stream: h.Get(HeaderDLStream),
	}
	d.Deliveries, _ = strconv.Atoi(h.Get(HeaderDLDeliveries))
	d.OrigSeq, _ = strconv.ParseUint(h.Get(HeaderDLSequence), 10, 64)
	return d
}

// DeadLetterFilter is the subject filter of the dead letters with reason of
// company ("" for either: any).
func DeadLetterFilter(reason, company string) string {
	r, c := "*", "*"
	if reason != "" {
		r = events.SanitizeToken(reason)
	}
	if company != "" {
		c = events.SanitizeToken(company)
	}
	if r == "*" && c == "*" {
		return DeadLetterSubjectRoot + ".>"
	}
	return DeadLetterSubjectRoot + "." + r + "." + c
}

// ErrNoDeadLetterStream means the dead-letter stream does not exist: the
// service never started against this NATS.
var ErrNoDeadLetterStream = errors.New("does not exist (has the service ever started against this NATS?)")

// ErrDeadLetterNotFound means no dead letter has that sequence (replayed,
// deleted or expired).
var ErrDeadLetterNotFound = errors.New("not found")

// DeadLetterQueue reads, replays and removes the dead letters Put stored.
type DeadLetterQueue struct {
	js            jetstream.JetStream
	st            jetstream.Stream
	name          string
	defaultStream string // where a dead letter without Dead-Letter-Stream came from
}

// OpenDeadLetterQueue opens the dead-letter stream of pc; a dead letter
// without its stream header came from the webhook stream of sc.
func OpenDeadLetterQueue(ctx context.Context, js jetstream.JetStream, pc PipelineConfig, sc StreamsConfig) (*DeadLetterQueue, error) {
	name := pc.withDefaults().DeadLetterStream
	st, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("dead-letter stream %s %w", name, ErrNoDeadLetterStream)
	}
	if err != nil {
		return nil, fmt.Errorf("dead-letter stream %s: %w", name, err)
	}
	return &DeadLetterQueue{js: js, st: st, name: name, defaultStream: sc.withDefaults().WebhookStream}, nil
}

// Get reads the dead letter at seq; ErrDeadLetterNotFound (wrapped) when
// there is none.
func (q *DeadLetterQueue) Get(ctx context.Context, seq uint64) (DeadLetter, error) {
	m, err := q.st.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return DeadLetter{}, fmt.Errorf("dead letter %d %w in %s (replayed, deleted or expired?)", seq, ErrDeadLetterNotFound, q.name)
	}
	if err != nil {
		return DeadLetter{}, fmt.Errorf("dead letter %d: %w", seq, err)
	}
	return newDeadLetter(m), nil
}

// Each calls fn with every dead letter matching filter (DeadLetterFilter)
// that was stored when it started, oldest first, until fn fails.
func (q *DeadLetterQueue) Each(ctx context.Context, filter string, fn func(DeadLetter) error) error {
	info, err := q.st.Info(ctx)
	if err != nil {
		return err
	}
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; {
		m, err := q.st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil // none left at or after seq
		}
		if err != nil {
			return fmt.Errorf("read dead letter at %d: %w", seq, err)
		}
		if m.Sequence > info.State.LastSeq {
			return nil // arrived after we started: the next run sees it
		}
		if err := fn(newDeadLetter(m)); err != nil {
			return err
		}
		seq = m.Sequence + 1
	}
	return nil
}

// Source is the stream and subject a replay of d publishes to; subject is ""
// when d does not say where it came from.
func (q *DeadLetterQueue) Source(d DeadLetter) (stream, subject string) {
	return cmp.Or(d.Stream, q.defaultStream), d.Original
}

// Replay publishes d back to its original subject (Dead-Letter-Subject) in its
// original stream, with the original body and headers minus the Dead-Letter-*
// and Original-Msg-Id headers plus Replayed-From, then deletes it once the
// publish was acknowledged. It returns the new sequence in the original stream.
//
// It deliberately does NOT carry the original Nats-Msg-Id (the body hash): the
// raw-webhook stream drops a repeat of that id within its duplicate window (2
// minutes), so a replay soon after the original delivery (or after Maventa's
// retry of it) would be acknowledged as a duplicate and silently not stored,
// and the dead letter deleted with nothing replayed. Instead the id is unique
// to the dead letter ("dlq-replay:<stream>:<seq>"), so running the same replay
// again after a crash between publish and delete is deduplicated within the
// window. Replaying something already processed is safe beyond that too: the
// consumer emits only what its aggregate's record lacks.
func (q *DeadLetterQueue) Replay(ctx context.Context, d DeadLetter) (uint64, error) {
	stream, subject := q.Source(d)
	if subject == "" {
		return 0, errors.New("no " + HeaderDLSubject + " header: cannot tell where it came from")
	}
	h := nats.Header{}
	for k, vs := range d.Header {
		if strings.HasPrefix(k, "Dead-Letter-") || k == HeaderOriginalID || strings.HasPrefix(k, "Nats-") {
			continue
		}
		h[k] = append([]string(nil), vs...)
	}
	from := q.name + ":" + strconv.FormatUint(d.Seq, 10)
	h.Set(HeaderReplayedFrom, from)
	msg := &nats.Msg{Subject: subject, Data: d.Body, Header: h}
	ack, err := q.js.PublishMsg(ctx, msg, jetstream.WithMsgID("dlq-replay:"+from), jetstream.WithExpectStream(stream))
	if err != nil {
		return 0, fmt.Errorf("publish: %w", err)
	}
	if err := q.st.DeleteMsg(ctx, d.Seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return ack.Sequence, fmt.Errorf("republished as %s:%d but the dead letter was not deleted: %w", stream, ack.Sequence, err)
	}
	return ack.Sequence, nil
}
