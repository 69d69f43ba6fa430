package maventa

import (
	"encoding/json"
	"fmt"

	"github.com/maventa-bridge/maventa-events/events"
)

// EventType is an assignment event type (seed 003). Unknown types are valid values:
// Maventa may add types, and they must be kept, not rejected.
type EventType string

// Every assignment event type documented in seed 003.
const (
	EventComment                   EventType = "comment"
	EventPaid                      EventType = "paid"
	EventClose                     EventType = "close"
	EventPartiallyClosed           EventType = "partially_closed"
	EventDueDateChangeRequest      EventType = "due_date_change_request"
	EventDueDateChanged            EventType = "due_date_changed"
	EventCreditNote                EventType = "credit_note"
	EventCancel                    EventType = "cancel"
	EventFreeze                    EventType = "freeze"
	EventFreezeConfirmed           EventType = "freeze_confirmed"
	EventUnfreezed                 EventType = "unfreezed"
	EventInterestPaid              EventType = "interest_paid"
	EventCashDiscount              EventType = "cash_discount"
	EventReminderSent              EventType = "reminder_sent"
	EventSecondReminderSent        EventType = "second_reminder_sent"
	EventCollectionStarted         EventType = "collection_started"
	EventSecondDemandSent          EventType = "second_demand_sent"
	EventTrattaSent                EventType = "tratta_sent"
	EventLegalCollectionStarted    EventType = "legal_collection_started"
	EventApplicationForEnforcement EventType = "application_for_enforcement"
	EventLackOfMeans               EventType = "lack_of_means"
	EventPaymentPlan               EventType = "payment_plan"
	EventCreditLossSuggestion      EventType = "credit_loss_suggestion"
	EventCreditLoss                EventType = "credit_loss"
	EventServiceLevelChanged       EventType = "service_level_changed"
	EventDeliveryStatus            EventType = "delivery_status"
)

// Creator says which party may create an event type.
type Creator string

// Creators of assignment events.
const (
	// CreatorCompany: only the sender company.
	CreatorCompany Creator = "company"
	// CreatorAgency: only the collection agency (Visma Amili / Ropo).
	CreatorAgency Creator = "agency"
	// CreatorBoth: the company and the agency.
	CreatorBoth Creator = "both"
	// CreatorMaventa: only Maventa itself.
	CreatorMaventa Creator = "maventa"
)

// EventCreator returns who may create an event type (seed 003's table, kept
// in package events); false for a type Maventa does not document.
func EventCreator(t EventType) (Creator, bool) {
	ps := events.CreatorsOf(string(t))
	switch {
	case len(ps) == 0:
		return "", false
	case len(ps) > 1:
		return CreatorBoth, true
	case ps[0] == events.PartyCompany:
		return CreatorCompany, true
	case ps[0] == events.PartyAgency:
		return CreatorAgency, true
	}
	return CreatorMaventa, true
}

// CompanyMayCreate reports whether a company may POST an event of type t.
// Unknown types are refused: sending them would only earn a 4xx.
func CompanyMayCreate(t EventType) bool { return events.CompanyMayCreate(string(t)) }

// CompanyEventTypes returns, sorted, the event types a company may create.
func CompanyEventTypes() []EventType {
	var out []EventType
	for _, t := range events.AssignmentEventTypes() {
		if events.CompanyMayCreate(t) {
			out = append(out, EventType(t))
		}
	}
	return out
}

// PaidData is the data of a paid event. SumPaid is negative when marking a credit note used.
type PaidData struct {
	// SumPaid is the amount paid.
	SumPaid events.Decimal `json:"sum_paid"`
	// BookedAt is the booking date, YYYY-MM-DD.
	BookedAt string `json:"booked_at,omitempty"`
	// ArchiveNumber is the bank's archive reference.
	ArchiveNumber string `json:"archive_number,omitempty"`
	// Extra holds fields this type does not declare.
	Extra map[string]json.RawMessage `json:",embed,inline"`
}

// CreditNoteData is the data of a credit_note event. The field names
// "credit_note_number" and "sum" are ASSUMED (seed 003 only says "credit note number
// and the credit sum"); the sandbox and the event catalog assume the same.
type CreditNoteData struct {
	// Number is the credit note's number.
	Number string `json:"credit_note_number"`
	// Sum is the credited amount, positive.
	Sum events.Decimal `json:"sum"`
	// Extra holds fields this type does not declare.
	Extra map[string]json.RawMessage `json:",embed,inline"`
}

