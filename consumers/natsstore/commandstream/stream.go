// Package commandstream is the JetStream side of the command handler
// (consumers/commands): the command stream and its durable consumer (the
// commands.Source), the KV bucket of command records (KVStore, the
// commands.Store), the order gate across replicas (order.go, the
// commands.Order), command requests with a reply (request.go) and Send.
package commandstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers/commands"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/events"
)

// Defaults of StreamConfig's zero fields (the service's options read them).
const (
	DefaultMaxAge    = 7 * 24 * time.Hour
	DefaultRecordTTL = 90 * 24 * time.Hour
)

// StreamConfig configures the command stream, the record bucket and the
// consumer. Zero values are the documented defaults.
type StreamConfig struct {
	// Stream is the command stream's name. Default events.CommandStreamName.
	Stream string
	// MaxAge is how long commands are kept. Default 7 days.
	MaxAge time.Duration
	// DuplicateWindow is the stream's Nats-Msg-Id window: a command published
	// twice within it is stored once. Later duplicates are caught by the
	// records. Default 1 hour.
	DuplicateWindow time.Duration
	// RecordBucket is the KV bucket of command records. Default
	// "RECEIVABLES_COMMAND_RECORDS".
	RecordBucket string
	// RecordTTL is how long a command id is remembered. It must exceed how long
	// a command can come back: the stream's MaxAge plus the dead-letter stream's
	// (30 days, for dlq replay). Default 90 days.
	RecordTTL time.Duration
	// Replicas per stream and bucket. Default 1.
	Replicas int
	// Durable is the consumer's name, shared by every replica. Default
	// "maventa-events-commands".
	Durable string
	// AckWait is JetStream's redelivery timeout; work in hand is kept with
	// InProgress every AckWait/3. Default 30s.
	AckWait time.Duration
	// Concurrency, MaxAttempts, RetryInitial and RetryMax are the Runner's
	// (commands.RunnerConfig, which documents them and their defaults).
	Concurrency, MaxAttempts int
	RetryInitial, RetryMax   time.Duration
	// MaxAckPending bounds the commands held by this consumer. Default 1000.
	MaxAckPending int
}

func (c StreamConfig) withDefaults() StreamConfig {
	if c.Stream == "" {
		c.Stream = events.CommandStreamName
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = time.Hour
	}
	if c.RecordBucket == "" {
		c.RecordBucket = "RECEIVABLES_COMMAND_RECORDS"
	}
	if c.RecordTTL == 0 {
		c.RecordTTL = DefaultRecordTTL
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Durable == "" {
		c.Durable = "maventa-events-commands"
	}
	if c.AckWait == 0 {
		c.AckWait = 30 * time.Second
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = 1000
	}
	return c
}

// CommandStreamConfig is the command stream: file storage, limits retention,
// so an operator can read what was asked as well as the consumer.
func (c StreamConfig) CommandStreamConfig() jetstream.StreamConfig {
	c = c.withDefaults()
	return jetstream.StreamConfig{
		Name:        c.Stream,
		Description: "Commands to apply at Maventa (CloudEvents 1.0, structured JSON); id = Nats-Msg-Id = idempotency key",
		Subjects:    []string{events.CommandStreamSubjects},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      c.MaxAge,
		Replicas:    c.Replicas,
		Duplicates:  c.DuplicateWindow,
		MaxMsgSize:  1 << 20,
		Discard:     jetstream.DiscardOld,
	}
}

// Ensure provisions the command stream and the record bucket.
func Ensure(ctx context.Context, js jetstream.JetStream, c StreamConfig, log *slog.Logger) (*KVStore, error) {
	c = c.withDefaults()
	if _, err := natsstore.EnsureStream(ctx, js, c.CommandStreamConfig(), log); err != nil {
		return nil, err
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      c.RecordBucket,
		Description: "One record per command id: received, applying (the write may have been sent), done with its outcome",
		History:     1,
		TTL:         c.RecordTTL,
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("command record bucket: %w", err)
	}
	return &KVStore{kv: kv}, nil
}

// KVStore keeps command records in a JetStream KV bucket (commands.Store).
type KVStore struct {
	kv jetstream.KeyValue
}

// OpenKVStore opens an existing record bucket (for the CLI).
func OpenKVStore(ctx context.Context, js jetstream.JetStream, c StreamConfig) (*KVStore, error) {
	kv, err := js.KeyValue(ctx, c.withDefaults().RecordBucket)
	if err != nil {
		return nil, fmt.Errorf("command record bucket %s: %w", c.withDefaults().RecordBucket, err)
	}
	return &KVStore{kv: kv}, nil
}

// recordKey is the KV key of a command id: "c." + the id, with bytes a key may
// not hold escaped as "=XX" (and "=" itself), so any id maps to one key.
func recordKey(id string) string {
	var b strings.Builder
	b.WriteString("c.")
	for i := 0; i < len(id); i++ {
		ch := id[i]
		if ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' {
			b.WriteByte(ch)
			continue
		}
		fmt.Fprintf(&b, "=%02X", ch)
	}
	return b.String()
}

