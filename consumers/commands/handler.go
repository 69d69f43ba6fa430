// Package commands applies the commands internal services publish on the
// command stream at Maventa, each exactly once, and publishes one outcome
// event per command.
//
// The Handler is the application: it talks to three small interfaces (a Store
// of command records, an Emitter of outcome events, and Maventa). The Runner
// feeds it the commands of a Source, those of one target in stream order
// (Order), retries in place and dead-letters (DeadLetterer). Both run against
// in-memory fakes (handler_test.go, runner_test.go) as well as against
// JetStream (consumers/natsstore/commandstream implements the interfaces).
//
// Exactly once at Maventa rests on the command record, keyed by the command id
// (the caller's CloudEvents id):
//
//  1. A record is created (compare-and-set on absence) when a command is first
//     seen; a redelivery, a second replica or a replay finds it.
//  2. Before the write is sent, the record moves to "applying" (compare-and-set),
//     with what the assignment held before (its event ids). Only the holder of
//     that transition sends the write.
//  3. A clear answer decides the outcome (succeeded, failed). An answer that may
//     follow an applied write (timeout, reset, 500, 502, 504) is never resent:
//     the assignment is read back, and a new event of the company matching the
//     write means succeeded; otherwise the outcome is unknown and an operator
//     resolves it (Handler.Resolve).
//  4. A record found "applying" after a crash is never sent again either: it is
//     read back the same way, once the applying holder's lease has run out.
//  5. The decided outcome is stored in the record before its event is published;
//     a crash in between publishes the same event (same id) on the redelivery.
package commands

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
)

// Maventa is what the handler needs from Maventa's APIs (*maventa.Client):
// per command, a read of its target, its write, and the read back.
type Maventa interface {
	GetAssignment(ctx context.Context, companyID, assignmentID string) (maventa.Assignment, error)
	AddEvent(ctx context.Context, companyID, assignmentID string, ev maventa.NewEvent) (maventa.Event, error)
	MarkEventSeen(ctx context.Context, companyID, assignmentID, eventID string) error
	ListAssignmentMessages(ctx context.Context, companyID, assignmentID string) ([]maventa.Message, error)
	AddAssignmentMessage(ctx context.Context, companyID, assignmentID string, m maventa.NewMessage) (maventa.Message, error)
	GetMessageThread(ctx context.Context, companyID, threadID string) (maventa.MessageThread, error)
	ListThreadMessages(ctx context.Context, companyID, threadID string) ([]maventa.Message, error)
	AddThreadMessage(ctx context.Context, companyID, threadID string, m maventa.NewMessage) (maventa.Message, error)
	FlagMessageThread(ctx context.Context, companyID, threadID string, flagged bool) (maventa.MessageThread, error)
	MarkMessageSeen(ctx context.Context, companyID, messageID string) error
	GetServiceLevel(ctx context.Context, companyID, customerBID string) (maventa.ServiceLevel, error)
	SetServiceLevel(ctx context.Context, companyID, customerBID, level string) (maventa.ServiceLevel, error)
	GetInvoice(ctx context.Context, companyID, invoiceID string) (maventa.Invoice, error)
	GetInvoiceAssignment(ctx context.Context, companyID, invoiceID string) (maventa.InvoiceAssignment, error)
	TransferToRopo(ctx context.Context, companyID, invoiceID string) (maventa.InvoiceAssignment, error)
	TransferToAmili(ctx context.Context, companyID, invoiceID string, t maventa.AmiliTransfer) (maventa.InvoiceAssignment, error)
	GetReceivablesService(ctx context.Context, companyID, provider string) (maventa.ServiceStatus, error)
	ActivateReceivablesService(ctx context.Context, companyID, provider string, a maventa.ServiceActivation) (maventa.ServiceStatus, error)
	UpdateReceivablesService(ctx context.Context, companyID, provider string, a maventa.ServiceActivation) (maventa.ServiceStatus, error)
	CloseReceivablesService(ctx context.Context, companyID, provider string) error
}

// Emitter publishes outcome events, each once (*natsstore.Emitter).
type Emitter interface {
	Emit(ctx context.Context, evs []events.Event) (int, error)
}

// ErrConflict is returned by Store.Put when the record changed since it was read.
var ErrConflict = errors.New("command record changed concurrently")

// Store keeps one Record per command id with compare-and-set.
type Store interface {
	// Get returns the record and its revision; revision 0 means there is none.
	Get(ctx context.Context, id string) (Record, uint64, error)
	// Put writes r if the record is still at rev (0: only if there is none) and
	// returns the new revision, or ErrConflict.
	Put(ctx context.Context, r Record, rev uint64) (uint64, error)
}

// State is where a command is in its life.
type State string

// Command states.
const (
	// StateReceived: seen, nothing sent to Maventa.
	StateReceived State = "received"
	// StateApplying: the write may have been sent; never send it again.
	StateApplying State = "applying"
	// StateDone: the outcome is decided (Record.Outcome).
	StateDone State = "done"
)

