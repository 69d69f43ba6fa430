package natsstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/events"
)

// Headers added to a dead letter; the original message's headers are kept.
const (
	HeaderDLReason     = "Dead-Letter-Reason"     // short machine-readable cause
	HeaderDLError      = "Dead-Letter-Error"      // the error text (never secrets)
	HeaderDLStream     = "Dead-Letter-Stream"     // stream the message came from
	HeaderDLSequence   = "Dead-Letter-Sequence"   // its sequence there
	HeaderDLSubject    = "Dead-Letter-Subject"    // its subject (replay publishes back to it)
	HeaderDLDeliveries = "Dead-Letter-Deliveries" // how often it was tried
	HeaderDLAt         = "Dead-Letter-At"         // when it was dead-lettered (RFC 3339)
	HeaderOriginalID   = "Original-Msg-Id"        // the original Nats-Msg-Id
	// HeaderDLGroupIndex is the webhook's position (0-based) in the group
	// message at Dead-Letter-Sequence; absent for a webhook stored alone.
	HeaderDLGroupIndex = "Dead-Letter-Group-Index"
)

// DeadLetters keeps messages that could not be processed, so nothing disappears
// silently: the original body and headers, plus why.
type DeadLetters struct {
	js     jetstream.JetStream
	stream string
}

// NewDeadLetters writes into the dead-letter stream of c.
func NewDeadLetters(js jetstream.JetStream, c PipelineConfig) *DeadLetters {
	return &DeadLetters{js: js, stream: c.withDefaults().DeadLetterStream}
}

// Put stores msg as a dead letter on maventa.deadletter.<reason>.<company_id>.
// It is idempotent per original message (deduplicated on stream and sequence,
// and position for a webhook of a group, which is stored in the
// single-webhook format: its own subject, headers and body).
func (d *DeadLetters) Put(ctx context.Context, msg jetstream.Msg, reason string, cause error) error {
	md, err := msg.Metadata()
	if err != nil {
		return fmt.Errorf("dead letter: message metadata: %w", err)
	}
	h := nats.Header{}
	for k, v := range msg.Headers() {
		h[k] = append([]string(nil), v...)
	}
	if id := h.Get(nats.MsgIdHdr); id != "" {
		h.Set(HeaderOriginalID, id)
		h.Del(nats.MsgIdHdr)
	}
	company := h.Get(HeaderCompanyID)
	h.Set(HeaderDLReason, reason)
	if cause != nil {
		h.Set(HeaderDLError, cause.Error())
	}
	h.Set(HeaderDLStream, md.Stream)
	h.Set(HeaderDLSequence, strconv.FormatUint(md.Sequence.Stream, 10))
	h.Set(HeaderDLSubject, msg.Subject())
	h.Set(HeaderDLDeliveries, strconv.FormatUint(md.NumDelivered, 10))
	h.Set(HeaderDLAt, time.Now().UTC().Format(time.RFC3339))
	sanitizeHeader(h)
	out := &nats.Msg{
		Subject: DeadLetterSubjectRoot + "." + events.SanitizeToken(reason) + "." + events.SanitizeToken(company),
		Data:    msg.Data(),
		Header:  h,
	}
	id := md.Stream + ":" + strconv.FormatUint(md.Sequence.Stream, 10)
	if m, ok := msg.(*groupMember); ok {
		h.Set(HeaderDLGroupIndex, strconv.Itoa(m.index))
		id += ":" + strconv.Itoa(m.index)
	}
	if _, err := d.js.PublishMsg(ctx, out, jetstream.WithMsgID(id), jetstream.WithExpectStream(d.stream)); err != nil {
		return fmt.Errorf("dead letter: %w", err)
	}
	return nil
}
