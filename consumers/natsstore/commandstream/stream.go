// Package commandstream is the JetStream side of the command handler
// (consumers/commands): the command stream and its durable consumer, the KV
// bucket of command records (KVStore implements commands.Store), the Runner
// that feeds the stream to commands.Handler in per-target order across
// replicas (order.go), command requests with a reply (request.go) and Send.
package commandstream

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers/commands"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/events"
)

// Defaults of StreamConfig's zero fields (the service's options read them).
const (
	DefaultMaxAge      = 7 * 24 * time.Hour
	DefaultRecordTTL   = 90 * 24 * time.Hour
	DefaultConcurrency = 4
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
	// Concurrency is how many commands run at once in this process; commands of
	// one assignment always run one after the other. Default 4.
	Concurrency int
	// AckWait is JetStream's redelivery timeout; work in hand is kept with
	// InProgress every AckWait/3. Default 30s.
	AckWait time.Duration
	// MaxAttempts is how often a command is tried (Maventa or NATS unavailable)
	// before it is dead-lettered with reason "exhausted"; retries stay in
	// place so the assignment's later commands wait behind it. Default 8.
	MaxAttempts int
	// RetryInitial and RetryMax bound the exponential wait between attempts
	// (Maventa's Retry-After wins). Defaults 1s and 1 minute.
	RetryInitial, RetryMax time.Duration
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
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.AckWait == 0 {
		c.AckWait = 30 * time.Second
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	if c.RetryInitial == 0 {
		c.RetryInitial = time.Second
	}
	if c.RetryMax == 0 {
		c.RetryMax = time.Minute
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

// Runner consumes the command stream and runs the commands.Handler: commands of one
// (company, subject) one after the other in stream order, also across
// replicas (orderGate), others concurrently.
type Runner struct {
	cfg  StreamConfig
	js   jetstream.JetStream
	h    *commands.Handler
	dl   DeadLetterer
	log  *slog.Logger
	sem  chan struct{}
	gate *orderGate // set by Run
	mu   sync.Mutex
	keys map[string]*keyQueue // per order key, the messages waiting
	held map[jetstream.Msg]struct{}
	// freed is signalled when a held message is done, for the fetch loop.
	freed chan struct{}
	wg    sync.WaitGroup
}

// keyQueue is one order key's messages in hand, sorted by stream sequence; one
// worker runs them while running is set.
type keyQueue struct {
	items   []queued
	running bool
}

type queued struct {
	seq uint64
	msg jetstream.Msg
}

// NewRunner returns a runner of h over the command stream of cfg.
func NewRunner(cfg StreamConfig, js jetstream.JetStream, h *commands.Handler, dl DeadLetterer, log *slog.Logger) *Runner {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{cfg: cfg, js: js, h: h, dl: dl, log: log, sem: make(chan struct{}, cfg.Concurrency),
		keys: map[string]*keyQueue{}, held: map[jetstream.Msg]struct{}{}, freed: make(chan struct{}, 1)}
}

// Run consumes until ctx ends, then waits for the commands in hand.
func (r *Runner) Run(ctx context.Context) error {
	cons, err := EnsureConsumer(ctx, r.js, r.cfg)
	if err != nil {
		return err
	}
	stream, err := r.js.Stream(ctx, r.cfg.Stream)
	if err != nil {
		return fmt.Errorf("command stream: %w", err)
	}
	kv, err := r.js.KeyValue(ctx, r.cfg.RecordBucket)
	if err != nil {
		return fmt.Errorf("command record bucket %s: %w", r.cfg.RecordBucket, err)
	}
	r.gate = newOrderGate(stream, cons, kv)
	if err := r.gate.refresh(ctx); err != nil {
		r.log.Warn("command consumer: ack floor unknown; reading it again later", "err", err)
	}
	// Commands in hand and waiting behind their assignment's earlier ones keep
	// their lease, so JetStream does not hand them to another replica meanwhile.
	beatDone := make(chan struct{})
	go r.heartbeat(beatDone)
	// A plain fetch loop: one pull request per FetchMaxWait when idle, and a
	// pause after an error (a NATS node lost, the consumer's leader moving),
	// rather than a pull subscription that re-pulls at once on every error.
	maxHeld := 16 * r.cfg.Concurrency
	for ctx.Err() == nil {
		if r.heldCount() >= maxHeld {
			// Every message in hand may be waiting for an earlier command of its
			// assignment that JetStream has yet to redeliver: after AckWait
			// without progress, fetch anyway, so that one can come in.
			t := time.NewTimer(r.cfg.AckWait)
			select {
			case <-r.freed:
				t.Stop()
				continue
			case <-ctx.Done():
				t.Stop()
				continue
			case <-t.C:
			}
		}
		batch, err := cons.Fetch(2*r.cfg.Concurrency, jetstream.FetchMaxWait(2*time.Second))
		if err == nil {
			for msg := range batch.Messages() {
				r.dispatch(ctx, msg)
			}
			err = batch.Error()
		}
		if err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
			r.log.Warn("command consumer: fetch failed; pausing", "err", err)
			t := time.NewTimer(time.Second)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
	}
	r.wg.Wait()
	close(beatDone)
	return nil
}

func (r *Runner) heldCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.held)
}

func (r *Runner) heartbeat(done <-chan struct{}) {
	t := time.NewTicker(r.cfg.AckWait / 3)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			r.mu.Lock()
			held := make([]jetstream.Msg, 0, len(r.held))
			for m := range r.held {
				held = append(held, m)
			}
			r.mu.Unlock()
			for _, m := range held {
				_ = m.InProgress()
			}
		}
	}
}

