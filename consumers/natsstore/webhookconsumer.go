package natsstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers"
	"github.com/maventa-bridge/maventa-events/events"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Defaults of ConsumerConfig's zero fields (the service's options read them).
const (
	DefaultConsumerConcurrency  = 16
	DefaultConsumerAckWait      = 30 * time.Second
	DefaultConsumerMaxDeliver   = 10
	DefaultConsumerRetryInitial = time.Second
	DefaultConsumerRetryMax     = 5 * time.Minute
)

// ConsumerConfig configures the durable consumer of stored webhooks.
type ConsumerConfig struct {
	// Durable is the consumer's name, shared by every replica of the service so
	// that each message is worked on by one of them at a time. Default
	// "maventa-events-webhooks".
	Durable string
	// Concurrency is how many webhooks this process works on at once (a
	// group message's webhooks count one each). Default
	// 16: processing one waits on Maventa (two calls) and on six JetStream
	// round trips (per aggregate a read, a batch of publishes and a
	// compare-and-set), not on the CPU, so with 4 the end-to-end
	// load test at 1 000 webhooks/s queued for hundreds of milliseconds
	// (docs/performance.md); the Maventa rate limit still bounds the API calls.
	Concurrency int
	// AckWait is how long JetStream waits for an answer before redelivering; slow
	// work keeps the message with InProgress. Default 30s.
	AckWait time.Duration
	// MaxDeliver is how many times a message is tried before it is dead-lettered.
	// Default 10.
	MaxDeliver int
	// RetryInitial and RetryMax bound the exponential delay between tries when
	// Maventa did not say (Retry-After wins). Defaults 1s and 5m.
	RetryInitial, RetryMax time.Duration
	// InfoInterval is how often the consumer's info (pending, redelivered) is read
	// from the server for the maventa.consumer.* gauges. Default 15s.
	InfoInterval time.Duration
}

func (c ConsumerConfig) withDefaults() ConsumerConfig {
	if c.Durable == "" {
		c.Durable = "maventa-events-webhooks"
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConsumerConcurrency
	}
	if c.AckWait == 0 {
		c.AckWait = DefaultConsumerAckWait
	}
	if c.MaxDeliver <= 0 {
		c.MaxDeliver = DefaultConsumerMaxDeliver
	}
	if c.RetryInitial == 0 {
		c.RetryInitial = DefaultConsumerRetryInitial
	}
	if c.RetryMax == 0 {
		c.RetryMax = DefaultConsumerRetryMax
	}
	if c.InfoInterval <= 0 {
		c.InfoInterval = 15 * time.Second
	}
	return c
}

// MessageHandler processes one stored webhook; *Processor.Process is one.
type MessageHandler func(ctx context.Context, msg jetstream.Msg) error

// WebhookConsumer feeds stored webhooks to a handler: acknowledged once the
// handler has stored everything, retried later on transient failures, and
// dead-lettered on permanent ones or after MaxDeliver tries.
type WebhookConsumer struct {
	cfg    ConsumerConfig
	cons   jetstream.Consumer
	handle MessageHandler
	dl     *DeadLetters
	log    *slog.Logger
	stream string
	stats  *consumerStats
	// slots bounds the handlers running at once to Concurrency, whether they
	// handle single messages or the webhooks of a group.
	slots chan struct{}
}

// NewWebhookConsumer creates (or updates) the durable pull consumer on the
// raw-webhook stream.
func NewWebhookConsumer(ctx context.Context, js jetstream.JetStream, streams StreamsConfig, cfg ConsumerConfig,
	handle MessageHandler, dl *DeadLetters, log *slog.Logger) (*WebhookConsumer, error) {
	cfg = cfg.withDefaults()
	cons, err := js.CreateOrUpdateConsumer(ctx, streams.withDefaults().WebhookStream, jetstream.ConsumerConfig{
		Durable:       cfg.Durable,
		Description:   "Turns stored Maventa webhooks into domain events",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubject: WebhookSubjectRoot + ".>",
		// Exhaustion is ours to handle (dead letter), so JetStream must not stop
		// delivering on its own and leave a message nowhere.
		MaxDeliver:    -1,
		MaxAckPending: cfg.Concurrency * 16,
	})
	if err != nil {
		return nil, fmt.Errorf("webhook consumer %s: %w", cfg.Durable, err)
	}
	stream := streams.withDefaults().WebhookStream
	stats := &consumerStats{attrs: attribute.NewSet(attrConsumerGroup.String(cfg.Durable), attrStream.String(stream))}
	return &WebhookConsumer{cfg: cfg, cons: cons, handle: handle, dl: dl, log: log, stream: stream, stats: stats,
		slots: make(chan struct{}, cfg.Concurrency)}, nil
}

