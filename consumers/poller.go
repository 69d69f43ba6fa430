package consumers

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
)

// PollAPI is what reconciliation needs from Maventa's APIs (*maventa.Client).
type PollAPI interface {
	ListEvents(ctx context.Context, companyID string, q maventa.EventQuery, p maventa.PageOptions) (maventa.Page[maventa.Event], error)
	ListAssignments(ctx context.Context, companyID string, q maventa.AssignmentQuery, p maventa.PageOptions) (maventa.Page[maventa.Assignment], error)
	GetAssignment(ctx context.Context, companyID, assignmentID string) (maventa.Assignment, error)
	ListInvoices(ctx context.Context, companyID string, q maventa.InvoiceQuery, p maventa.PageOptions) (maventa.Page[maventa.Invoice], error)
	ListMessageThreads(ctx context.Context, companyID string, p maventa.PageOptions) (maventa.Page[maventa.MessageThread], error)
	ListThreadMessages(ctx context.Context, companyID, threadID string) ([]maventa.Message, error)
}

// Companies lists the companies to poll: those with credentials
// (*maventa.CredentialStore).
type Companies interface {
	Companies() []string
}

// Defaults of PollerConfig's zero fields (the service's options read them).
// The tier ceilings and the lease scale with the interval: a short interval
// (tests, simulations) keeps the same proportions. The ceilings (quiet 1h,
// no receivables 24h at the 60s interval) are sized with Size for the
// product's vendor: 50 000 companies, 10 % with receivables, 1 % of those
// active, 10 requests/s per host of which polling uses 70 % (AX 6.5 req/s of 7,
// Receivables 4.9). Webhooks are the primary channel, which Maventa retries
// hourly for 24 hours; polling is the safety net.
const (
	DefaultPollInterval           = time.Minute
	DefaultPollOverlap            = 10 * time.Minute
	DefaultPollLookBack           = 7 * 24 * time.Hour
	DefaultPollConcurrency        = 4
	DefaultPollErrorBackoffMax    = 15 * time.Minute
	DefaultPollJitter             = 1.0
	DefaultActiveForIntervals     = 10
	DefaultQuietMaxIntervals      = 60
	DefaultNoReceivablesIntervals = 1440
	DefaultRecheckIntervals       = 1440
	DefaultLeaseTTLIntervals      = 3
)