// orderKey is what must run in order: the command's company and subject token
// plus its CloudEvents subject (the assignment). Parsing only what ordering
// needs keeps a malformed command from blocking anything.
func orderKey(subject string, data []byte) string {
	var c struct {
		Subject string `json:"subject"`
	}
	_ = json.Unmarshal(data, &c)
	parts := strings.SplitN(subject, ".", 4)
	company := ""
	if len(parts) >= 3 {
		company = parts[2]
	}
	return company + "\x00" + c.Subject
}

func (r *Runner) dispatch(ctx context.Context, msg jetstream.Msg) {
	key := orderKey(msg.Subject(), msg.Data())
	var seq uint64
	if md, err := msg.Metadata(); err == nil {
		seq = md.Sequence.Stream
		r.gate.seen(seq, key)
	}
	r.mu.Lock()
	r.held[msg] = struct{}{}
	q := r.keys[key]
	if q == nil {
		q = &keyQueue{}
		r.keys[key] = q
	}
	i, _ := slices.BinarySearchFunc(q.items, seq, func(it queued, seq uint64) int { return cmp.Compare(it.seq, seq) })
	q.items = slices.Insert(q.items, i, queued{seq: seq, msg: msg})
	start := !q.running
	q.running = true
	r.mu.Unlock()
	if start {
		r.wg.Add(1)
		go r.work(ctx, key, q)
	}
}

// work runs the messages of one order key, lowest stream sequence first, each
// once the gate says every earlier command of the key is finished.
func (r *Runner) work(ctx context.Context, key string, q *keyQueue) {
	defer r.wg.Done()
	var wait time.Duration
	for {
		r.mu.Lock()
		if len(q.items) == 0 || ctx.Err() != nil {
			// Shutting down: what has not started goes back to JetStream, to be
			// redelivered in order to a replica, rather than overtaking an
			// earlier command that stopped half-way.
			for _, it := range q.items {
				_ = it.msg.Nak()
				delete(r.held, it.msg)
			}
			delete(r.keys, key)
			r.mu.Unlock()
			return
		}
		it := q.items[0]
		r.mu.Unlock()
		ok, err := r.gate.ready(ctx, it.seq, key)
		if !ok {
			// An earlier command of the key is in another replica's hands (or
			// on its way back): look again soon.
			wait = min(max(2*wait, 20*time.Millisecond), time.Second)
			if err != nil {
				r.log.Debug("command order: cannot tell yet whether earlier commands are done", "err", err)
			}
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
			continue
		}
		wait = 0
		r.mu.Lock()
		if q.items[0] != it { // an earlier one arrived meanwhile: it goes first
			r.mu.Unlock()
			continue
		}
		q.items = q.items[1:]
		r.mu.Unlock()
		r.sem <- struct{}{}
		r.process(ctx, it.msg, func(wctx context.Context) {
			if err := r.gate.finished(wctx, it.seq, key); err != nil {
				r.log.Warn("command order: cursor not moved; later commands of the target wait for the ack floor", "err", err)
			}
		})
		<-r.sem
		r.mu.Lock()
		delete(r.held, it.msg)
		select {
		case r.freed <- struct{}{}:
		default:
		}
		r.mu.Unlock()
	}
}

// process handles one message, retrying in place, and acks, or dead-letters
// it; finished runs first when it is done either way.
func (r *Runner) process(ctx context.Context, msg jetstream.Msg, finished func(context.Context)) {
	// The work in hand finishes on shutdown rather than being cut half-way
	// (that would be safe, the record says where it stopped, only wasteful).
	wctx := context.WithoutCancel(ctx)
	log := r.log.With("subject", msg.Subject())
	var err error
	for attempt, tries := 1, 1; ; tries++ {
		hctx, cancel := context.WithTimeout(wctx, 4*r.cfg.AckWait)
		err = r.h.Handle(hctx, msg.Subject(), msg.Data())
		cancel()
		var re *commands.RetryError
		if !errors.As(err, &re) {
			break
		}
		var wait time.Duration
		if re.Busy {
			// Another replica is applying it: look again soon, however long its
			// lease, since it usually finishes well before.
			wait = min(r.retryDelay(tries, 0), max(re.After, r.cfg.RetryInitial))
		} else {
			if attempt >= r.cfg.MaxAttempts {
				break
			}
			wait = r.retryDelay(attempt, re.After)
			attempt++
		}
		log.Info("command will be retried", "attempt", attempt, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			// Shutting down: JetStream redelivers it (to us or another replica).
			_ = msg.NakWithDelay(wait)
			return
		}
	}
	var pe *commands.PermanentError
	switch {
	case err == nil:
		finished(wctx)
		if aerr := msg.Ack(); aerr != nil {
			log.Warn("ack failed; the command comes back and its outcome is published again (same id)", "err", aerr)
		}
		return
	case errors.As(err, &pe):
		r.deadLetter(wctx, msg, pe.Reason, err, finished, log)
	default:
		r.deadLetter(wctx, msg, "exhausted", err, finished, log)
	}
}

func (r *Runner) retryDelay(attempt int, after time.Duration) time.Duration {
	if after > 0 {
		return after
	}
	d := r.cfg.RetryInitial << min(attempt-1, 20)
	if d <= 0 || d > r.cfg.RetryMax {
		d = r.cfg.RetryMax
	}
	return d/2 + rand.N(d/2+1)
}

func (r *Runner) deadLetter(ctx context.Context, msg jetstream.Msg, reason string, cause error, finished func(context.Context), log *slog.Logger) {
	if err := r.dl.Put(ctx, msg, reason, cause); err != nil {
		log.Error("dead letter failed; the command comes back", "reason", reason, "err", err)
		_ = msg.NakWithDelay(r.cfg.RetryMax)
		return
	}
	log.Warn("command dead-lettered", "reason", reason, "err", cause)
	finished(ctx)
	_ = msg.Term()
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
