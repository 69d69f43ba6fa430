package maventa

import (
	"context"
	"math"
	"sort"
	"sync"
	"time"
)

// Request classes. Enrichment and commands are priority (the default of every
// call); the reconciliation poller marks its calls background, so that it uses
// only what priority calls leave, and at most BackgroundShare of a host.
type backgroundKey struct{}

// WithBackground marks the calls made with ctx as background (reconciliation
// polling): they wait while a priority call waits for the same host, and use at
// most Config.BackgroundShare of the host's requests per second.
func WithBackground(ctx context.Context) context.Context {
	return context.WithValue(ctx, backgroundKey{}, true)
}

// IsBackground reports whether ctx was marked with WithBackground.
func IsBackground(ctx context.Context) bool {
	b, _ := ctx.Value(backgroundKey{}).(bool)
	return b
}

// budget is one host's request budget, shared by every caller of the client:
// a sliding window that never lets more than the rate through in any second
// (a token bucket whose burst equals its rate lets twice the rate through in
// one second: a full bucket, then a second's refill), a smaller window for
// background calls, and a shrink after Maventa answers 429.
type budget struct {
	host     string
	rate     float64       // configured requests per second (> 0)
	share    float64       // background share of rate, in (0, 1]
	cooldown time.Duration // how long a 429 halves the budget
	now      func() time.Time
	after    func(time.Duration) <-chan time.Time

	mu          sync.Mutex
	all, bg     window
	prioWaiting int
	pausedUntil time.Time // Retry-After: nothing goes before
	shrunkUntil time.Time
	factor      float64       // budget multiplier while shrunk, in (0, 1]
	wake        chan struct{} // closed when a background waiter may go earlier
	granted     [2]int64      // priority, background
	sec         int64         // the current second (Unix) of the clock
	inSec, peak int64         // grants in it, most in any second
	waited      [2]time.Duration
}

// window remembers the last n grants; a new one may go when fewer than k
// grants happened in the past span.
type window struct {
	span  time.Duration
	times []time.Time // ring of the last len(times) grants
	next  int
	count int
}

func newWindow(n int, span time.Duration) window {
	return window{span: span, times: make([]time.Time, n)}
}

// allowedAt is the earliest time a grant keeps at most k grants in any span.
func (w *window) allowedAt(k int) time.Time {
	k = min(max(k, 1), len(w.times))
	if w.count < k {
		return time.Time{}
	}
	// The k-th most recent grant.
	i := (w.next - k + len(w.times)) % len(w.times)
	return w.times[i].Add(w.span)
}

func (w *window) add(t time.Time) {
	w.times[w.next] = t
	w.next = (w.next + 1) % len(w.times)
	w.count = min(w.count+1, len(w.times))
}

// perWindow turns a rate into n grants per span, span >= 1s, so that no
// second holds more than the rate (a rate under 1/s is one grant per 1/rate).
func perWindow(rate float64) (int, time.Duration) {
	if rate >= 1 {
		return int(math.Floor(rate)), time.Second
	}
	return 1, time.Duration(float64(time.Second) / rate)
}

func newBudget(host string, rate, share float64, cooldown time.Duration, now func() time.Time, after func(time.Duration) <-chan time.Time) *budget {
	n, span := perWindow(rate)
	nb, spanb := perWindow(rate * share)
	return &budget{host: host, rate: rate, share: share, cooldown: cooldown, now: now, after: after,
		all: newWindow(n, span), bg: newWindow(nb, spanb), factor: 1, wake: make(chan struct{})}
}

// limits returns how many grants per window each class may have now.
func (b *budget) limitsLocked(now time.Time) (all, bg int) {
	f := 1.0
	if now.Before(b.shrunkUntil) {
		f = b.factor
	}
	return max(1, int(float64(len(b.all.times))*f)), max(1, int(float64(len(b.bg.times))*f))
}

// reserveLocked grants a request now when the budget allows it, or says when
// to look again.
func (b *budget) reserveLocked(now time.Time, background bool) (ok bool, at time.Time) {
	at = now
	if b.pausedUntil.After(at) {
		at = b.pausedUntil
	}
	kAll, kBg := b.limitsLocked(now)
	if t := b.all.allowedAt(kAll); t.After(at) {
		at = t
	}
	if background {
		if t := b.bg.allowedAt(kBg); t.After(at) {
			at = t
		}
	}
	if at.After(now) {
		return false, at
	}
	if background && b.prioWaiting > 0 {
		return false, time.Time{} // a priority call goes first; woken when it leaves
	}
	b.all.add(now)
	if background {
		b.bg.add(now)
	}
	return true, now
}