// Run processes messages until ctx ends, then lets the messages in hand finish
// (each is acknowledged, retried or dead-lettered) and returns.
func (c *WebhookConsumer) Run(ctx context.Context) error {
	it, err := c.cons.Messages(jetstream.PullMaxMessages(c.cfg.Concurrency * 2))
	if err != nil {
		return fmt.Errorf("webhook consumer: %w", err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	if reg, err := c.stats.observe(); err == nil {
		defer func() { _ = reg.Unregister() }()
	}
	go c.readInfo(ctx)
	work := make(chan jetstream.Msg)
	var wg sync.WaitGroup
	for range c.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for msg := range work {
				c.process(msg)
			}
		}()
	}
	defer wg.Wait()
	defer close(work)
	for {
		msg, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) || ctx.Err() != nil {
				return nil
			}
			c.log.Warn("webhook consumer: fetch failed", "err", err)
			continue
		}
		work <- msg
	}
}

// process handles one message with a context of its own: a shutdown lets the
// work in hand finish rather than cutting it off half-way (that would be safe,
// only wasteful: the message would come back).
func (c *WebhookConsumer) process(msg jetstream.Msg) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.AckWait*4)
	defer cancel()
	md, err := msg.Metadata()
	if err != nil {
		c.log.Error("webhook consumer: message without metadata", "err", err)
		_ = msg.Nak()
		return
	}
	if msg.Subject() == WebhookGroupSubject {
		c.processGroup(ctx, msg, md)
		return
	}
	c.slots <- struct{}{}
	defer func() { <-c.slots }()
	ctx, span := c.startProcess(ctx, msg, md)
	defer span.End()
	// The message's logger is built only when something is logged: With
	// formats its attributes at once, for every webhook, and almost none logs.
	var msgLog *slog.Logger
	log := func() *slog.Logger {
		if msgLog == nil {
			msgLog = c.log.With("stream_seq", md.Sequence.Stream, "deliveries", md.NumDelivered, "subject", msg.Subject())
			if sc := span.SpanContext(); sc.IsValid() {
				msgLog = msgLog.With("trace_id", sc.TraceID().String())
			}
		}
		return msgLog
	}
	if md.NumDelivered > uint64(c.cfg.MaxDeliver) {
		// Tried too often without an answer (e.g. the process died on it every time).
		c.deadLetter(ctx, msg, "exhausted", errors.New("delivered more often than MaxDeliver without completing"), log)
		return
	}
	err = c.keepingLease(msg, func() error { return c.handle(ctx, msg) })
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "processing failed")
	}

	var pe *consumers.ProcessError
	switch {
	case err == nil:
		c.outcome(ctx, span, "ack")
		if err := msg.Ack(); err != nil {
			log().Warn("ack failed; the message will come back and be skipped as processed", "err", err)
		}
	case errors.As(err, &pe) && !pe.Retry:
		c.deadLetter(ctx, msg, pe.Reason, err, log)
	case md.NumDelivered >= uint64(c.cfg.MaxDeliver):
		reason := "exhausted"
		if pe != nil {
			reason = "exhausted_" + pe.Reason
		}
		c.deadLetter(ctx, msg, reason, err, log)
	default:
		delay := c.retryDelay(md.NumDelivered, pe)
		c.outcome(ctx, span, "retry")
		log().Info("webhook processing will be retried", "err", err, "delay", delay)
		_ = msg.NakWithDelay(delay)
	}
}

// startProcess starts the consumer span of one delivery. The first delivery
// continues the trace stored with the message (a child of the publish span); a
// redelivery starts a new trace linked to the stored context, so that the
// original request's trace does not grow for hours of retries.
func (c *WebhookConsumer) startProcess(ctx context.Context, msg jetstream.Msg, md *jetstream.MsgMetadata) (context.Context, trace.Span) {
	stored := extract(ctx, msg.Headers())
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attrMessagingSystem.String(messagingSystemNATS),
			attrDestinationName.String(msg.Subject()),
			attrOperationType.String(operationProcess),
			attrOperationName.String(operationProcess),
			attrMessageID.String(msg.Headers().Get(nats.MsgIdHdr)),
			attrConsumerGroup.String(c.cfg.Durable),
			attrStream.String(md.Stream),
			attrStreamSequence.Int64(int64(md.Sequence.Stream)),
			attrDeliveryCount.Int64(int64(md.NumDelivered)),
			attrBodySize.Int(len(msg.Data())),
			attrEvent.String(msg.Headers().Get(HeaderEvent)),
			attrCompanyID.String(msg.Headers().Get(HeaderCompanyID)),
		),
	}
	if md.NumDelivered <= 1 {
		return tracer.Start(stored, "process "+md.Stream, opts...)
	}
	opts = append(opts, trace.WithNewRoot())
	if sc := trace.SpanContextFromContext(stored); sc.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc,
			Attributes: []attribute.KeyValue{attrDeliveryCount.Int64(int64(md.NumDelivered))}}))
	}
	// The new root keeps the stored baggage but not the stored span as parent.
	return tracer.Start(trace.ContextWithSpanContext(stored, trace.SpanContext{}), "process "+md.Stream, opts...)
}

