package events

import "time"

// Outcome names a command's end; it is the metric attribute "outcome" too.
type Outcome string

// The outcomes of a command. Exactly one outcome event is published per command id.
const (
	OutcomeSucceeded Outcome = "succeeded"
	OutcomeRejected  Outcome = "rejected"
	OutcomeFailed    Outcome = "failed"
	OutcomeUnknown   Outcome = "outcome_unknown"
)

// CommandSucceeded is the data of command.succeeded.
type CommandSucceeded struct {
	// CommandID is the command's CloudEvents id.
	CommandID string `json:"command_id"`
	// Command is the command's name, e.g. "assignment.paid".
	Command string `json:"command"`
	// CommandSubject is the command's subject (the assignment id...).
	CommandSubject string `json:"command_subject"`
	// MaventaEventID is the assignment event Maventa created, when there is one.
	MaventaEventID string `json:"maventa_event_id,omitempty"`
	// MaventaMessageID is the message Maventa created, when there is one.
	MaventaMessageID string `json:"maventa_message_id,omitempty"`
	// MaventaTransferID is the invoice transfer Maventa created, when there is one.
	MaventaTransferID string `json:"maventa_transfer_id,omitempty"`
	// ReadBack is true when Maventa's answer was lost (timeout, 502, 504) and the
	// applied request was found by reading Maventa back.
	ReadBack bool `json:"read_back"`
	// ResolvedBy is set when an operator decided the outcome (command resolve)
	// after command.outcome_unknown.
	ResolvedBy string `json:"resolved_by,omitempty"`
}

// CommandRejected is the data of command.rejected: nothing was sent to Maventa.
type CommandRejected struct {
	// CommandID is the command's CloudEvents id.
	CommandID string `json:"command_id"`
	// Command is the command's name, or its CloudEvents type when unknown.
	Command string `json:"command"`
	// CommandSubject is the command's subject.
	CommandSubject string `json:"command_subject"`
	// Problems lists every problem found, each naming the field to fix.
	Problems []Problem `json:"problems"`
}

// CommandFailed is the data of command.failed: Maventa refused the request.
type CommandFailed struct {
	// CommandID is the command's CloudEvents id.
	CommandID string `json:"command_id"`
	// Command is the command's name.
	Command string `json:"command"`
	// CommandSubject is the command's subject.
	CommandSubject string `json:"command_subject"`
	// Status is Maventa's HTTP status (0 when no answer came, e.g. retries exhausted before sending).
	Status int `json:"status"`
	// Code is Maventa's machine-readable error code, if any.
	Code string `json:"code,omitempty"`
	// Message is Maventa's error message, or why the command could not be applied.
	Message string `json:"message"`
	// Details are Maventa's error details, if any.
	Details []string `json:"details,omitempty"`
	// ResolvedBy is set when an operator decided the outcome (command resolve).
	ResolvedBy string `json:"resolved_by,omitempty"`
}

// CommandOutcomeUnknown is the data of command.outcome_unknown: Maventa may or
// may not have applied the request, and reading back could not tell.
type CommandOutcomeUnknown struct {
	// CommandID is the command's CloudEvents id.
	CommandID string `json:"command_id"`
	// Command is the command's name.
	Command string `json:"command"`
	// CommandSubject is the command's subject.
	CommandSubject string `json:"command_subject"`
	// Error is the ambiguous answer (timeout, 502, 504, reset after sending).
	Error string `json:"error"`
	// Seen says what reading back found (e.g. "no new paid event by the company; 3 events before, 3 after").
	Seen string `json:"seen"`
}

func commandOutcomeType[T any](name, desc string) TypeDef {
	agg, ev := split(name)
	return TypeDef{Name: name, Aggregate: agg, Event: ev, Version: 1, DataType: typeOf[T](),
		Description: desc, From: "a command on stream " + CommandStreamName + " (see docs/commands.md)",
		SubjectIs: "the command's subject (the assignment id...)", IDKey: "the command id"}
}

// The command outcome event types. They carry the command's correlationid
// extension when the command had one.
var (
	TypeCommandSucceeded = commandOutcomeType[CommandSucceeded]("command.succeeded",
		"A command was applied at Maventa exactly once; carries what Maventa created. The facts it causes (the company's own assignment event, the agency's reaction) follow as the usual assignment events.")
	TypeCommandRejected = commandOutcomeType[CommandRejected]("command.rejected",
		"A command failed local validation; nothing was sent to Maventa. Lists every problem.")
	TypeCommandFailed = commandOutcomeType[CommandFailed]("command.failed",
		"Maventa refused a command (its status, code and message), or an operator resolved an unknown outcome as not applied.")
	TypeCommandOutcomeUnknown = commandOutcomeType[CommandOutcomeUnknown]("command.outcome_unknown",
		"Maventa's answer to a command was lost (timeout, 502, 504) and reading back could not show whether it was applied. It is not resent; an operator decides with `maventa-events command resolve`, which publishes the final command.succeeded or command.failed.")
)

// OutcomeType returns the event type of an outcome.
func OutcomeType(o Outcome) TypeDef {
	switch o {
	case OutcomeSucceeded:
		return TypeCommandSucceeded
	case OutcomeRejected:
		return TypeCommandRejected
	case OutcomeFailed:
		return TypeCommandFailed
	default:
		return TypeCommandOutcomeUnknown
	}
}

// NewCommandOutcome builds the outcome event of cmd with data (one of the
// Command* outcome types), decided at t. Its id is NewID(type name, command
// id, resolution): the same outcome of the same command always has the same
// id, so publishing it again after a crash is deduplicated. resolution is ""
// for the first outcome and "resolved" for an operator's decision after
// command.outcome_unknown.
func NewCommandOutcome(def TypeDef, companyID, commandID, subject, correlationID, resolution string, data any, t time.Time) (Event, error) {
	key := []string{commandID}
	if resolution != "" {
		key = append(key, resolution)
	}
	return New(def, Meta{CompanyID: companyID, Subject: subject, Time: t, Key: key, CorrelationID: correlationID}, data)
}
