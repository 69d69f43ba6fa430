package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Commands are what the vendor's internal services ask this service to do at
// Maventa. Each is a CloudEvents 1.0 event in structured JSON mode, published on
// the JetStream stream CommandStreamName with subject
// "receivables.commands.<company_id>.<aggregate>.<name>" and Nats-Msg-Id equal
// to its CloudEvents id, which is the idempotency key: a command id is applied
// at Maventa at most once, however often it is published, redelivered or
// replayed. Every command ends in exactly one outcome event (command.succeeded,
// command.rejected, command.failed or command.outcome_unknown) on the domain
// event stream.

// Names of the command stream.
const (
	// CommandSubjectRoot is the first two tokens of every command subject.
	CommandSubjectRoot = "receivables.commands"
	// CommandStreamName is the JetStream stream commands are published to.
	CommandStreamName = "RECEIVABLES_COMMANDS"
	// CommandStreamSubjects captures every command subject.
	CommandStreamSubjects = CommandSubjectRoot + ".>"
	// CommandTypePrefix starts every command's CloudEvents type; the catalog
	// appends "<aggregate>.<name>.v<version>".
	CommandTypePrefix = "com.maventa-bridge.receivables.commands."
)

// CommandDef describes one command of the catalog (Commands). docs/commands.md
// and the command part of docs/asyncapi.yaml are generated from it.
type CommandDef struct {
	// Name is "<aggregate>.<name>", e.g. "assignment.paid".
	Name string
	// Aggregate and Action are the fourth and fifth subject tokens.
	Aggregate, Action string
	// Version is the major version of the data format.
	Version int
	// DataType is the Go type of the command's data.
	DataType reflect.Type
	// Description says what the command does at Maventa, for the docs.
	Description string
	// SubjectIs says what the CloudEvents subject attribute must hold.
	SubjectIs string
	// Maventa is the call the command makes, with the request body.
	Maventa string
	// ReadBack is how an ambiguous answer (timeout, 502, 504) is decided.
	ReadBack string
	// Example is example data, for the docs and the `nats pub` line.
	Example string
	// MaventaEvent is the assignment event type the command creates, if any.
	MaventaEvent string
}

// Type is the command's CloudEvents type, e.g.
// "com.maventa-bridge.receivables.commands.assignment.paid.v1".
func (d CommandDef) Type() string {
	return CommandTypePrefix + d.Name + ".v" + strconv.Itoa(d.Version)
}

// Subject is the NATS subject a command about companyID is published on.
func (d CommandDef) Subject(companyID string) string {
	return CommandSubjectRoot + "." + SanitizeToken(companyID) + "." + SanitizeToken(d.Aggregate) + "." + SanitizeToken(d.Action)
}

func commandDef[T any](name, desc, subjectIs, maventa, readBack, example, maventaEvent string) CommandDef {
	agg, act := split(name)
	return CommandDef{Name: name, Aggregate: agg, Action: act, Version: 1, DataType: reflect.TypeFor[T](),
		Description: desc, SubjectIs: subjectIs, Maventa: maventa, ReadBack: readBack, Example: example,
		MaventaEvent: maventaEvent}
}

const readBackEvents = "the assignment's events: a new event of the same type, created by the company, with the same data"