// outcome records how a delivery ended on its span and in maventa.consumer.messages.
func (c *WebhookConsumer) outcome(ctx context.Context, span trace.Span, outcome string) {
	span.SetAttributes(attrProcessOutcome.String(outcome))
	messagesProcessed.Add(ctx, 1, metric.WithAttributes(attrOutcome.String(outcome)))
}

// readInfo refreshes the consumer's pending and redelivered counts every
// InfoInterval until ctx ends, for the gauges (a scrape never calls the server).
func (c *WebhookConsumer) readInfo(ctx context.Context) {
	t := time.NewTicker(c.cfg.InfoInterval)
	defer t.Stop()
	for {
		ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
		info, err := c.cons.Info(ictx)
		cancel()
		if err == nil {
			c.stats.pending.Store(int64(info.NumPending))
			c.stats.ackPending.Store(int64(info.NumAckPending))
			c.stats.redeliveredAt.Store(int64(info.NumRedelivered))
			c.stats.known.Store(true)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// keepingLease runs work while telling JetStream every AckWait/3
// that the message is still being worked on. The heartbeat is one timer that
// re-arms itself, not a goroutine and a ticker per message (those were a
// goroutine start, a channel and a ticker for every webhook, although almost
// every one finishes long before the first beat). It stops however the handler
// ends (deferred), so a handler that never returns an answer cannot keep the
// message from being redelivered.
func (c *WebhookConsumer) keepingLease(msg jetstream.Msg, work func() error) error {
	every := c.cfg.AckWait / 3
	var (
		mu      sync.Mutex
		stopped bool
		beat    *time.Timer
	)
	mu.Lock() // beat is read by its own callback
	beat = time.AfterFunc(every, func() {
		_ = msg.InProgress()
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			beat.Reset(every)
		}
	})
	mu.Unlock()
	defer func() {
		mu.Lock()
		stopped = true
		beat.Stop()
		mu.Unlock()
	}()
	return work()
}

func (c *WebhookConsumer) deadLetter(ctx context.Context, msg jetstream.Msg, reason string, cause error, msgLog func() *slog.Logger) {
	log := msgLog()
	if err := c.dl.Put(ctx, msg, reason, cause); err != nil {
		// Never drop it: try again later.
		log.Error("dead letter failed; message will be retried", "reason", reason, "err", err)
		c.outcome(ctx, trace.SpanFromContext(ctx), "retry")
		_ = msg.NakWithDelay(c.cfg.RetryInitial)
		return
	}
	deadLetters.Add(ctx, 1, metric.WithAttributes(attrReason.String(reason)))
	c.outcome(ctx, trace.SpanFromContext(ctx), "dead_letter")
	trace.SpanFromContext(ctx).SetAttributes(attrReason.String(reason))
	log.Warn("message dead-lettered", "reason", reason, "err", cause)
	_ = msg.Term()
}

// retryDelay is Retry-After when Maventa sent one, else exponential backoff with
// jitter from RetryInitial, capped at RetryMax.
func (c *WebhookConsumer) retryDelay(deliveries uint64, pe *consumers.ProcessError) time.Duration {
	if pe != nil && pe.RetryAfter > 0 {
		return pe.RetryAfter
	}
	d := c.cfg.RetryInitial
	for i := uint64(1); i < deliveries && d < c.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, c.cfg.RetryMax)
	return d/2 + rand.N(d/2+1)
}

// WebhookProcessor turns one stored webhook into domain events
// (*consumers.Processor).
type WebhookProcessor interface {
	Process(ctx context.Context, body []byte, stored events.TraceContext) error
}

// ProcessWith is the handler that gives p each message's body and the trace
// context stored in its headers.
func ProcessWith(p WebhookProcessor) MessageHandler {
	return func(ctx context.Context, msg jetstream.Msg) error {
		return p.Process(ctx, msg.Data(), StoredTraceContext(msg.Headers()))
	}
}