// wait blocks until the budget lets one request to the host go, or ctx ends.
func (b *budget) wait(ctx context.Context, background bool) error {
	class := 0
	if background {
		class = 1
	}
	start := b.now()
	registered := false
	defer func() {
		if registered {
			b.mu.Lock()
			b.prioWaiting--
			if b.prioWaiting == 0 {
				close(b.wake)
				b.wake = make(chan struct{})
			}
			b.mu.Unlock()
		}
	}()
	for {
		b.mu.Lock()
		now := b.now()
		ok, at := b.reserveLocked(now, background)
		if ok {
			b.granted[class]++
			if s := now.Unix(); s != b.sec {
				b.sec, b.inSec = s, 0
			}
			b.inSec++
			b.peak = max(b.peak, b.inSec)
			b.waited[class] += now.Sub(start)
			b.mu.Unlock()
			recordBudget(ctx, b.host, background, now.Sub(start))
			return nil
		}
		if !background && !registered {
			registered = true
			b.prioWaiting++
		}
		wake := b.wake
		b.mu.Unlock()
		var fire <-chan time.Time
		if !at.IsZero() {
			fire = b.after(at.Sub(now))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-fire:
		case <-wake:
		}
	}
}

// throttle shrinks the budget after Maventa answered 429: nothing goes before
// Retry-After, and the budget is halved (again on each 429, down to one
// request per window) for the cooldown.
func (b *budget) throttle(retryAfter time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if t := now.Add(retryAfter); t.After(b.pausedUntil) {
		b.pausedUntil = t
	}
	if !now.Before(b.shrunkUntil) {
		b.factor = 1
	}
	b.factor = max(b.factor/2, 1/float64(len(b.all.times)))
	b.shrunkUntil = now.Add(max(b.cooldown, retryAfter))
}

// BudgetStat is one host's budget, for status output and simulations.
type BudgetStat struct {
	Host string
	// Limit is the requests per second allowed now (shrunk after a 429).
	Limit float64
	// BackgroundLimit is the part of Limit background calls may use.
	BackgroundLimit float64
	// Priority and Background count the requests granted since the start.
	Priority, Background int64
	// PriorityWait and BackgroundWait sum the time spent waiting for the budget.
	PriorityWait, BackgroundWait time.Duration
	// PeakSecond is the most requests let through in one clock second.
	PeakSecond int64
}

func (b *budget) stat() BudgetStat {
	b.mu.Lock()
	defer b.mu.Unlock()
	kAll, kBg := b.limitsLocked(b.now())
	return BudgetStat{Host: b.host,
		Limit:           float64(kAll) / b.all.span.Seconds(),
		BackgroundLimit: float64(kBg) / b.bg.span.Seconds(),
		Priority:        b.granted[0], Background: b.granted[1],
		PriorityWait: b.waited[0], BackgroundWait: b.waited[1], PeakSecond: b.peak}
}

// Budgets reports every host's budget (none when the rate is unlimited).
func (c *Client) Budgets() []BudgetStat {
	c.limMu.Lock()
	bs := make([]*budget, 0, len(c.budgets))
	for _, b := range c.budgets {
		bs = append(bs, b)
	}
	c.limMu.Unlock()
	out := make([]BudgetStat, 0, len(bs))
	for _, b := range bs {
		out = append(out, b.stat())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Host < out[j].Host })
	return out
}

// budget returns the budget of host, created on first use; nil when unlimited.
func (c *Client) budget(host string) *budget {
	if c.cfg.RequestsPerSecond < 0 {
		return nil
	}
	c.limMu.Lock()
	defer c.limMu.Unlock()
	b, ok := c.budgets[host]
	if !ok {
		b = newBudget(host, c.cfg.RequestsPerSecond, c.cfg.BackgroundShare, c.cfg.ThrottleCooldown, func() time.Time { return c.now() }, c.cfg.After)
		c.budgets[host] = b
	}
	return b
}

// waitBudget waits for host's budget with ctx's class.
func (c *Client) waitBudget(ctx context.Context, host string) error {
	b := c.budget(host)
	if b == nil {
		return nil
	}
	return b.wait(ctx, IsBackground(ctx))
}

// throttleHost shrinks host's budget after a 429.
func (c *Client) throttleHost(host string, retryAfter time.Duration) {
	if b := c.budget(host); b != nil {
		b.throttle(retryAfter)
	}
}