// PollerConfig configures reconciliation polling.
type PollerConfig struct {
	// Interval between two polls of an active company (the base interval).
	// Default 60s.
	Interval time.Duration
	// ActiveFor is how long a company stays active (polled every Interval)
	// after something new was seen for it or it was nudged. Default 10 x
	// Interval (10m).
	ActiveFor time.Duration
	// QuietMax is the ceiling of a quiet company's delay, which doubles from
	// Interval while nothing new appears. Default 60 x Interval (1h).
	QuietMax time.Duration
	// NoReceivablesMax is the invoice polling delay of a company without the
	// receivables service once nothing new was found for ActiveFor (news
	// brings Interval back, then doubling); capped by the next re-check.
	// Default 1440 x Interval (24h).
	NoReceivablesMax time.Duration
	// NoReceivablesRecheck is how often /v1/events is asked again of a company
	// that refused it (403/404). Default 1440 x Interval (24h).
	NoReceivablesRecheck time.Duration
	// Jitter spreads the first pass after a start over Jitter x Interval
	// (active companies first). Zero: 1 (the whole interval); negative: none.
	Jitter float64
	// After waits on the clock of Now (a time-scaled simulation divides d).
	// Default time.After.
	After func(d time.Duration) <-chan time.Time
	// Overlap is re-read before the cursor on every poll, so events written late
	// or with a skewed clock are not skipped. Default 10m.
	Overlap time.Duration
	// LookBack is where a company never polled before starts. Default 7 days
	// (keep it under PipelineConfig.ProcessedTTL).
	LookBack time.Duration
	// LeaseTTL is how long a replica holds a company; another replica takes over
	// at most this long after the holder died. Default 3 x Interval.
	LeaseTTL time.Duration
	// Holder names this replica in leases. Default: a random id.
	Holder string
	// Concurrency is how many companies this replica polls at once. Default 4.
	Concurrency int
	// ErrorBackoffMax bounds a failing company's delay between polls (the
	// delay doubles from Interval; other companies are not held up; a
	// company refusing /v1/events is not failing but without receivables).
	// Default 15m.
	ErrorBackoffMax time.Duration
	// Invoices enables the GET /v1/invoices fallback for lost DOCUMENTS
	// webhooks. Messages enables polling Amili message threads. Both default on
	// in the service; the zero value here is off.
	Invoices, Messages bool
	// Budgets, when set, is read every Interval and the budget use per host
	// written to the bucket for `maventa-events status` (*maventa.Client.Budgets).
	Budgets func() []maventa.BudgetStat
	// Budget, when its RequestsPerSecond is set, is the client's budget the
	// poller checks its tier counts against every Interval with Size: it logs
	// one warning when polling needs more than its share (and says it in
	// `status`). Zero: no check.
	Budget SizingBudget
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (c PollerConfig) withDefaults() PollerConfig {
	if c.Interval <= 0 {
		c.Interval = DefaultPollInterval
	}
	if c.ActiveFor <= 0 {
		c.ActiveFor = DefaultActiveForIntervals * c.Interval
	}
	if c.QuietMax <= 0 {
		c.QuietMax = DefaultQuietMaxIntervals * c.Interval
	}
	if c.NoReceivablesMax <= 0 {
		c.NoReceivablesMax = DefaultNoReceivablesIntervals * c.Interval
	}
	if c.NoReceivablesRecheck <= 0 {
		c.NoReceivablesRecheck = DefaultRecheckIntervals * c.Interval
	}
	switch {
	case c.Jitter == 0 || c.Jitter > 1:
		c.Jitter = DefaultPollJitter
	case c.Jitter < 0:
		c.Jitter = 0
	}
	if c.After == nil {
		c.After = time.After
	}
	if c.Overlap <= 0 {
		c.Overlap = DefaultPollOverlap
	}
	if c.LookBack <= 0 {
		c.LookBack = DefaultPollLookBack
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = DefaultLeaseTTLIntervals * c.Interval
	}
	if c.Holder == "" {
		c.Holder = "poller-" + events.NewID("holder", time.Now().String())[:8]
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultPollConcurrency
	}
	if c.ErrorBackoffMax <= 0 {
		c.ErrorBackoffMax = DefaultPollErrorBackoffMax
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// PollStats counts what polling did, for logs, metrics and tests.
type PollStats struct {
	Polls          atomic.Int64 // company polls completed
	APICalls       atomic.Int64 // Maventa requests made by polling
	EventsSeen     atomic.Int64 // assignment events read (overlap included)
	Emitted        atomic.Int64 // new domain events
	MissedWebhooks atomic.Int64 // events a webhook should have produced, found only by polling
	Errors         atomic.Int64 // failed company polls
	LeaseChanges   atomic.Int64 // companies this replica took over from another holder
}

// CompanyPoll is the outcome of one company poll.
type CompanyPoll struct {
	Company  string
	Calls    int
	Events   int       // assignment events read
	Emitted  int       // new domain events
	Newest   time.Time // created_at of the newest event read
	Cursor   time.Time // the cursor after the poll
	Duration time.Duration

	EventsEmitted   int // of Emitted, from /v1/events
	InvoicesEmitted int // of Emitted, from the invoice fallback
	// Each read's failure; one failing does not stop the others.
	EventsErr, InvoicesErr, MessagesErr error
}

// Err joins the failures of the poll's reads (nil when all succeeded).
func (r CompanyPoll) Err() error { return errors.Join(r.EventsErr, r.InvoicesErr, r.MessagesErr) }

// Poller reconciles with Maventa by polling: so that no event is missed when a
// webhook never arrives, and the assignment events Maventa sends no webhook for
// arrive at all. It shares the assignment and invoice records with the webhook
// consumers, so a fact seen both ways, or twice by overlapping polls, is
// emitted once.
type Poller struct {
	cfg   PollerConfig
	api   PollAPI
	comp  Companies
	store pollState // cursors, leases, assignment and thread records
	facts Records   // invoice records
	emit  EventEmitter
	log   *slog.Logger
	Stats PollStats

	sched *schedule // when each company is due, by tier (schedule.go)

	mu     sync.Mutex
	noMsgs map[string]time.Time // companies without messaging, until

	overBudget bool // the last sizing check did not fit (read and set by Run only)

	// need is the last sizing check's share of polling's budget each host's
	// tiers need (host -> share; above 1: short), for the
	// maventa.reconcile.budget.need gauge.
	needMu sync.Mutex
	need   map[string]float64
}

// NewPoller returns a poller; Run starts it.
// store keeps cursors, leases and assignment records, facts the invoice
// records (Stores.Facts of the processor).
func NewPoller(cfg PollerConfig, api PollAPI, comp Companies, store PollStore, facts Records, em EventEmitter, log *slog.Logger) *Poller {
	return &Poller{cfg: cfg.withDefaults(), api: api, comp: comp, store: pollState{kv: store}, facts: facts, emit: em, log: log,
		sched: newSchedule(), noMsgs: map[string]time.Time{}}
}

// PollCompany reads the company's assignment events from its cursor (minus the
// overlap; from since instead when it is set: a backfill) to now, emits what is
// new, then the invoice and message fallbacks, and, when advance is true, moves
// the cursor forward once everything read is stored. It is safe to run while
// other pollers and consumers run: everything it emits goes through the records.
//
// The three reads are independent: a failed events read (a company without the
// receivables service answers 403) does not skip the invoice fallback, which
// such a company needs most. The error joins every part's failure.
func (p *Poller) PollCompany(ctx context.Context, c string, since time.Time, advance bool) (CompanyPoll, error) {
	res := p.poll(ctx, c, since, advance, pollParts{events: true, invoices: p.cfg.Invoices, messages: p.cfg.Messages})
	return res, res.Err()
}

// pollParts selects the reads of one poll (the scheduler skips what a company's
// tier says is pointless, e.g. /v1/events of a company without receivables).
type pollParts struct{ events, invoices, messages bool }

// poll runs the selected reads, each whatever the others' outcome.
func (p *Poller) poll(ctx context.Context, c string, since time.Time, advance bool, parts pollParts) CompanyPoll {
	start := p.cfg.Now()
	res := CompanyPoll{Company: c}
	if parts.events {
		res.EventsErr = p.pollAssignmentEvents(ctx, c, since, advance, &res)
	}
	if parts.invoices {
		n, calls, err := p.pollInvoices(ctx, c, since, advance)
		res.Calls += calls
		res.Emitted += n
		res.InvoicesEmitted = n
		res.InvoicesErr = err
	}
	if parts.messages && !refused(res.EventsErr) { // the same service refuses both
		n, calls, err := p.pollMessages(ctx, c)
		res.Calls += calls
		res.Emitted += n
		res.MessagesErr = err
	}
	res.Duration = p.cfg.Now().Sub(start)
	p.Stats.Polls.Add(1)
	p.Stats.APICalls.Add(int64(res.Calls))
	p.Stats.Emitted.Add(int64(res.Emitted))
	return res
}