// Record is the durable state of one command.
type Record struct {
	// ID is the command id.
	ID string `json:"id"`
	// Command is the command's name ("assignment.paid").
	Command string `json:"command"`
	// CompanyID, Subject and CorrelationID are the command's.
	CompanyID     string `json:"company_id"`
	Subject       string `json:"subject"`
	CorrelationID string `json:"correlation_id,omitempty"`
	// Fingerprint identifies the command's content: the same id with other
	// content is a caller's mistake, never applied.
	Fingerprint string `json:"fingerprint"`
	// State is received, applying or done.
	State State `json:"state"`
	// Holder and Since say who moved the record to applying, and when.
	Holder string    `json:"holder,omitempty"`
	Since  time.Time `json:"since,omitzero"`
	// Baseline is what the target held before the write: the assignment's event
	// ids, or "seens:<n>" of the event to mark seen.
	Baseline []string `json:"baseline,omitempty"`
	// Outcome and OutcomeData are the decided outcome and its event data.
	Outcome     events.Outcome  `json:"outcome,omitempty"`
	OutcomeData json.RawMessage `json:"outcome_data,omitempty"`
	DecidedAt   time.Time       `json:"decided_at,omitzero"`
	// Resolution is the operator's decision after outcome_unknown.
	Resolution *Resolution `json:"resolution,omitempty"`
	// Transfer is the followed state of an invoice transfer, once it succeeded.
	Transfer *Transfer `json:"transfer,omitempty"`
	// Service is the followed state of a service activation, once it succeeded.
	Service *ServiceFollow `json:"service,omitempty"`
	// Received is when the command was first seen.
	Received time.Time `json:"received"`
	// Published are the ids of the outcome events already stored.
	Published []string `json:"published,omitempty"`
}

// Resolution is an operator's decision about a command whose outcome was unknown.
type Resolution struct {
	// Applied says whether the operator found the write applied at Maventa.
	Applied bool `json:"applied"`
	// MaventaEventID is what Maventa created, when the operator knows it.
	MaventaEventID string `json:"maventa_event_id,omitempty"`
	// By names the operator; Note says why.
	By   string    `json:"by"`
	Note string    `json:"note,omitempty"`
	At   time.Time `json:"at"`
}

// Transfer is an invoice transfer followed to its end (GET /v2/invoices/{id}/assignment).
type Transfer struct {
	// Provider is ropo or amili.
	Provider string `json:"provider"`
	// Status is pending, sent or error.
	Status string `json:"status"`
	// AssignmentID and ErrorMessage are what Maventa said at the end.
	AssignmentID string    `json:"assignment_id,omitempty"`
	ErrorMessage string    `json:"error_message,omitempty"`
	EndedAt      time.Time `json:"ended_at,omitzero"`
}

// ServiceFollow is a service activation followed until the agency decides.
type ServiceFollow struct {
	// States are the states seen, each published once (service.pending, then
	// service.activated or service.rejected).
	States []ServiceState `json:"states,omitempty"`
}

// ServiceState is one state of a service, as seen at At.
type ServiceState struct {
	Service events.ReceivablesService `json:"service"`
	At      time.Time                 `json:"at"`
}

// Done reports whether the activation reached the agency's decision.
func (f *ServiceFollow) Done() bool {
	if len(f.States) == 0 {
		return false
	}
	switch strings.ToUpper(f.States[len(f.States)-1].Service.Status) {
	case "ACTIVE", "ACTIVATED", "REJECTED":
		return true
	}
	return false
}

// Done reports whether the transfer reached its end.
func (t *Transfer) Done() bool {
	return t.Status == maventa.TransferSent || t.Status == maventa.TransferError
}

// RetryError means "try the same message again later": Maventa or NATS were
// unavailable. After says how long to wait when known (Retry-After).
type RetryError struct {
	Err   error
	After time.Duration
	// Busy means another process is applying the command: waiting for it is
	// not a failed attempt.
	Busy bool
}

func (e *RetryError) Error() string { return "retry: " + e.Err.Error() }
func (e *RetryError) Unwrap() error { return e.Err }

// PermanentError means the message can never be handled: it goes to the
// dead-letter stream with Reason.
type PermanentError struct {
	Reason string
	Err    error
}