// FreezeData is the data of freeze, freeze_confirmed and unfreezed events.
type FreezeData struct {
	// Frozen is true to request suspension (freeze).
	Frozen *bool `json:"frozen,omitempty"`
	// EndDate is the suspension's last day, YYYY-MM-DD (freeze, freeze_confirmed).
	EndDate string `json:"end_date,omitempty"`
	// HappenedAt is the date the agency applied or ended it (freeze_confirmed, unfreezed).
	HappenedAt string `json:"happened_at,omitempty"`
	// Extra holds fields this type does not declare.
	Extra map[string]json.RawMessage `json:",embed,inline"`
}

// DueDateData is the data of due_date_change_request and due_date_changed events.
// The field name "due_date" is ASSUMED (not shown in seed 003).
type DueDateData struct {
	// DueDate is the requested or new due date, YYYY-MM-DD.
	DueDate string `json:"due_date"`
	// Extra holds fields this type does not declare.
	Extra map[string]json.RawMessage `json:",embed,inline"`
}

// CommentData is the data of a comment event. Which of "comment" or "message"
// Maventa uses is ASSUMED unknown; both are read, Text returns whichever is set.
type CommentData struct {
	// Comment is the comment text (ASSUMED name).
	Comment string `json:"comment,omitempty"`
	// Message is the comment text under its alternative ASSUMED name.
	Message string `json:"message,omitempty"`
	// Extra holds fields this type does not declare.
	Extra map[string]json.RawMessage `json:",embed,inline"`
}

// Text returns the comment text whichever field carried it.
func (d CommentData) Text() string {
	if d.Comment != "" {
		return d.Comment
	}
	return d.Message
}

// NewEvent is an event a company adds to an assignment (POST
// /v1/assignments/{id}/events). Build it with the NewXxxEvent helpers or set Data
// to any JSON-encodable value.
type NewEvent struct {
	// Type must be one the company may create (CompanyMayCreate).
	Type EventType `json:"type"`
	// Data is the type specific payload.
	Data any `json:"data,omitempty"`
}

// NewPaidEvent reports a direct payment (or, negative, marks a credit note used).
func NewPaidEvent(d PaidData) NewEvent { return NewEvent{Type: EventPaid, Data: d} }

// NewCreditNoteEvent links a credit note to an assignment.
func NewCreditNoteEvent(d CreditNoteData) NewEvent { return NewEvent{Type: EventCreditNote, Data: d} }

// NewDueDateChangeRequestEvent asks the agency to move the due date (YYYY-MM-DD).
func NewDueDateChangeRequestEvent(dueDate string) NewEvent {
	return NewEvent{Type: EventDueDateChangeRequest, Data: DueDateData{DueDate: dueDate}}
}

// NewCommentEvent sends a comment or question to the agency (field name ASSUMED "comment").
func NewCommentEvent(text string) NewEvent {
	return NewEvent{Type: EventComment, Data: CommentData{Comment: text}}
}

// NewCancelEvent cancels the collection of an assignment (not for credit losses).
func NewCancelEvent() NewEvent { return NewEvent{Type: EventCancel} }

// NewCreditLossEvent marks an assignment as a credit loss for accounting.
func NewCreditLossEvent() NewEvent { return NewEvent{Type: EventCreditLoss} }

// Validate checks, before any HTTP call, that a company may create this event.
func (n NewEvent) Validate() error {
	if n.Type == "" {
		return &ValidationError{Field: "event type", Problem: "empty"}
	}
	if !CompanyMayCreate(n.Type) {
		who, ok := EventCreator(n.Type)
		if !ok {
			return &ValidationError{Field: "event type", Problem: fmt.Sprintf("%q is not an event type a company may create (allowed: %v)", n.Type, CompanyEventTypes())}
		}
		return &ValidationError{Field: "event type", Problem: fmt.Sprintf("%q may only be created by %s (allowed for companies: %v)", n.Type, who, CompanyEventTypes())}
	}
	return nil
}