// The command catalog. Each variable is one command; Commands lists them all.
var (
	CommandPaid = commandDef[PaidCommand]("assignment.paid",
		"Report a direct payment (or, with a negative amount, mark a credit note as used). A payer whose name starts with VISMA AMILI or VISMA FINANC is not a direct payment and is rejected (seed 003).",
		"assignment id", "POST /v1/assignments/{id}/events `{\"type\":\"paid\",\"data\":{\"sum_paid\":200.5,\"booked_at\":\"2019-01-04\",\"archive_number\":\"12345\"}}`",
		readBackEvents, `{"amount":"200.50","currency":"EUR","booked_at":"2019-01-04","archive_number":"12345","payer_name":"Asiakas Oy"}`, "paid")
	CommandCreditNote = commandDef[CreditNoteCommand]("assignment.credit_note",
		"Link a credit note to the assignment; the credit sum must be positive. A credit covering the open sum closes the assignment.",
		"assignment id", "POST /v1/assignments/{id}/events `{\"type\":\"credit_note\",\"data\":{\"credit_note_number\":\"64502\",\"sum\":2.3}}` (field names ASSUMED)",
		readBackEvents, `{"credit_note_number":"64502","amount":"2.30","currency":"EUR"}`, "credit_note")
	CommandComment = commandDef[CommentCommand]("assignment.comment",
		"Send a comment or question about the assignment to the agency.",
		"assignment id", "POST /v1/assignments/{id}/events `{\"type\":\"comment\",\"data\":{\"comment\":\"...\"}}` (field name ASSUMED)",
		readBackEvents, `{"text":"The customer paid on 2020-04-18, see archive number 12345."}`, "comment")
	CommandDueDateChangeRequest = commandDef[DueDateChangeRequestCommand]("assignment.due_date_change_request",
		"Ask the agency for a new due date. The agency answers with assignment.due_date_changed, or with a comment giving the reason once collection has started.",
		"assignment id", "POST /v1/assignments/{id}/events `{\"type\":\"due_date_change_request\",\"data\":{\"due_date\":\"2020-05-15\"}}` (field name ASSUMED)",
		readBackEvents, `{"due_date":"2020-05-15"}`, "due_date_change_request")
	CommandCancel = commandDef[CancelCommand]("assignment.cancel",
		"Cancel the agency's process for the assignment; the agency closes it. Not for credit losses (use assignment.credit_loss).",
		"assignment id", "POST /v1/assignments/{id}/events `{\"type\":\"cancel\"}`",
		readBackEvents, `{}`, "cancel")
	CommandFreeze = commandDef[FreezeCommand]("assignment.freeze",
		"Suspend collection until end_date, move the end date, or end a suspension early (end_date today, or frozen false). Refused once legal collection has started or the debtor was found insolvent (seed 003).",
		"assignment id", "POST /v1/assignments/{id}/events `{\"type\":\"freeze\",\"data\":{\"frozen\":true,\"end_date\":\"2019-01-04\"}}`",
		readBackEvents, `{"frozen":true,"end_date":"2019-01-04"}`, "freeze")
	CommandCreditLoss = commandDef[CreditLossCommand]("assignment.credit_loss",
		"Book the assignment as a credit loss (accounting only; cannot be reversed; collection continues).",
		"assignment id", "POST /v1/assignments/{id}/events `{\"type\":\"credit_loss\"}`",
		readBackEvents, `{}`, "credit_loss")
	CommandMarkEventSeen = commandDef[MarkEventSeenCommand]("assignment.mark_event_seen",
		"Mark an assignment event as seen by the company.",
		"assignment id", "POST /v1/assignments/{id}/events/{event_id}/seen",
		"the event's seens: one by the company", `{"event_id":"c0c56722-a28b-49d1-aa87-1c4d7f3cf1af"}`, "")
)

var allCommands = []CommandDef{
	CommandPaid, CommandCreditNote, CommandComment, CommandDueDateChangeRequest, CommandCancel,
	CommandFreeze, CommandCreditLoss, CommandMarkEventSeen,
	CommandAddAssignmentMessage, CommandAddThreadMessage, CommandFlagThread, CommandMarkMessageSeen,
	CommandSetServiceLevel, CommandTransferToRopo, CommandTransferToAmili,
	CommandActivateService, CommandChangeAccountableParty, CommandCloseService,
}

// Commands returns every command of the catalog, in documentation order.
func Commands() []CommandDef { return slices.Clone(allCommands) }

// LookupCommand returns the definition of a command's CloudEvents type.
func LookupCommand(ceType string) (CommandDef, bool) {
	for _, d := range allCommands {
		if d.Type() == ceType {
			return d, true
		}
	}
	return CommandDef{}, false
}

// Amount is an amount of money in a command, kept exactly as the caller wrote
// it: a JSON string ("200.50") or a JSON number (200.5). Check validates it; a
// number with more decimals than cents is rejected rather than rounded.
type Amount struct {
	raw json.RawMessage
}

// UnmarshalJSON keeps the raw token; Check judges it.
func (a *Amount) UnmarshalJSON(b []byte) error {
	a.raw = append(json.RawMessage(nil), b...)
	return nil
}