func (e *PermanentError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// DefaultApplyLease is Config.ApplyLease's default (the service's option reads it).
const DefaultApplyLease = 2 * time.Minute

// Config configures a Handler. Zero values are the documented defaults.
type Config struct {
	// Holder names this process in applying records. Default a random id.
	Holder string
	// ApplyLease is how long a record another process moved to applying is left
	// alone before it is read back (that process may still be waiting for
	// Maventa's answer). It must exceed one Maventa write with its retries.
	// Default 2 minutes.
	ApplyLease time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// FollowInterval is the longest wait between two reads of a pending invoice
	// transfer or service activation. Default 1 minute.
	FollowInterval time.Duration
	// Nudge, when set, is told about every company whose command succeeded, so
	// that the reconciliation poller can pull that company's next poll forward
	// and the facts the command caused (the company's own assignment event, the
	// agency's reaction) arrive as domain events sooner. Nil: nothing is told.
	Nudge Nudger
}

// Nudger pulls a company's next reconciliation poll forward
// (*consumers.Poller), so that the facts a command causes arrive soon.
type Nudger interface {
	Nudge(companyID string)
}

// Handler applies commands.
type Handler struct {
	cfg     Config
	store   Store
	emitter Emitter
	api     Maventa
	log     *slog.Logger
}

// NewHandler returns a handler; a nil logger discards logs.
func NewHandler(cfg Config, store Store, emitter Emitter, api Maventa, log *slog.Logger) *Handler {
	if cfg.Holder == "" {
		cfg.Holder = "h-" + uuid.NewString()
	}
	if cfg.ApplyLease <= 0 {
		cfg.ApplyLease = DefaultApplyLease
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.FollowInterval <= 0 {
		cfg.FollowInterval = time.Minute
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{cfg: cfg, store: store, emitter: emitter, api: api, log: log}
}

var (
	meter = otel.Meter("github.com/maventa-bridge/maventa-events/consumers/commands")
	// outcomes counts decided outcomes (never a re-publication after a crash).
	outcomes, _ = meter.Int64Counter("maventa.commands.outcomes",
		metric.WithUnit("{command}"),
		metric.WithDescription("Commands decided, by outcome (succeeded, rejected, failed, outcome_unknown) and command"))
)

// Handle applies one command published on subject. nil means the command's
// outcome is decided and published (acknowledge the message); *RetryError
// means try again later; *PermanentError means dead-letter it.
func (h *Handler) Handle(ctx context.Context, subject string, body []byte) error {
	cmd, def, data, problems, err := events.ParseCommand(body, subject)
	if err != nil {
		return &PermanentError{Reason: "invalid_payload", Err: err}
	}
	if strings.TrimSpace(cmd.ID) == "" || cmd.CompanyID == "" || len(cmd.ID) > 200 {
		// No id or company to publish an outcome under: nothing can be answered.
		return &PermanentError{Reason: "invalid_command", Err: problems}
	}
	name := def.Name
	if name == "" {
		name = cmd.Type
	}
	fp := fingerprint(cmd)
	log := h.log.With("command_id", cmd.ID, "command", name, "company_id", cmd.CompanyID)
	for range 10 { // compare-and-set conflicts: another replica moved the record
		rec, rev, err := h.store.Get(ctx, cmd.ID)
		if err != nil {
			return &RetryError{Err: err}
		}
		if rev == 0 {
			rec = Record{ID: cmd.ID, Command: name, CompanyID: cmd.CompanyID, Subject: cmd.Subject,
				CorrelationID: cmd.CorrelationID, Fingerprint: fp, State: StateReceived, Received: h.cfg.Now().UTC()}
			if rev, err = h.store.Put(ctx, rec, 0); errors.Is(err, ErrConflict) {
				continue
			} else if err != nil {
				return &RetryError{Err: err}
			}
		} else if rec.Fingerprint != fp {
			return &PermanentError{Reason: "command_id_reused", Err: fmt.Errorf(
				"command id %s was first used for another command (%s on %s); every command needs its own id, this one is not applied", cmd.ID, rec.Command, rec.Subject)}
		}
		switch rec.State {
		case StateDone:
			if err := h.publish(ctx, rec); err != nil {
				return err
			}
			return h.follow(ctx, cmd.ID)
		case StateApplying:
			if rec.Holder != h.cfg.Holder {
				if wait := rec.Since.Add(h.cfg.ApplyLease).Sub(h.cfg.Now()); wait > 0 {
					return &RetryError{Err: fmt.Errorf("command %s is being applied by %s", cmd.ID, rec.Holder), After: wait, Busy: true}
				}
			}
			log.Info("command found applying: reading Maventa back, never resending", "holder", rec.Holder)
			err = h.readBack(ctx, cmd, def, data, rec, rev, errors.New("the service stopped or lost the answer while applying"))
		default:
			err = h.apply(ctx, cmd, def, data, problems, rec, rev)
		}
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err == nil {
			return h.follow(ctx, cmd.ID)
		}
		return err
	}
	return &RetryError{Err: fmt.Errorf("command %s: record keeps changing concurrently", cmd.ID)}
}

// fingerprint identifies a command's content (type, company, subject, data).
func fingerprint(c events.Command) string {
	var data any
	dec := json.NewDecoder(bytes.NewReader(c.Data))
	dec.UseNumber()
	_ = dec.Decode(&data)
	canon, _ := json.Marshal(data) // map keys sorted
	sum := sha256.Sum256([]byte(c.Type + "\x00" + c.CompanyID + "\x00" + c.Subject + "\x00" + string(canon)))
	return hex.EncodeToString(sum[:])
}

// apply validates a received command and, if valid, sends it once.
func (h *Handler) apply(ctx context.Context, cmd events.Command, def events.CommandDef, data events.CommandData, problems events.Problems, rec Record, rev uint64) error {
	if len(problems) > 0 {
		return h.decide(ctx, rec, rev, events.OutcomeRejected, events.CommandRejected{
			CommandID: cmd.ID, Command: rec.Command, CommandSubject: cmd.Subject, Problems: problems})
	}
	o := opFor(data)
	if o == nil {
		return &PermanentError{Reason: "unsupported_command", Err: fmt.Errorf("%s has no handler", def.Name)}
	}
	p, base, err := o.prepare(ctx, h.api, cmd, data)
	if err != nil {
		if tp, ok := targetProblem(err, cmd, def); ok {
			return h.decide(ctx, rec, rev, events.OutcomeRejected, events.CommandRejected{
				CommandID: cmd.ID, Command: rec.Command, CommandSubject: cmd.Subject, Problems: events.Problems{tp}})
		}
		return h.failOrRetry(ctx, rec, rev, cmd, err)
	}
	if len(p) > 0 {
		return h.decide(ctx, rec, rev, events.OutcomeRejected, events.CommandRejected{
			CommandID: cmd.ID, Command: rec.Command, CommandSubject: cmd.Subject, Problems: p})
	}

	rec.State, rec.Holder, rec.Since = StateApplying, h.cfg.Holder, h.cfg.Now().UTC()
	rec.Baseline = base
	if rev, err = h.store.Put(ctx, rec, rev); err != nil {
		if errors.Is(err, ErrConflict) {
			return err
		}
		return &RetryError{Err: err}
	}

	c, err := o.send(ctx, h.api, cmd, data)
	switch {
	case err == nil:
		return h.decide(ctx, rec, rev, events.OutcomeSucceeded, events.CommandSucceeded{
			CommandID: cmd.ID, Command: rec.Command, CommandSubject: cmd.Subject, MaventaEventID: c.EventID, MaventaMessageID: c.MessageID, MaventaTransferID: c.TransferID})
	case maventa.IsAmbiguous(err):
		h.log.Warn("ambiguous answer to a command: reading Maventa back, never resending",
			"command_id", cmd.ID, "command", rec.Command, "err", err)
		return h.readBack(ctx, cmd, def, data, rec, rev, err)
	case maventa.IsRetryable(err):
		// Refused outright (429, 503, never connected) even after the client's own
		// retries: nothing applied, so the record goes back to received.
		rec.State, rec.Holder, rec.Since, rec.Baseline = StateReceived, "", time.Time{}, nil
		if _, perr := h.store.Put(ctx, rec, rev); perr != nil && !errors.Is(perr, ErrConflict) {
			return &RetryError{Err: perr}
		}
		after, _ := maventa.RetryAfter(err)
		return &RetryError{Err: err, After: after}
	default:
		return h.failOrRetry(ctx, rec, rev, cmd, err)
	}
}

// targetProblem turns "no such company / assignment" into a rejection problem.
func targetProblem(err error, cmd events.Command, def events.CommandDef) (events.Problem, bool) {
	var ae *maventa.APIError
	switch {
	case errors.Is(err, maventa.ErrNoCredentials):
		return events.Problem{Field: "companyid", Problem: fmt.Sprintf("company %s is unknown to this service (no Maventa credentials for it)", cmd.CompanyID)}, true
	case maventa.IsNotFound(err):
		return events.Problem{Field: "subject", Problem: fmt.Sprintf("%s %s does not exist at Maventa for company %s", def.SubjectIs, cmd.Subject, cmd.CompanyID)}, true
	case errors.As(err, &ae) && ae.Status == 403:
		return events.Problem{Field: "subject", Problem: fmt.Sprintf("%s %s is not company %s's", def.SubjectIs, cmd.Subject, cmd.CompanyID)}, true
	}
	return events.Problem{}, false
}

// failOrRetry decides command.failed for a permanent Maventa refusal and asks
// for a retry for anything transient.
func (h *Handler) failOrRetry(ctx context.Context, rec Record, rev uint64, cmd events.Command, err error) error {
	if maventa.IsRetryable(err) || ctx.Err() != nil {
		after, _ := maventa.RetryAfter(err)
		return &RetryError{Err: err, After: after}
	}
	f := events.CommandFailed{CommandID: cmd.ID, Command: rec.Command, CommandSubject: cmd.Subject, Message: err.Error()}
	var ae *maventa.APIError
	if errors.As(err, &ae) {
		f.Status, f.Code, f.Message, f.Details = ae.Status, ae.Code, ae.Message, ae.Details
	}
	return h.decide(ctx, rec, rev, events.OutcomeFailed, f)
}

func assignmentFacts(a maventa.Assignment) events.CommandTarget {
	f := events.CommandTarget{ID: a.ID, Status: a.Status, CollectionStatus: a.CollectionStatus, Currency: a.Currency}
	for _, ev := range a.Events {
		f.EventIDs = append(f.EventIDs, ev.ID)
	}
	return f
}

// baseline is what the target holds before the write, for reading back.
func baseline(data events.CommandData, a maventa.Assignment) []string {
	if s, ok := data.(events.MarkEventSeenCommand); ok {
		for _, ev := range a.Events {
			if ev.ID == s.EventID {
				return []string{fmt.Sprintf("seens:%d", len(ev.Seens))}
			}
		}
		return []string{"seens:0"}
	}
	return assignmentFacts(a).EventIDs
}

// readBack decides an ambiguous write from what Maventa holds now.
func (h *Handler) readBack(ctx context.Context, cmd events.Command, def events.CommandDef, data events.CommandData, rec Record, rev uint64, cause error) error {
	o := opFor(data)
	if o == nil {
		return &PermanentError{Reason: "unsupported_command", Err: fmt.Errorf("%s has no handler", def.Name)}
	}
	c, found, seen, err := o.find(ctx, h.api, cmd, data, rec.Baseline)
	if err != nil {
		if maventa.IsRetryable(err) || ctx.Err() != nil {
			after, _ := maventa.RetryAfter(err)
			return &RetryError{Err: fmt.Errorf("read back: %w", err), After: after}
		}
		return h.decide(ctx, rec, rev, events.OutcomeUnknown, events.CommandOutcomeUnknown{
			CommandID: cmd.ID, Command: rec.Command, CommandSubject: cmd.Subject, Error: cause.Error(),
			Seen: "reading back failed: " + err.Error()})
	}
	if found {
		return h.decide(ctx, rec, rev, events.OutcomeSucceeded, events.CommandSucceeded{
			CommandID: cmd.ID, Command: rec.Command, CommandSubject: cmd.Subject, MaventaEventID: c.EventID,
			MaventaMessageID: c.MessageID, MaventaTransferID: c.TransferID, ReadBack: true})
	}
	return h.decide(ctx, rec, rev, events.OutcomeUnknown, events.CommandOutcomeUnknown{
		CommandID: cmd.ID, Command: rec.Command, CommandSubject: cmd.Subject, Error: cause.Error(), Seen: seen})
}

// match looks for the write's effect on a: a pointer to the created event id
// ("" for a mark seen) when exactly one candidate matches, and what was seen.
func match(data events.CommandData, base []string, a maventa.Assignment) (*string, string) {
	if s, ok := data.(events.MarkEventSeenCommand); ok {
		for _, ev := range a.Events {
			if ev.ID == s.EventID {
				now := fmt.Sprintf("seens:%d", len(ev.Seens))
				if !slices.Equal(base, []string{now}) {
					empty := ""
					return &empty, ""
				}
				return nil, fmt.Sprintf("event %s has the same %d seens as before the request", s.EventID, len(ev.Seens))
			}
		}
		return nil, fmt.Sprintf("event %s is no longer on assignment %s", s.EventID, a.ID)
	}
	want, err := MaventaEvent(data)
	if err != nil {
		return nil, err.Error()
	}
	wantData, _ := maventa.Marshal(want.Data)
	agency := agencyParties(a)
	var ids []string
	newOfType := 0
	for _, ev := range a.Events {
		if slices.Contains(base, ev.ID) || ev.Type != want.Type {
			continue
		}
		newOfType++
		if slices.Contains(agency, ev.PartyID) || !sameData(wantData, ev.Data) {
			continue
		}
		ids = append(ids, ev.ID)
	}
	if len(ids) == 1 {
		return &ids[0], ""
	}
	return nil, fmt.Sprintf("%d events on assignment %s before the request, %d now; %d new %s events, %d of them the company's with this command's data",
		len(base), a.ID, len(a.Events), newOfType, want.Type, len(ids))
}

// agencyParties are the party ids on events only the agency may create.
func agencyParties(a maventa.Assignment) []string {
	var out []string
	for _, ev := range a.Events {
		if c, _ := maventa.EventCreator(ev.Type); c == maventa.CreatorAgency && ev.PartyID != "" && !slices.Contains(out, ev.PartyID) {
			out = append(out, ev.PartyID)
		}
	}
	return out
}

// sameData reports whether every field the write sent is in got with the same
// value (numbers compared as decimals: Maventa may write 200.5 for 200.50).
func sameData(sent []byte, got json.RawMessage) bool {
	var w, g map[string]any
	if err := decodeNumbers(sent, &w); err != nil {
		return len(bytes.TrimSpace(sent)) == 0 || string(sent) == "null"
	}
	if len(w) == 0 {
		return true
	}
	if err := decodeNumbers(got, &g); err != nil {
		return false
	}
	for k, wv := range w {
		gv, ok := g[k]
		if !ok {
			return false
		}
		wn, wok := wv.(json.Number)
		gn, gok := gv.(json.Number)
		if wok && gok {
			a, err1 := events.ParseDecimal(wn.String())
			b, err2 := events.ParseDecimal(gn.String())
			if err1 != nil || err2 != nil || a.Cmp(b) != 0 {
				return false
			}
			continue
		}
		if fmt.Sprint(wv) != fmt.Sprint(gv) {
			return false
		}
	}
	return true
}

func decodeNumbers(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// decide stores the outcome (compare-and-set) and then publishes it. Only the
// writer that decided counts it in maventa.commands.outcomes.
func (h *Handler) decide(ctx context.Context, rec Record, rev uint64, o events.Outcome, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return &PermanentError{Reason: "encode_outcome", Err: err}
	}
	rec.State, rec.Outcome, rec.OutcomeData, rec.DecidedAt = StateDone, o, raw, h.cfg.Now().UTC()
	if p, ok := transferProviders[rec.Command]; ok && o == events.OutcomeSucceeded {
		rec.Transfer = &Transfer{Provider: p, Status: maventa.TransferPending}
	}
	if rec.Command == events.CommandActivateService.Name && o == events.OutcomeSucceeded {
		rec.Service = &ServiceFollow{}
	}
	if _, err := h.store.Put(ctx, rec, rev); err != nil {
		if errors.Is(err, ErrConflict) {
			return err
		}
		return &RetryError{Err: err}
	}
	outcomes.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", string(o)), attribute.String("command", rec.Command)))
	if o == events.OutcomeSucceeded && h.cfg.Nudge != nil {
		h.cfg.Nudge.Nudge(rec.CompanyID)
	}
	h.log.Info("command decided", "command_id", rec.ID, "command", rec.Command, "company_id", rec.CompanyID, "outcome", o)
	return h.publish(ctx, rec)
}

// publish emits a decided record's outcome event and what followed it
// (transfer result, service states, resolution). The ids are deterministic,
// so publishing again is deduplicated; and the record remembers what is
// stored, so a command seen again after the processed markers expired (a
// replay weeks later) is not announced twice.
func (h *Handler) publish(ctx context.Context, rec Record) error {
	evs, err := OutcomeEvents(rec)
	if err != nil {
		return &PermanentError{Reason: "encode_outcome", Err: err}
	}
	var todo []events.Event
	for _, ev := range evs {
		if !slices.Contains(rec.Published, ev.ID) {
			todo = append(todo, ev)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	if _, err := h.emitter.Emit(ctx, todo); err != nil {
		return &RetryError{Err: fmt.Errorf("publish outcome: %w", err)}
	}
	for range 5 {
		cur, rev, err := h.store.Get(ctx, rec.ID)
		if err != nil || rev == 0 {
			return nil // the processed markers cover the next days; the next handling records it
		}
		n := len(cur.Published)
		for _, ev := range todo {
			if !slices.Contains(cur.Published, ev.ID) {
				cur.Published = append(cur.Published, ev.ID)
			}
		}
		if len(cur.Published) == n {
			return nil
		}
		if _, err := h.store.Put(ctx, cur, rev); !errors.Is(err, ErrConflict) {
			return nil
		}
	}
	return nil
}

// OutcomeEvents returns the outcome event(s) of a decided record: the outcome,
// and the operator's resolution when an unknown outcome was resolved.
func OutcomeEvents(rec Record) ([]events.Event, error) {
	if rec.State != StateDone {
		return nil, fmt.Errorf("command %s has no outcome yet (state %s)", rec.ID, rec.State)
	}
	def := events.OutcomeType(rec.Outcome)
	data := reflectNew(def)
	if err := json.Unmarshal(rec.OutcomeData, data); err != nil {
		return nil, fmt.Errorf("command %s outcome: %w", rec.ID, err)
	}
	ev, err := events.NewCommandOutcome(def, rec.CompanyID, rec.ID, rec.Subject, rec.CorrelationID, "", data, rec.DecidedAt)
	if err != nil {
		return nil, err
	}
	out := []events.Event{ev}
	if t := rec.Transfer; t != nil && t.Done() {
		meta := events.Meta{CompanyID: rec.CompanyID, Subject: rec.Subject, Time: t.EndedAt, Key: []string{rec.ID}, CorrelationID: rec.CorrelationID}
		var tev events.Event
		if t.Status == maventa.TransferSent {
			tev, err = events.New(events.TypeInvoiceTransferSent, meta, events.InvoiceTransferSent{CommandID: rec.ID, InvoiceID: rec.Subject,
				Provider: t.Provider, AssignmentID: t.AssignmentID})
		} else {
			tev, err = events.New(events.TypeInvoiceTransferFailed, meta, events.InvoiceTransferFailed{CommandID: rec.ID, InvoiceID: rec.Subject,
				Provider: t.Provider, ErrorMessage: t.ErrorMessage})
		}
		if err != nil {
			return nil, err
		}
		out = append(out, tev)
	}
	if f := rec.Service; f != nil {
		for _, st := range f.States {
			sev, err := events.NewServiceEvent(rec.CompanyID, st.Service, st.At, events.TraceContext{})
			if err != nil {
				continue // a state with no event of its own (DISABLED)
			}
			sev.CorrelationID = rec.CorrelationID
			out = append(out, sev)
		}
	}
	if r := rec.Resolution; r != nil {
		var rdef events.TypeDef
		var rdata any
		if r.Applied {
			rdef, rdata = events.TypeCommandSucceeded, events.CommandSucceeded{CommandID: rec.ID, Command: rec.Command,
				CommandSubject: rec.Subject, MaventaEventID: r.MaventaEventID, ResolvedBy: r.By}
		} else {
			msg := "resolved by an operator as not applied at Maventa"
			if r.Note != "" {
				msg += ": " + r.Note
			}
			rdef, rdata = events.TypeCommandFailed, events.CommandFailed{CommandID: rec.ID, Command: rec.Command,
				CommandSubject: rec.Subject, Message: msg, ResolvedBy: r.By}
		}
		rev, err := events.NewCommandOutcome(rdef, rec.CompanyID, rec.ID, rec.Subject, rec.CorrelationID, "resolved", rdata, r.At)
		if err != nil {
			return nil, err
		}
		out = append(out, rev)
	}
	return out, nil
}

func reflectNew(def events.TypeDef) any {
	switch def.Name {
	case events.TypeCommandSucceeded.Name:
		return &events.CommandSucceeded{}
	case events.TypeCommandRejected.Name:
		return &events.CommandRejected{}
	case events.TypeCommandFailed.Name:
		return &events.CommandFailed{}
	default:
		return &events.CommandOutcomeUnknown{}
	}
}

// ErrNotUnknown is returned by Resolve for a command whose outcome is not unknown.
var ErrNotUnknown = errors.New("only a command whose outcome is unknown can be resolved")

// Resolve records an operator's decision about a command whose outcome was
// unknown and publishes the final command.succeeded or command.failed (with
// resolved_by). Resolving again with the same decision republishes the same
// event; a different decision is refused.
func (h *Handler) Resolve(ctx context.Context, id string, r Resolution) (Record, error) {
	if strings.TrimSpace(r.By) == "" {
		return Record{}, errors.New("resolve: say who resolves (-by)")
	}
	for range 10 {
		rec, rev, err := h.store.Get(ctx, id)
		if err != nil {
			return Record{}, err
		}
		if rev == 0 {
			return Record{}, fmt.Errorf("resolve: no command %s (never received, or its record expired)", id)
		}
		if rec.State != StateDone || rec.Outcome != events.OutcomeUnknown {
			return rec, fmt.Errorf("resolve %s (state %s, outcome %q): %w", id, rec.State, rec.Outcome, ErrNotUnknown)
		}
		if rec.Resolution != nil {
			if rec.Resolution.Applied != r.Applied {
				return rec, fmt.Errorf("resolve %s: already resolved as applied=%t by %s", id, rec.Resolution.Applied, rec.Resolution.By)
			}
			return rec, h.publish(ctx, rec)
		}
		r.At = h.cfg.Now().UTC()
		rec.Resolution = &r
		if _, err := h.store.Put(ctx, rec, rev); errors.Is(err, ErrConflict) {
			continue
		} else if err != nil {
			return rec, err
		}
		return rec, h.publish(ctx, rec)
	}
	return Record{}, fmt.Errorf("resolve %s: record keeps changing", id)
}

// MaventaEvent is the assignment event a command creates: the request body of
// POST /v1/assignments/{id}/events (seed 003's examples for paid and freeze;
// the other data field names are the ones the maventa package assumes).
func MaventaEvent(data events.CommandData) (maventa.NewEvent, error) {
	switch c := data.(type) {
	case events.PaidCommand:
		d, err := c.Amount.Decimal()
		if err != nil {
			return maventa.NewEvent{}, err
		}
		return maventa.NewPaidEvent(maventa.PaidData{SumPaid: d, BookedAt: string(c.BookedAt), ArchiveNumber: c.ArchiveNumber}), nil
	case events.CreditNoteCommand:
		d, err := c.Amount.Decimal()
		if err != nil {
			return maventa.NewEvent{}, err
		}
		return maventa.NewCreditNoteEvent(maventa.CreditNoteData{Number: c.CreditNoteNumber, Sum: d}), nil
	case events.CommentCommand:
		return maventa.NewCommentEvent(c.Text), nil
	case events.DueDateChangeRequestCommand:
		return maventa.NewDueDateChangeRequestEvent(string(c.DueDate)), nil
	case events.CancelCommand:
		return maventa.NewCancelEvent(), nil
	case events.FreezeCommand:
		frozen := c.IsFrozen()
		return maventa.NewEvent{Type: maventa.EventFreeze, Data: maventa.FreezeData{Frozen: &frozen, EndDate: string(c.EndDate)}}, nil
	case events.CreditLossCommand:
		return maventa.NewCreditLossEvent(), nil
	}
	return maventa.NewEvent{}, fmt.Errorf("no assignment event for %T", data)
}

// transferProviders are the transfer commands and their providers.
var transferProviders = map[string]string{
	events.CommandTransferToRopo.Name:  maventa.ProviderRopo,
	events.CommandTransferToAmili.Name: maventa.ProviderAmili,
}

// follow reads a succeeded transfer's state until it is sent or fails, then
// records and publishes the result. While it is pending the command is
// retried (its message kept), so a restart continues following.
func (h *Handler) follow(ctx context.Context, id string) error {
	for range 10 {
		rec, rev, err := h.store.Get(ctx, id)
		if err != nil {
			return &RetryError{Err: err}
		}
		if rec.Service != nil && !rec.Service.Done() {
			err := h.followService(ctx, rec, rev)
			if errors.Is(err, ErrConflict) {
				continue
			}
			return err
		}
		if rec.Transfer == nil || rec.Transfer.Done() {
			return nil
		}
		st, err := h.api.GetInvoiceAssignment(ctx, rec.CompanyID, rec.Subject)
		if err != nil && !maventa.IsNotFound(err) {
			if maventa.IsRetryable(err) || ctx.Err() != nil {
				after, _ := maventa.RetryAfter(err)
				return &RetryError{Err: fmt.Errorf("follow transfer: %w", err), After: after}
			}
			return &RetryError{Err: fmt.Errorf("follow transfer: %w", err), After: h.cfg.FollowInterval, Busy: true}
		}
		switch st.Status {
		case maventa.TransferSent, maventa.TransferError:
		default: // pending, or not visible yet
			return &RetryError{Err: fmt.Errorf("transfer of invoice %s is %s", rec.Subject, cmp.Or(st.Status, "not visible yet")),
				After: h.cfg.FollowInterval, Busy: true}
		}
		rec.Transfer.Status, rec.Transfer.EndedAt = st.Status, h.cfg.Now().UTC()
		rec.Transfer.AssignmentID, rec.Transfer.ErrorMessage = extraString(st.Extra, "assignment_id"), extraString(st.Extra, "error_message")
		if _, err := h.store.Put(ctx, rec, rev); errors.Is(err, ErrConflict) {
			continue
		} else if err != nil {
			return &RetryError{Err: err}
		}
		h.log.Info("invoice transfer ended", "command_id", rec.ID, "invoice_id", rec.Subject, "status", st.Status)
		return h.publish(ctx, rec)
	}
	return &RetryError{Err: fmt.Errorf("command %s: record keeps changing concurrently", id)}
}

// followService reads a requested service's state; a new state is recorded and
// published (service.pending, service.activated, service.rejected, with the
// ids the webhook and poll paths give the same states). Until the agency
// decides, the command is retried.
func (h *Handler) followService(ctx context.Context, rec Record, rev uint64) error {
	st, err := h.api.GetReceivablesService(ctx, rec.CompanyID, rec.Subject)
	if err != nil {
		after, _ := maventa.RetryAfter(err)
		return &RetryError{Err: fmt.Errorf("follow service: %w", err), After: max(after, h.cfg.FollowInterval), Busy: !maventa.IsRetryable(err)}
	}
	s, err := st.State(rec.Subject)
	if err != nil {
		return &PermanentError{Reason: "maventa_error", Err: err}
	}
	f := rec.Service
	if n := len(f.States); n == 0 || !strings.EqualFold(f.States[n-1].Service.Status, s.Status) {
		f.States = append(f.States, ServiceState{Service: s, At: h.cfg.Now().UTC()})
		if _, err := h.store.Put(ctx, rec, rev); err != nil {
			if errors.Is(err, ErrConflict) {
				return err
			}
			return &RetryError{Err: err}
		}
		if err := h.publish(ctx, rec); err != nil {
			return err
		}
	}
	if f.Done() {
		h.log.Info("receivables service decided", "command_id", rec.ID, "provider", rec.Subject, "status", s.Status)
		return nil
	}
	return &RetryError{Err: fmt.Errorf("the %s service is %s", rec.Subject, s.Status), After: h.cfg.FollowInterval, Busy: true}
}
