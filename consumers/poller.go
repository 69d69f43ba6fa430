package consumers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
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
// (tests, simulations) keeps the same proportions.
const (
	DefaultPollInterval           = time.Minute
	DefaultPollOverlap            = 10 * time.Minute
	DefaultPollLookBack           = 7 * 24 * time.Hour
	DefaultPollConcurrency        = 4
	DefaultPollErrorBackoffMax    = 15 * time.Minute
	DefaultPollJitter             = 1.0
	DefaultActiveForIntervals     = 10
	DefaultQuietMaxIntervals      = 15
	DefaultNoReceivablesIntervals = 60
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
	// Interval while nothing new appears. Default 15 x Interval (15m).
	QuietMax time.Duration
	// NoReceivablesMax is the ceiling of the invoice polling delay of a company
	// without the receivables service. Default 60 x Interval (1h).
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
	store *ReconcileStore // cursors, leases, assignment and thread records
	facts Records         // invoice records
	emit  EventEmitter
	log   *slog.Logger
	Stats PollStats

	sched *schedule // when each company is due, by tier (schedule.go)

	mu     sync.Mutex
	noMsgs map[string]time.Time // companies without messaging, until
}

// NewPoller returns a poller; Run starts it.
// store keeps cursors, leases and assignment records, facts the invoice
// records (Stores.Facts of the processor).
func NewPoller(cfg PollerConfig, api PollAPI, comp Companies, store *ReconcileStore, facts Records, em EventEmitter, log *slog.Logger) *Poller {
	return &Poller{cfg: cfg.withDefaults(), api: api, comp: comp, store: store, facts: facts, emit: em, log: log,
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

// pollAssignmentEvents is the /v1/events part of a poll: read from the cursor,
// emit what is new, advance the cursor.
func (p *Poller) pollAssignmentEvents(ctx context.Context, c string, since time.Time, advance bool, res *CompanyPoll) error {
	start := p.cfg.Now()
	var cur Cursor
	rev, err := p.store.get(ctx, cursorKey("", c), &cur)
	if err != nil {
		return err
	}
	if rev == 0 {
		cur.After = start.Add(-p.cfg.LookBack)
	}
	from := cur.After.Add(-p.cfg.Overlap)
	if !since.IsZero() {
		from = since
	}
	res.Cursor = cur.After
	evs, calls, err := p.readEvents(ctx, c, from)
	res.Calls += calls
	if err != nil {
		return err
	}
	res.Events = len(evs)
	p.Stats.EventsSeen.Add(int64(len(evs)))
	emitted, calls, err := p.emitAssignmentEvents(ctx, c, evs, from)
	res.Calls += calls
	res.Emitted += emitted
	res.EventsEmitted = emitted
	if err != nil {
		return err
	}
	for _, e := range evs {
		if e.CreatedAt != nil && e.CreatedAt.After(res.Newest) {
			res.Newest = *e.CreatedAt
		}
	}
	if advance && res.Newest.After(cur.After) {
		res.Cursor = res.Newest
		// Compare-and-set: a concurrent writer (a former lease holder finishing
		// late) makes this poll's advance a no-op; the next poll re-reads.
		if err := p.store.put(ctx, cursorKey("", c), Cursor{After: res.Newest, UpdatedAt: start}, rev); err != nil && !errors.Is(err, errConflict) {
			return err
		}
	}
	return nil
}

// readEvents reads every page of events created from `from` on: one request
// per page, stopping on the last (or a short) page.
func (p *Poller) readEvents(ctx context.Context, c string, from time.Time) ([]maventa.Event, int, error) {
	var all []maventa.Event
	calls := 0
	for page := 1; ; page++ {
		pg, err := p.api.ListEvents(ctx, c, maventa.EventQuery{CreatedAfter: from}, maventa.PageOptions{Page: page, PerPage: maventa.MaxPerPage})
		calls++
		if err != nil {
			return nil, calls, err
		}
		all = append(all, pg.Items...)
		if pg.NextPage == 0 || len(pg.Items) < maventa.MaxPerPage {
			return all, calls, nil
		}
	}
}

// emitAssignmentEvents groups events by assignment and emits what is new. A
// known assignment continues from its stored state. Unknown ones (their invoice
// webhook was lost, or they predate us) need a snapshot: those created inside
// the window [from, now] have their whole history among the events just read,
// so one listing of assignments changed since `from` (100 per call) gives their
// snapshots; only older ones are fetched one by one with their history.
func (p *Poller) emitAssignmentEvents(ctx context.Context, c string, evs []maventa.Event, from time.Time) (emitted, calls int, err error) {
	var order []string
	byAssignment := map[string][]maventa.Event{}
	for _, e := range evs {
		if e.AssignmentID == "" {
			p.log.Warn("assignment event without assignment_id: cannot be attributed", "company_id", c, "maventa_event_id", e.ID, "type", e.Type)
			continue
		}
		if _, ok := byAssignment[e.AssignmentID]; !ok {
			order = append(order, e.AssignmentID)
		}
		byAssignment[e.AssignmentID] = append(byAssignment[e.AssignmentID], e)
	}
	tc := events.TraceContext{}
	var unknown []string
	for _, id := range order {
		evs, err := domainAssignmentEvents(byAssignment[id])
		if err != nil {
			return emitted, calls, err
		}
		n, _, err := applyAssignment(ctx, p.store, p.emit, p.log, c, id, events.AssignmentFacts{Events: evs}, tc)
		emitted += n
		if errors.Is(err, events.ErrNeedSnapshot) {
			unknown = append(unknown, id)
			continue
		}
		if err != nil {
			return emitted, calls, err
		}
	}
	if len(unknown) == 0 {
		return emitted, calls, nil
	}
	snapshots, k, err := p.changedAssignments(ctx, c, from)
	calls += k
	if err != nil {
		return emitted, calls, err
	}
	for _, id := range unknown {
		a, ok := snapshots[id]
		if ok && a.CreatedAt != nil && !a.CreatedAt.Before(from) {
			a.Events = byAssignment[id] // its whole history was read in this window
		} else {
			if a, err = p.api.GetAssignment(ctx, c, id); err != nil {
				return emitted, calls + 1, err
			}
			calls++
		}
		n, err := p.emitNewAssignment(ctx, c, a, tc)
		emitted += n
		if err != nil {
			return emitted, calls, err
		}
	}
	return emitted, calls, nil
}

// changedAssignments lists the company's assignments changed since from, by id.
func (p *Poller) changedAssignments(ctx context.Context, c string, from time.Time) (map[string]maventa.Assignment, int, error) {
	out := map[string]maventa.Assignment{}
	calls := 0
	for page := 1; ; page++ {
		pg, err := p.api.ListAssignments(ctx, c, maventa.AssignmentQuery{UpdatedAfter: from}, maventa.PageOptions{Page: page, PerPage: maventa.MaxPerPage})
		calls++
		if err != nil {
			return nil, calls, err
		}
		for _, a := range pg.Items {
			out[a.ID] = a
		}
		if pg.NextPage == 0 || len(pg.Items) < maventa.MaxPerPage {
			return out, calls, nil
		}
	}
}

// emitNewAssignment applies an assignment seen for the first time by polling
// (opened, then its history).
func (p *Poller) emitNewAssignment(ctx context.Context, c string, a maventa.Assignment, tc events.TraceContext) (int, error) {
	da, err := domainAssignment(a)
	if err != nil {
		return 0, err
	}
	n, opened, err := applyAssignment(ctx, p.store, p.emit, p.log, c, a.ID, events.AssignmentFacts{Snapshot: &da}, tc)
	if opened {
		// The assignment was never announced: its invoice's DELIVERED webhook
		// (Kassavirta creates assignments on sending) did not arrive.
		p.Stats.MissedWebhooks.Add(1)
		missedWebhooks.Add(ctx, 1, companyAttr(c))
		p.log.Info("assignment found only by polling (missed webhook)", "company_id", c, "assignment_id", a.ID)
	}
	return n, err
}

// invoiceStatusOf maps a sent invoice's status in GET /v1/invoices to the
// delivery status its webhook would have announced. The values are ASSUMED
// (not published): kept in this one table.
var invoiceStatusOf = map[string]string{
	"SENT": events.NoticeDelivered, "DELIVERED": events.NoticeDelivered,
	"FAILED": events.NoticeFailed, "ERROR": events.NoticeFailed,
}

// pollInvoices is seed 004's fallback for lost DOCUMENTS webhooks: sent
// invoices changed since the invoice cursor, each whose delivery status is new
// becomes the event its webhook would have produced (the same key as the webhook
// path, so both together give one event).
func (p *Poller) pollInvoices(ctx context.Context, c string, since time.Time, advance bool) (emitted, calls int, err error) {
	var cur Cursor
	rev, err := p.store.get(ctx, cursorKey("invoices", c), &cur)
	if err != nil {
		return 0, 0, err
	}
	start := p.cfg.Now()
	if rev == 0 {
		cur.After = start.Add(-p.cfg.LookBack)
	}
	from := cur.After.Add(-p.cfg.Overlap)
	if !since.IsZero() {
		from = since
	}
	newest := cur.After
	for page := 1; ; page++ {
		pg, err := p.api.ListInvoices(ctx, c, maventa.InvoiceQuery{Direction: "SENT", UpdatedAfter: from}, maventa.PageOptions{Page: page, PerPage: maventa.MaxPerPage})
		calls++
		if err != nil {
			return emitted, calls, err
		}
		for _, inv := range pg.Items {
			n, at, err := p.invoiceEvent(ctx, c, inv)
			emitted += n
			if err != nil {
				return emitted, calls, err
			}
			if at.After(newest) {
				newest = at
			}
		}
		if pg.NextPage == 0 || len(pg.Items) < maventa.MaxPerPage {
			break
		}
	}
	if advance && newest.After(cur.After) {
		if err := p.store.put(ctx, cursorKey("invoices", c), Cursor{After: newest, UpdatedAt: start}, rev); err != nil && !errors.Is(err, errConflict) {
			return emitted, calls, err
		}
	}
	return emitted, calls, nil
}

// invoiceEvent emits the delivery event of one listed invoice when its status
// is new, built exactly as from the webhook Maventa would have sent.
func (p *Poller) invoiceEvent(ctx context.Context, c string, inv maventa.Invoice) (int, time.Time, error) {
	extra := func(k string) string {
		var s string
		_ = json.Unmarshal(inv.Extra[k], &s)
		return s
	}
	at, _ := time.Parse(time.RFC3339, extra("updated_at"))
	status, ok := invoiceStatusOf[strings.ToUpper(inv.Status)]
	if !ok || at.IsZero() {
		return 0, at, nil
	}
	data := map[string]string{"invoice_id": inv.ID, "invoice_number": inv.InvoiceNumber, "destination": extra("destination"),
		"recipient_name": extra("recipient_name"), "recipient_bid": extra("recipient_bid")}
	if status == events.NoticeFailed {
		data["error_message"] = extra("error_message")
	}
	body, err := json.Marshal(map[string]any{"event": "DOCUMENTS.INVOICE." + status, "company_id": c,
		"event_timestamp": at.UTC().Format(time.RFC3339), "event_data": data})
	if err != nil {
		return 0, at, err
	}
	ev, err := events.FromWebhook(body, events.TraceContext{})
	if err != nil {
		return 0, at, fmt.Errorf("invoice %s: %w", inv.ID, err)
	}
	ev.WebhookID = "" // built from the invoice list, not from a webhook Maventa sent
	n, err := applyInvoice(ctx, p.facts, p.emit, inv.ID, events.InvoiceNotice{Status: status, At: at, Listed: true, Event: ev})
	if n > 0 {
		p.Stats.MissedWebhooks.Add(int64(n))
		missedWebhooks.Add(ctx, int64(n), companyAttr(c))
		p.log.Info("invoice status found only by polling (missed webhook)", "company_id", c, "invoice_id", inv.ID, "status", status)
	}
	return n, at, err
}

// pollMessages emits message.received for new messages in the company's Amili
// message threads: threads whose latest message changed since the last poll are
// read in full, the thread's record skips what was already emitted. A company without
// messaging (403/404) is not asked again for an hour.
func (p *Poller) pollMessages(ctx context.Context, c string) (emitted, calls int, err error) {
	p.mu.Lock()
	until := p.noMsgs[c]
	p.mu.Unlock()
	if p.cfg.Now().Before(until) {
		return 0, 0, nil
	}
	for page := 1; ; page++ {
		pg, err := p.api.ListMessageThreads(ctx, c, maventa.PageOptions{Page: page, PerPage: maventa.MaxPerPage})
		calls++
		if maventa.IsNotFound(err) || maventa.IsAuth(err) {
			p.mu.Lock()
			p.noMsgs[c] = p.cfg.Now().Add(time.Hour)
			p.mu.Unlock()
			return emitted, calls, nil
		}
		if err != nil {
			return emitted, calls, err
		}
		for _, th := range pg.Items {
			n, k, err := p.threadMessages(ctx, c, th)
			emitted += n
			calls += k
			if err != nil {
				return emitted, calls, err
			}
		}
		if pg.NextPage == 0 || len(pg.Items) < maventa.MaxPerPage {
			return emitted, calls, nil
		}
	}
}

// threadMessages reads a thread's messages when its latest message is not the
// one seen last time.
func (p *Poller) threadMessages(ctx context.Context, c string, th maventa.MessageThread) (emitted, calls int, err error) {
	var latest struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(th.Extra["latest_message"], &latest)
	var seen events.SeenRecord
	rev, err := p.store.get(ctx, threadKey(th.ID), &seen)
	if err != nil {
		return 0, 0, err
	}
	if latest.ID == "" || (rev != 0 && seen.Latest == latest.ID) {
		return 0, 0, nil
	}
	msgs, err := p.api.ListThreadMessages(ctx, c, th.ID)
	calls++
	if err != nil {
		return 0, calls, err
	}
	var out []events.Event
	for _, m := range msgs {
		if m.CreatedAt == nil {
			continue
		}
		raw, _ := json.Marshal(m)
		var sender string
		_ = json.Unmarshal(m.Extra["sender"], &sender)
		ev, err := events.NewMessageReceived(c, events.MessageReceived{ThreadID: th.ID, MessageID: m.ID, AssignmentID: th.AssignmentID,
			Sender: sender, Text: m.Message, SentAt: events.TimestampOf(*m.CreatedAt), Raw: raw}, events.TraceContext{})
		if err != nil {
			return 0, calls, err
		}
		out = append(out, ev)
	}
	n, err := update(ctx, p.store, p.emit, threadKey(th.ID), func(rec events.SeenRecord) (events.SeenRecord, []events.Event, error) {
		next, evs := events.ApplySeen(rec, out, p.cfg.Now(), 0)
		next.Latest = latest.ID
		return next, evs, nil
	})
	return n, calls, err
}