// MarshalJSON writes the amount as the caller gave it.
func (a Amount) MarshalJSON() ([]byte, error) {
	if len(a.raw) == 0 {
		return []byte("null"), nil
	}
	return a.raw, nil
}

// IsSet reports whether the field was present (and not null).
func (a Amount) IsSet() bool { return len(a.raw) > 0 && string(a.raw) != "null" }

// Decimal parses the amount: a JSON string or number holding a finite decimal
// with at most two decimals (cents).
func (a Amount) Decimal() (Decimal, error) {
	if !a.IsSet() {
		return Decimal{}, errors.New("is required")
	}
	txt := string(a.raw)
	if a.raw[0] == '"' {
		if err := json.Unmarshal(a.raw, &txt); err != nil {
			return Decimal{}, fmt.Errorf("is not a string or number: %w", err)
		}
	} else if a.raw[0] != '-' && (a.raw[0] < '0' || a.raw[0] > '9') {
		return Decimal{}, fmt.Errorf("must be a decimal string like \"200.50\" or a number, not %s", txt)
	}
	d, err := ParseDecimal(txt)
	if err != nil {
		return Decimal{}, fmt.Errorf("is not a decimal number: %q", txt)
	}
	if i := strings.IndexByte(d.String(), '.'); i >= 0 && len(d.String())-i-1 > 2 {
		return Decimal{}, fmt.Errorf("%s has more decimals than cents: send the exact amount with at most 2 decimals (amounts are never rounded)", txt)
	}
	return d, nil
}

// CommandDate is a calendar date in a command, "YYYY-MM-DD"; Check validates it.
type CommandDate string

func (d CommandDate) check(p *Problems, field string, required bool) {
	if d == "" {
		if required {
			p.Add(field, "is required (a date, YYYY-MM-DD)")
		}
		return
	}
	if _, err := time.Parse(time.DateOnly, string(d)); err != nil {
		p.Add(field, fmt.Sprintf("%q is not a date: want YYYY-MM-DD", string(d)))
	}
}

// Problem is one reason a command is rejected: which field, and what to fix.
type Problem struct {
	// Field is the command field ("data.amount", "subject", "type"), or "" for the whole command.
	Field string `json:"field"`
	// Problem says what is wrong and how to fix it.
	Problem string `json:"problem"`
}

// Problems collects every problem of a command, so the caller fixes all at once.
type Problems []Problem

// Add records one problem.
func (p *Problems) Add(field, problem string) {
	*p = append(*p, Problem{Field: field, Problem: problem})
}

// Error lists the problems in one line.
func (p Problems) Error() string {
	parts := make([]string, len(p))
	for i, x := range p {
		if x.Field == "" {
			parts[i] = x.Problem
		} else {
			parts[i] = x.Field + ": " + x.Problem
		}
	}
	return strings.Join(parts, "; ")
}

// CommandTarget is what local validation needs to know about the target
// assignment, read from Maventa just before the command is applied.
type CommandTarget struct {
	// ID is the assignment id.
	ID string
	// Status is open, closed or partially_closed.
	Status string
	// CollectionStatus is the assignment's collection_status.
	CollectionStatus string
	// Currency is the assignment's currency ("EUR").
	Currency string
	// EventIDs are the ids of the assignment's events.
	EventIDs []string
}

// CommandData is implemented by every command's data type.
type CommandData interface {
	// Check lists the problems of the data itself (no Maventa state needed).
	Check(p *Problems)
}

// AssignmentCommandData is implemented by the commands about one assignment:
// CheckAgainst lists the problems given the assignment's current state.
type AssignmentCommandData interface {
	CommandData
	CheckAgainst(a CommandTarget, p *Problems)
}

// closedRefuses is the common rule: the agency takes no new collection events on a
// closed assignment (comments and credit losses are still accepted).
func closedRefuses(a CommandTarget, name string, p *Problems) {
	if a.Status == StatusClosed {
		p.Add("subject", fmt.Sprintf("assignment %s is closed: %s is not accepted on a closed assignment", a.ID, name))
	}
}

