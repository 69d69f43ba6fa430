package commands

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
)

// Message is one command delivered by the command stream (a JetStream
// message, in consumers/natsstore/commandstream).
type Message interface {
	Subject() string
	Data() []byte
	// Seq is the message's sequence in the command stream; 0 when unknown.
	Seq() uint64
	Ack() error
	Nak() error
	NakWithDelay(delay time.Duration) error
	Term() error
	// InProgress extends the message's lease, so it is not redelivered to
	// another replica while it is in hand.
	InProgress() error
}

// Source delivers the commands of the command stream, each to one replica.
type Source interface {
	// Fetch passes up to max messages to each as they arrive, waiting a
	// little when there are none; an idle wait is not an error.
	Fetch(ctx context.Context, max int, each func(Message)) error
}

// Order keeps the commands of one order key (OrderKey) in stream order,
// also across replicas that share the stream's consumer.
type Order interface {
	// Seen tells the order about a delivered message, saving a stream read.
	Seen(seq uint64, key string)
	// Ready reports whether every earlier command of key is finished, so the
	// command at seq may run.
	Ready(ctx context.Context, seq uint64, key string) (bool, error)
	// Finished records that the command at seq is done (acknowledged or
	// dead-lettered next).
	Finished(ctx context.Context, seq uint64, key string) error
}

// DeadLetterer keeps messages that can never be handled.
type DeadLetterer interface {
	Put(ctx context.Context, msg Message, reason string, cause error) error
}

// DefaultConcurrency is RunnerConfig.Concurrency's default (the service's
// option reads it).
const DefaultConcurrency = 4

// RunnerConfig configures a Runner. Zero values are the documented defaults.
type RunnerConfig struct {
	// Concurrency is how many commands run at once in this process; commands of
	// one order key always run one after the other. Default 4.
	Concurrency int
	// AckWait is the source's redelivery timeout: messages in hand are kept
	// with InProgress every AckWait/3, one Handle may take 4*AckWait, and a
	// full hand waits AckWait before fetching anyway. Default 30s.
	AckWait time.Duration
	// MaxAttempts is how often a command is tried (Maventa or NATS unavailable)
	// before it is dead-lettered with reason "exhausted"; retries stay in
	// place so the key's later commands wait behind it. Default 8.
	MaxAttempts int
	// RetryInitial and RetryMax bound the exponential wait between attempts
	// (Maventa's Retry-After wins). Defaults 1s and 1 minute.
	RetryInitial, RetryMax time.Duration
}

func (c RunnerConfig) withDefaults() RunnerConfig {
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
	return c
}

// Runner feeds the commands of a Source to the Handler: commands of one order
// key one after the other in stream order, also across replicas (Order),
// others concurrently; each is retried in place, then acknowledged or
// dead-lettered.
type Runner struct {
	cfg   RunnerConfig
	src   Source
	order Order
	h     *Handler
	dl    DeadLetterer
	log   *slog.Logger
	sem   chan struct{}
	mu    sync.Mutex
	keys  map[string]*keyQueue // per order key, the messages waiting
	held  map[Message]struct{}
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
	msg Message
}

// NewRunner returns a runner of h over src; a nil logger discards logs.
func NewRunner(cfg RunnerConfig, src Source, order Order, h *Handler, dl DeadLetterer, log *slog.Logger) *Runner {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{cfg: cfg, src: src, order: order, h: h, dl: dl, log: log, sem: make(chan struct{}, cfg.Concurrency),
		keys: map[string]*keyQueue{}, held: map[Message]struct{}{}, freed: make(chan struct{}, 1)}
}

// Run consumes until ctx ends, then waits for the commands in hand.
func (r *Runner) Run(ctx context.Context) error {
	// Commands in hand and waiting behind their key's earlier ones keep
	// their lease, so the source does not hand them to another replica meanwhile.
	beatDone := make(chan struct{})
	go r.heartbeat(beatDone)
	// A plain fetch loop, with a pause after an error (a NATS node lost, the
	// consumer's leader moving), rather than re-fetching at once on every error.
	maxHeld := 16 * r.cfg.Concurrency
	for ctx.Err() == nil {
		if r.heldCount() >= maxHeld {
			// Every message in hand may be waiting for an earlier command of its
			// key that the source has yet to redeliver: after AckWait without
			// progress, fetch anyway, so that one can come in.
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
		if err := r.src.Fetch(ctx, 2*r.cfg.Concurrency, func(m Message) { r.dispatch(ctx, m) }); err != nil {
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
			held := make([]Message, 0, len(r.held))
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

// OrderKey is what must run in order: the command's company and subject
// token (receivables.commands.<company>.…) plus its CloudEvents subject (the
// assignment). Parsing only what ordering needs keeps a malformed command
// from blocking anything.
func OrderKey(subject string, data []byte) string {
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

func (r *Runner) dispatch(ctx context.Context, msg Message) {
	key := OrderKey(msg.Subject(), msg.Data())
	seq := msg.Seq()
	if seq != 0 {
		r.order.Seen(seq, key)
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
// once the order says every earlier command of the key is finished.
func (r *Runner) work(ctx context.Context, key string, q *keyQueue) {
	defer r.wg.Done()
	var wait time.Duration
	for {
		r.mu.Lock()
		if len(q.items) == 0 || ctx.Err() != nil {
			// Shutting down: what has not started goes back to the source, to be
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
		ok, err := r.order.Ready(ctx, it.seq, key)
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
			if err := r.order.Finished(wctx, it.seq, key); err != nil {
				r.log.Warn("command order: not recorded as finished; later commands of the target wait until the order sees it acknowledged", "err", err)
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
func (r *Runner) process(ctx context.Context, msg Message, finished func(context.Context)) {
	// The work in hand finishes on shutdown rather than being cut half-way
	// (that would be safe, the record says where it stopped, only wasteful).
	wctx := context.WithoutCancel(ctx)
	log := r.log.With("subject", msg.Subject())
	var err error
	for attempt, tries := 1, 1; ; tries++ {
		hctx, cancel := context.WithTimeout(wctx, 4*r.cfg.AckWait)
		err = r.h.Handle(hctx, msg.Subject(), msg.Data())
		cancel()
		var re *RetryError
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
			// Shutting down: the source redelivers it (to us or another replica).
			_ = msg.NakWithDelay(wait)
			return
		}
	}
	var pe *PermanentError
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

func (r *Runner) deadLetter(ctx context.Context, msg Message, reason string, cause error, finished func(context.Context), log *slog.Logger) {
	if err := r.dl.Put(ctx, msg, reason, cause); err != nil {
		log.Error("dead letter failed; the command comes back", "reason", reason, "err", err)
		_ = msg.NakWithDelay(r.cfg.RetryMax)
		return
	}
	log.Warn("command dead-lettered", "reason", reason, "err", cause)
	finished(ctx)
	_ = msg.Term()
}
