package natsstore

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
)

// errGroupMemberAck is what a group member's acknowledgement methods return:
// a group is answered once, for all of its webhooks, by the consumer.
var errGroupMemberAck = errors.New("a webhook of a group is acknowledged with its group, not alone")

// groupMember is one webhook of a group message, handed to the handler and
// to DeadLetters.Put as if it were stored alone: its own subject, headers and
// body, and its group's metadata (stream, sequence, deliveries).
type groupMember struct {
	group jetstream.Msg
	index int // 0-based position in the group
	StoredWebhook
}

func (m *groupMember) Metadata() (*jetstream.MsgMetadata, error) { return m.group.Metadata() }
func (m *groupMember) Data() []byte                              { return m.StoredWebhook.Data }
func (m *groupMember) Headers() nats.Header                      { return m.Header }
func (m *groupMember) Subject() string                           { return m.StoredWebhook.Subject }
func (m *groupMember) Reply() string                             { return "" }
func (m *groupMember) Ack() error                                { return errGroupMemberAck }
func (m *groupMember) DoubleAck(context.Context) error           { return errGroupMemberAck }
func (m *groupMember) Nak() error                                { return errGroupMemberAck }
func (m *groupMember) NakWithDelay(time.Duration) error          { return errGroupMemberAck }
func (m *groupMember) InProgress() error                         { return errGroupMemberAck }
func (m *groupMember) Term() error                               { return errGroupMemberAck }
func (m *groupMember) TermWithReason(string) error               { return errGroupMemberAck }

// memberOutcome is how one webhook of a group ended in this delivery.
type memberOutcome struct {
	err    error
	reason string // dead-letter reason; "" when it succeeded or is retried
}

// processGroup handles a group message: its webhooks are handled in parallel
// (within Concurrency), each exactly as a webhook stored alone (its own span,
// trace context and log fields), while the group's lease is kept.
//
//   - All succeeded: the group is acknowledged.
//   - One or more failed transiently (and tries remain): the group is retried
//     after the usual delay, all of it; the webhooks that succeeded are handled
//     again then, and the per-aggregate records make that emit nothing twice.
//   - Otherwise each webhook that failed permanently, or transiently on the
//     last try, is dead-lettered alone in the single-webhook format (so that
//     dlq replay works unchanged) and the group is acknowledged (Term).
//
// A permanent failure in a group that is retried is dead-lettered only in
// the delivery that finishes the group: dead-lettering it at once would
// dead-letter it again at each retry, beyond the dead-letter stream's
// duplicate window.
func (c *WebhookConsumer) processGroup(ctx context.Context, msg jetstream.Msg, md *jetstream.MsgMetadata) {
	log := c.log.With("stream_seq", md.Sequence.Stream, "deliveries", md.NumDelivered, "subject", msg.Subject())
	members, err := DecodeGroup(msg.Data())
	if err != nil {
		// Nothing in it can be trusted: keep the whole message for an operator.
		c.finishGroup(ctx, msg, log, nil, nil, "invalid_group", err)
		return
	}
	outcomes := make([]memberOutcome, len(members))
	if md.NumDelivered > uint64(c.cfg.MaxDeliver) {
		// Tried too often without an answer (e.g. the process died on it every time).
		for i := range outcomes {
			outcomes[i] = memberOutcome{err: errors.New("delivered more often than MaxDeliver without completing"), reason: "exhausted"}
		}
		c.finishGroup(ctx, msg, log, members, outcomes, "", nil)
		return
	}
	_ = c.keepingLease(msg, func() error {
		var wg sync.WaitGroup
		for i := range members {
			c.slots <- struct{}{}
			wg.Go(func() {
				defer func() { <-c.slots }()
				outcomes[i] = c.processMember(ctx, &groupMember{group: msg, index: i, StoredWebhook: members[i]}, md)
			})
		}
		wg.Wait()
		return nil
	})
	c.finishGroup(ctx, msg, log, members, outcomes, "", nil)
}