func currencyMatches(cur string, a CommandTarget, p *Problems) {
	if cur != "" && a.Currency != "" && !strings.EqualFold(cur, a.Currency) {
		p.Add("data.currency", fmt.Sprintf("%q is not the assignment's currency %q: amounts are in the assignment's currency", cur, a.Currency))
	}
}

// visma payer prefixes: payments made through Visma Amili (seed 003: "VISMA
// AMILI / VISMA FINANC") are reported by the agency, never as direct payments.
var agencyPayers = []string{"VISMA AMILI", "VISMA FINANC"}

// PaidCommand is the data of assignment.paid.
type PaidCommand struct {
	// Amount is the amount paid, exact, at most cents; negative marks a credit note used.
	Amount Amount `json:"amount"`
	// Currency, when given, must be the assignment's currency.
	Currency string `json:"currency,omitempty"`
	// BookedAt is the booking date, YYYY-MM-DD.
	BookedAt CommandDate `json:"booked_at"`
	// ArchiveNumber is the bank's archive reference, if any.
	ArchiveNumber string `json:"archive_number,omitempty"`
	// PayerName is the payer's name on the bank statement, if known; it is
	// checked, not sent.
	PayerName string `json:"payer_name,omitempty"`
}

// Check implements CommandData.
func (c PaidCommand) Check(p *Problems) {
	if d, err := c.Amount.Decimal(); err != nil {
		p.Add("data.amount", err.Error())
	} else if d.IsZero() {
		p.Add("data.amount", "must not be zero")
	}
	c.BookedAt.check(p, "data.booked_at", true)
	up := strings.ToUpper(strings.TrimSpace(c.PayerName))
	for _, pre := range agencyPayers {
		if strings.HasPrefix(up, pre) {
			p.Add("data.payer_name", fmt.Sprintf("%q is Visma Amili: payments by %s are reported by the agency itself and must not be reported as direct payments (seed 003)", c.PayerName, pre))
		}
	}
}

// CheckAgainst implements AssignmentCommandData.
func (c PaidCommand) CheckAgainst(a CommandTarget, p *Problems) {
	closedRefuses(a, "a payment", p)
	currencyMatches(c.Currency, a, p)
}

// CreditNoteCommand is the data of assignment.credit_note.
type CreditNoteCommand struct {
	// CreditNoteNumber is the credit note's number.
	CreditNoteNumber string `json:"credit_note_number"`
	// Amount is the credit sum, positive, exact, at most cents.
	Amount Amount `json:"amount"`
	// Currency, when given, must be the assignment's currency.
	Currency string `json:"currency,omitempty"`
}

// Check implements CommandData.
func (c CreditNoteCommand) Check(p *Problems) {
	if strings.TrimSpace(c.CreditNoteNumber) == "" {
		p.Add("data.credit_note_number", "is required")
	}
	if d, err := c.Amount.Decimal(); err != nil {
		p.Add("data.amount", err.Error())
	} else if d.Sign() <= 0 {
		p.Add("data.amount", fmt.Sprintf("%s: the credit sum must be positive (seed 003); to mark a credit note used, send assignment.paid with a negative amount", d))
	}
}

// CheckAgainst implements AssignmentCommandData.
func (c CreditNoteCommand) CheckAgainst(a CommandTarget, p *Problems) {
	closedRefuses(a, "a credit note", p)
	currencyMatches(c.Currency, a, p)
}

// CommentCommand is the data of assignment.comment.
type CommentCommand struct {
	// Text is the comment or question.
	Text string `json:"text"`
}

// maxText bounds free texts: Maventa publishes no limit; a megabyte is a mistake.
const maxText = 10000

// Check implements CommandData.
func (c CommentCommand) Check(p *Problems) { checkText(c.Text, "data.text", p) }

func checkText(s, field string, p *Problems) {
	switch {
	case strings.TrimSpace(s) == "":
		p.Add(field, "is required")
	case len(s) > maxText:
		p.Add(field, fmt.Sprintf("is %d bytes; at most %d", len(s), maxText))
	}
}

// CheckAgainst implements AssignmentCommandData: comments are accepted on any assignment.
func (c CommentCommand) CheckAgainst(CommandTarget, *Problems) {}