// Get implements Store.
func (s *KVStore) Get(ctx context.Context, id string) (commands.Record, uint64, error) {
	// Bounded per request: a lost reply must fail and be retried, not hold the
	// command for its whole context.
	ctx, cancel := context.WithTimeout(ctx, natsstore.KVRequestTimeout)
	defer cancel()
	e, err := s.kv.Get(ctx, recordKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return commands.Record{}, 0, nil
	}
	if err != nil {
		return commands.Record{}, 0, fmt.Errorf("read command record %s: %w", id, err)
	}
	var r commands.Record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return commands.Record{}, 0, fmt.Errorf("decode command record %s: %w", id, err)
	}
	return r, e.Revision(), nil
}

// Put implements Store.
func (s *KVStore) Put(ctx context.Context, r commands.Record, rev uint64) (uint64, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, natsstore.KVRequestTimeout)
	defer cancel()
	var n uint64
	if rev == 0 {
		n, err = s.kv.Create(ctx, recordKey(r.ID), b)
	} else {
		n, err = s.kv.Update(ctx, recordKey(r.ID), b, rev)
	}
	var apiErr *jetstream.APIError
	if errors.Is(err, jetstream.ErrKeyExists) || (errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence) {
		return 0, commands.ErrConflict
	}
	if err != nil {
		return 0, fmt.Errorf("write command record %s: %w", r.ID, err)
	}
	return n, nil
}

// EnsureConsumer creates (or updates) the durable consumer of the command
// stream. The service calls it while provisioning, before it is ready, so that
// on a cluster the consumer exists before the work starts.
func EnsureConsumer(ctx context.Context, js jetstream.JetStream, c StreamConfig) (jetstream.Consumer, error) {
	c = c.withDefaults()
	cons, err := js.CreateOrUpdateConsumer(ctx, c.Stream, jetstream.ConsumerConfig{
		Durable:       c.Durable,
		Description:   "Applies commands at Maventa (maventa-events)",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.AckWait,
		MaxDeliver:    -1, // attempts are counted in place; see StreamConfig.MaxAttempts
		MaxAckPending: c.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("command consumer: %w", err)
	}
	return cons, nil
}

// DeadLetterer keeps messages that cannot be handled (*natsstore.DeadLetters).
type DeadLetterer interface {
	Put(ctx context.Context, msg jetstream.Msg, reason string, cause error) error
}

// Runner runs a commands.Runner over the command stream: its durable consumer
// is the commands.Source, the order gate (order.go) the commands.Order.
type Runner struct {
	cfg StreamConfig
	js  jetstream.JetStream
	h   *commands.Handler
	dl  DeadLetterer
	log *slog.Logger
}

// NewRunner returns a runner of h over the command stream of cfg.
func NewRunner(cfg StreamConfig, js jetstream.JetStream, h *commands.Handler, dl DeadLetterer, log *slog.Logger) *Runner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{cfg: cfg.withDefaults(), js: js, h: h, dl: dl, log: log}
}

