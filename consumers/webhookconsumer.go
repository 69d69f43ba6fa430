package consumers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ConsumerConfig configures the durable consumer of stored webhooks.
type ConsumerConfig struct {
	// Durable is the consumer's name, shared by every replica of the service so
	// that each message is worked on by one of them at a time. Default
	// "maventa-events-webhooks".
	Durable string
	// Concurrency is how many messages this process works on at once. Default 4.
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
}

func (c ConsumerConfig) withDefaults() ConsumerConfig {
	if c.Durable == "" {
		c.Durable = "maventa-events-webhooks"
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	if c.AckWait == 0 {
		c.AckWait = 30 * time.Second
	}
	if c.MaxDeliver <= 0 {
		c.MaxDeliver = 10
	}
	if c.RetryInitial == 0 {
		c.RetryInitial = time.Second
	}
	if c.RetryMax == 0 {
		c.RetryMax = 5 * time.Minute
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
	return &WebhookConsumer{cfg: cfg, cons: cons, handle: handle, dl: dl, log: log}, nil
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
	log := c.log.With("stream_seq", md.Sequence.Stream, "deliveries", md.NumDelivered, "subject", msg.Subject())
	if md.NumDelivered > uint64(c.cfg.MaxDeliver) {
		// Tried too often without an answer (e.g. the process died on it every time).
		c.deadLetter(ctx, msg, "exhausted", errors.New("delivered more often than MaxDeliver without completing"), log)
		return
	}
	err = c.handleKeepingLease(ctx, msg)

	var pe *ProcessError
	switch {
	case err == nil:
		if err := msg.Ack(); err != nil {
			log.Warn("ack failed; the message will come back and be skipped as processed", "err", err)
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
		log.Info("webhook processing will be retried", "err", err, "delay", delay)
		_ = msg.NakWithDelay(delay)
	}
}

// handleKeepingLease runs the handler while telling JetStream every AckWait/3
// that the message is still being worked on. The heartbeat stops however the
// handler ends (deferred), so a handler that never returns an answer cannot keep
// the message from being redelivered.
func (c *WebhookConsumer) handleKeepingLease(ctx context.Context, msg jetstream.Msg) error {
	beat := time.NewTicker(c.cfg.AckWait / 3)
	defer beat.Stop()
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-beat.C:
				_ = msg.InProgress()
			case <-done:
				return
			}
		}
	}()
	return c.handle(ctx, msg)
}

func (c *WebhookConsumer) deadLetter(ctx context.Context, msg jetstream.Msg, reason string, cause error, log *slog.Logger) {
	if err := c.dl.Put(ctx, msg, reason, cause); err != nil {
		// Never drop it: try again later.
		log.Error("dead letter failed; message will be retried", "reason", reason, "err", err)
		_ = msg.NakWithDelay(c.cfg.RetryInitial)
		return
	}
	log.Warn("message dead-lettered", "reason", reason, "err", cause)
	_ = msg.Term()
}

// retryDelay is Retry-After when Maventa sent one, else exponential backoff with
// jitter from RetryInitial, capped at RetryMax.
func (c *WebhookConsumer) retryDelay(deliveries uint64, pe *ProcessError) time.Duration {
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