// DueDateChangeRequestCommand is the data of assignment.due_date_change_request.
type DueDateChangeRequestCommand struct {
	// DueDate is the requested due date, YYYY-MM-DD.
	DueDate CommandDate `json:"due_date"`
}

// Check implements CommandData.
func (c DueDateChangeRequestCommand) Check(p *Problems) { c.DueDate.check(p, "data.due_date", true) }

// CheckAgainst implements AssignmentCommandData.
func (c DueDateChangeRequestCommand) CheckAgainst(a CommandTarget, p *Problems) {
	closedRefuses(a, "a due date change request", p)
}

// CancelCommand is the data of assignment.cancel (none).
type CancelCommand struct{}

// Check implements CommandData.
func (CancelCommand) Check(*Problems) {}

// CheckAgainst implements AssignmentCommandData.
func (CancelCommand) CheckAgainst(a CommandTarget, p *Problems) {
	closedRefuses(a, "a cancellation", p)
}

// FreezeCommand is the data of assignment.freeze.
type FreezeCommand struct {
	// Frozen is true to suspend (the default when absent), false to end a suspension.
	Frozen *bool `json:"frozen,omitempty"`
	// EndDate is the suspension's last day, YYYY-MM-DD; today ends it early.
	EndDate CommandDate `json:"end_date"`
}

// IsFrozen is Frozen with its default (true).
func (c FreezeCommand) IsFrozen() bool { return c.Frozen == nil || *c.Frozen }

// Check implements CommandData.
func (c FreezeCommand) Check(p *Problems) { c.EndDate.check(p, "data.end_date", c.IsFrozen()) }

// CheckAgainst implements AssignmentCommandData: seed 003 allows a suspension only
// while legal collection has not started and the debtor is not found insolvent.
func (c FreezeCommand) CheckAgainst(a CommandTarget, p *Problems) {
	closedRefuses(a, "a suspension", p)
	switch a.CollectionStatus {
	case CollectionLegalCollection, CollectionRecoveryProceedings, CollectionLackOfMeans:
		p.Add("subject", fmt.Sprintf("assignment %s is in collection status %s: a suspension can be requested only before legal collection starts and while the debtor is not found insolvent (seed 003)", a.ID, a.CollectionStatus))
	}
}

// CreditLossCommand is the data of assignment.credit_loss (none).
type CreditLossCommand struct{}

// Check implements CommandData.
func (CreditLossCommand) Check(*Problems) {}

// CheckAgainst implements AssignmentCommandData: a credit loss may be booked on any assignment.
func (CreditLossCommand) CheckAgainst(CommandTarget, *Problems) {}

// MarkEventSeenCommand is the data of assignment.mark_event_seen.
type MarkEventSeenCommand struct {
	// EventID is the assignment event to mark seen.
	EventID string `json:"event_id"`
}

// Check implements CommandData.
func (c MarkEventSeenCommand) Check(p *Problems) {
	if strings.TrimSpace(c.EventID) == "" {
		p.Add("data.event_id", "is required")
	}
}

// CheckAgainst implements AssignmentCommandData: the event must be the assignment's.
func (c MarkEventSeenCommand) CheckAgainst(a CommandTarget, p *Problems) {
	if c.EventID != "" && !slices.Contains(a.EventIDs, c.EventID) {
		p.Add("data.event_id", fmt.Sprintf("event %s is not an event of assignment %s", c.EventID, a.ID))
	}
}

// Command is a decoded command envelope (CloudEvents 1.0, structured JSON).
type Command struct {
	// SpecVersion must be "1.0".
	SpecVersion string `json:"specversion"`
	// ID is the caller's id: the idempotency key (and the Nats-Msg-Id).
	ID string `json:"id"`
	// Source identifies the calling service (a URI-reference).
	Source string `json:"source"`
	// Type is the command's CloudEvents type (CommandDef.Type).
	Type string `json:"type"`
	// Subject is the target: an assignment id for assignment commands.
	Subject string `json:"subject"`
	// Time is when the caller issued the command (optional).
	Time *time.Time `json:"time,omitempty"`
	// DataContentType, when given, must be application/json.
	DataContentType string `json:"datacontenttype,omitempty"`
	// CompanyID is the Maventa company (extension companyid); it must match the subject's company token.
	CompanyID string `json:"companyid"`
	// CorrelationID is the caller's correlation id (extension correlationid), copied to the outcome.
	CorrelationID string `json:"correlationid,omitempty"`
	// Data is the command's data (CommandDef.DataType).
	Data json.RawMessage `json:"data,omitempty"`
}