// Run consumes until ctx ends, then waits for the commands in hand. A ctx
// that ends while Run is still setting up is a clean stop too (nil).
func (r *Runner) Run(ctx context.Context) error {
	cons, err := EnsureConsumer(ctx, r.js, r.cfg)
	if err != nil {
		return unlessStopped(ctx, err)
	}
	stream, err := r.js.Stream(ctx, r.cfg.Stream)
	if err != nil {
		return unlessStopped(ctx, fmt.Errorf("command stream: %w", err))
	}
	kv, err := r.js.KeyValue(ctx, r.cfg.RecordBucket)
	if err != nil {
		return unlessStopped(ctx, fmt.Errorf("command record bucket %s: %w", r.cfg.RecordBucket, err))
	}
	gate := newOrderGate(stream, cons, kv)
	if err := gate.refresh(ctx); err != nil {
		r.log.Warn("command consumer: ack floor unknown; reading it again later", "err", err)
	}
	rc := commands.RunnerConfig{Concurrency: r.cfg.Concurrency, AckWait: r.cfg.AckWait, MaxAttempts: r.cfg.MaxAttempts,
		RetryInitial: r.cfg.RetryInitial, RetryMax: r.cfg.RetryMax}
	return commands.NewRunner(rc, source{cons}, gate, r.h, deadLetters{r.dl}, r.log).Run(ctx)
}

// unlessStopped is err, or nil when ctx has ended: the service shutting down
// while the runner starts is no failure of the runner.
func unlessStopped(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// source is the command consumer as a commands.Source: one pull request per
// FetchMaxWait when idle.
type source struct {
	cons jetstream.Consumer
}

// Fetch implements commands.Source.
func (s source) Fetch(_ context.Context, max int, each func(commands.Message)) error {
	batch, err := s.cons.Fetch(max, jetstream.FetchMaxWait(2*time.Second))
	if err == nil {
		for msg := range batch.Messages() {
			m := &message{Msg: msg}
			if md, err := msg.Metadata(); err == nil {
				m.seq = md.Sequence.Stream
			}
			each(m)
		}
		err = batch.Error()
	}
	if err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
		return err
	}
	return nil
}

// message is a command stream message as a commands.Message.
type message struct {
	jetstream.Msg
	seq uint64
}

// Seq implements commands.Message.
func (m *message) Seq() uint64 { return m.seq }

// deadLetters puts the command stream's messages in the dead-letter stream.
type deadLetters struct {
	dl DeadLetterer
}

// Put implements commands.DeadLetterer.
func (d deadLetters) Put(ctx context.Context, msg commands.Message, reason string, cause error) error {
	m, ok := msg.(*message)
	if !ok {
		return fmt.Errorf("dead letter: %T is not a command stream message", msg)
	}
	return d.dl.Put(ctx, m.Msg, reason, cause)
}

// Wait returns the record of command id once its outcome is decided (and,
// when resolved is true, once an operator resolved it), watching the bucket
// rather than polling it.
func (s *KVStore) Wait(ctx context.Context, id string) (commands.Record, error) {
	w, err := s.kv.Watch(ctx, recordKey(id))
	if err != nil {
		return commands.Record{}, fmt.Errorf("watch command record %s: %w", id, err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return commands.Record{}, fmt.Errorf("command %s: no outcome yet: %w", id, ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return commands.Record{}, fmt.Errorf("command %s: watch ended", id)
			}
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue // nil marks the end of the initial values
			}
			var r commands.Record
			if err := json.Unmarshal(e.Value(), &r); err != nil {
				return commands.Record{}, fmt.Errorf("decode command record %s: %w", id, err)
			}
			if r.State == commands.StateDone {
				return r, nil
			}
		}
	}
}