// processMember handles one webhook of a group and says how it ended.
func (c *WebhookConsumer) processMember(ctx context.Context, m *groupMember, md *jetstream.MsgMetadata) memberOutcome {
	ctx, span := c.startProcess(ctx, m, md)
	defer span.End()
	err := c.handle(ctx, m)
	if err == nil {
		return memberOutcome{}
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, "processing failed")
	var pe *consumers.ProcessError
	switch {
	case errors.As(err, &pe) && !pe.Retry:
		return memberOutcome{err: err, reason: pe.Reason}
	case md.NumDelivered >= uint64(c.cfg.MaxDeliver):
		if pe != nil {
			return memberOutcome{err: err, reason: "exhausted_" + pe.Reason}
		}
		return memberOutcome{err: err, reason: "exhausted"}
	}
	return memberOutcome{err: err}
}

// finishGroup answers a group message from its members' outcomes (see
// processGroup); with badReason set, the message itself is dead-lettered whole.
func (c *WebhookConsumer) finishGroup(ctx context.Context, msg jetstream.Msg, log *slog.Logger,
	members []StoredWebhook, outcomes []memberOutcome, badReason string, badErr error) {
	md, _ := msg.Metadata()
	if badReason != "" {
		if err := c.dl.Put(ctx, msg, badReason, badErr); err != nil {
			log.Error("dead letter failed; message will be retried", "reason", badReason, "err", err)
			_ = msg.NakWithDelay(c.cfg.RetryInitial)
			return
		}
		deadLetters.Add(ctx, 1, metric.WithAttributes(attrReason.String(badReason)))
		log.Warn("group message dead-lettered whole", "reason", badReason, "err", badErr)
		_ = msg.Term()
		return
	}
	var delay time.Duration
	retry := 0
	for i, o := range outcomes {
		if o.err != nil && o.reason == "" {
			var pe *consumers.ProcessError
			errors.As(o.err, &pe)
			delay = max(delay, c.retryDelay(md.NumDelivered, pe))
			retry++
			memberLog(log, members[i], i).Info("webhook processing will be retried with its group", "err", o.err)
		}
	}
	if retry > 0 {
		for _, o := range outcomes {
			outcome := "retry"
			if o.err == nil {
				outcome = "ack" // done; redone (emitting nothing new) with its group
			}
			messagesProcessed.Add(ctx, 1, metric.WithAttributes(attrOutcome.String(outcome)))
		}
		log.Info("group will be retried", "webhooks", len(members), "failed", retry, "delay", delay)
		_ = msg.NakWithDelay(delay)
		return
	}
	for i, o := range outcomes {
		if o.err == nil {
			messagesProcessed.Add(ctx, 1, metric.WithAttributes(attrOutcome.String("ack")))
			continue
		}
		m := &groupMember{group: msg, index: i, StoredWebhook: members[i]}
		if err := c.dl.Put(ctx, m, o.reason, o.err); err != nil {
			// Never drop it: retry the group (the others emit nothing twice).
			memberLog(log, members[i], i).Error("dead letter failed; the group will be retried", "reason", o.reason, "err", err)
			messagesProcessed.Add(ctx, 1, metric.WithAttributes(attrOutcome.String("retry")))
			_ = msg.NakWithDelay(c.cfg.RetryInitial)
			return
		}
		deadLetters.Add(ctx, 1, metric.WithAttributes(attrReason.String(o.reason)))
		messagesProcessed.Add(ctx, 1, metric.WithAttributes(attrOutcome.String("dead_letter")))
		memberLog(log, members[i], i).Warn("message dead-lettered", "reason", o.reason, "err", o.err)
	}
	if err := msg.Ack(); err != nil {
		log.Warn("ack failed; the group will come back and be skipped as processed", "err", err)
	}
}

// memberLog is log with the fields that tell one webhook of a group apart.
func memberLog(log *slog.Logger, m StoredWebhook, i int) *slog.Logger {
	l := log.With("group_index", i, "subject", m.Subject)
	if tp := StoredTraceContext(m.Header).TraceParent; len(tp) >= 35 {
		l = l.With("trace_id", tp[3:35]) // version-traceid-spanid-flags
	}
	return l
}