// Marshal returns c as the structured-mode CloudEvent JSON to publish.
func (c Command) Marshal() ([]byte, error) {
	if c.SpecVersion == "" {
		c.SpecVersion = SpecVersion
	}
	if len(c.Data) == 0 {
		c.Data = json.RawMessage(`{}`)
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("events: marshal command: %w", err)
	}
	return b, nil
}

// maxIDLen bounds a command id: it becomes a KV key and a Nats-Msg-Id.
const maxIDLen = 200

// ParseCommand decodes a command published on natsSubject and checks the
// envelope and the data on their own (no Maventa state). The returned problems
// list everything wrong; the Command is returned as far as it could be read
// (its ID, when present, names the outcome). An error means the payload is not
// a JSON object at all: nothing can be answered about it.
func ParseCommand(body []byte, natsSubject string) (Command, CommandDef, CommandData, Problems, error) {
	var c Command
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&c); err != nil {
		return Command{}, CommandDef{}, nil, nil, fmt.Errorf("events: command is not a CloudEvents JSON object: %w", err)
	}
	var p Problems
	if c.SpecVersion != SpecVersion {
		p.Add("specversion", fmt.Sprintf("%q is not %q", c.SpecVersion, SpecVersion))
	}
	switch {
	case strings.TrimSpace(c.ID) == "":
		p.Add("id", "is required: it is the idempotency key, one per command")
	case len(c.ID) > maxIDLen:
		p.Add("id", fmt.Sprintf("is %d bytes; at most %d", len(c.ID), maxIDLen))
	}
	if c.Source == "" {
		p.Add("source", "is required (which service sends the command)")
	}
	if c.DataContentType != "" && c.DataContentType != DataContentType {
		p.Add("datacontenttype", fmt.Sprintf("%q is not %q", c.DataContentType, DataContentType))
	}
	if c.CompanyID == "" {
		p.Add("companyid", "is required (the Maventa company id)")
	}
	def, ok := LookupCommand(c.Type)
	if !ok {
		names := make([]string, len(allCommands))
		for i, d := range allCommands {
			names[i] = d.Type()
		}
		p.Add("type", fmt.Sprintf("%q is not a command; known: %s", c.Type, strings.Join(names, ", ")))
		return c, def, nil, p, nil
	}
	if want := def.Subject(c.CompanyID); natsSubject != "" && c.CompanyID != "" && natsSubject != want {
		p.Add("", fmt.Sprintf("published on %q but a %s command of company %s belongs on %q", natsSubject, def.Name, c.CompanyID, want))
	}
	if strings.TrimSpace(c.Subject) == "" {
		p.Add("subject", "is required: the "+def.SubjectIs)
	}
	data, dp := decodeCommandData(def, c.Data)
	p = append(p, dp...)
	if data != nil {
		data.Check(&p)
	}
	return c, def, data, p, nil
}

// decodeCommandData decodes raw into def's data type, naming unknown fields
// (a misspelt "ammount" must not be silently ignored) and mistyped ones.
func decodeCommandData(def CommandDef, raw json.RawMessage) (CommandData, Problems) {
	var p Problems
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		raw = json.RawMessage(`{}`)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		p.Add("data", "must be a JSON object")
		return nil, p
	}
	known := map[string]bool{}
	for i := range def.DataType.NumField() {
		name, _, _ := strings.Cut(def.DataType.Field(i).Tag.Get("json"), ",")
		known[name] = true
	}
	var names []string
	for k := range fields {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if !known[k] {
			p.Add("data."+k, "is not a field of "+def.Name)
		}
	}
	ptr := reflect.New(def.DataType)
	if err := json.Unmarshal(raw, ptr.Interface()); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			p.Add("data."+te.Field, fmt.Sprintf("must be a %s, not a JSON %s", te.Type, te.Value))
		} else {
			p.Add("data", err.Error())
		}
		return nil, p
	}
	return ptr.Elem().Interface().(CommandData), p
}
