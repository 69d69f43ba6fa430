package maventa

import (
	"encoding/json"
	"fmt"
	"slices"

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

// EventCreators is seed 003's table of who may create each event type.
var EventCreators = map[EventType]Creator{
	EventComment:                   CreatorBoth,
	EventPaid:                      CreatorBoth,
	EventClose:                     CreatorAgency,
	EventPartiallyClosed:           CreatorAgency,
	EventDueDateChangeRequest:      CreatorCompany,
	EventDueDateChanged:            CreatorAgency,
	EventCreditNote:                CreatorCompany,
	EventCancel:                    CreatorCompany,
	EventFreeze:                    CreatorCompany,
	EventFreezeConfirmed:           CreatorAgency,
	EventUnfreezed:                 CreatorAgency,
	EventInterestPaid:              CreatorAgency,
	EventCashDiscount:              CreatorAgency,
	EventReminderSent:              CreatorAgency,
	EventSecondReminderSent:        CreatorAgency,
	EventCollectionStarted:         CreatorAgency,
	EventSecondDemandSent:          CreatorAgency,
	EventTrattaSent:                CreatorAgency,
	EventLegalCollectionStarted:    CreatorAgency,
	EventApplicationForEnforcement: CreatorAgency,
	EventLackOfMeans:               CreatorAgency,
	EventPaymentPlan:               CreatorAgency,
	EventCreditLossSuggestion:      CreatorAgency,
	EventCreditLoss:                CreatorCompany,
	EventServiceLevelChanged:       CreatorAgency,
	EventDeliveryStatus:            CreatorMaventa,
}

// CompanyMayCreate reports whether a company may POST an event of type t.
// Unknown types are refused: sending them would only earn a 4xx.
func CompanyMayCreate(t EventType) bool {
	c, ok := EventCreators[t]
	return ok && (c == CreatorCompany || c == CreatorBoth)
}

// CompanyEventTypes returns, sorted, the event types a company may create.
func CompanyEventTypes() []EventType {
	var out []EventType
	for t := range EventCreators {
		if CompanyMayCreate(t) {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

// CollectionStatusSetBy is seed 003's table of the collection_status each agency
// event sets. credit_loss deliberately does not change it.
var CollectionStatusSetBy = map[EventType]string{
	EventReminderSent:              "reminder_sent",
	EventSecondReminderSent:        "reminder_sent",
	EventCollectionStarted:         "debt_collection",
	EventSecondDemandSent:          "debt_collection",
	EventTrattaSent:                "debt_collection",
	EventLegalCollectionStarted:    "legal_collection",
	EventApplicationForEnforcement: "recovery_proceedings",
	EventCreditLossSuggestion:      "debt_surveillance",
	EventLackOfMeans:               "lack_of_means",
	EventPaymentPlan:               "payment_plan",
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

// DeliveryStatusData is the data of a delivery_status event ("DELIVERED", "FAILED"...).
type DeliveryStatusData struct {
	// Status is the original invoice's delivery status.
	Status string `json:"status"`
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

// AmountData is the data of interest_paid and cash_discount events. The field name
// "sum" is ASSUMED (seed 003 gives no example).
type AmountData struct {
	// Sum is the interest paid or discount applied.
	Sum events.Decimal `json:"sum"`
	// Extra holds fields this type does not declare.
	Extra map[string]json.RawMessage `json:",embed,inline"`
}

// checkType returns an error when e is not one of types.
func (e Event) checkType(types ...EventType) error {
	if slices.Contains(types, e.Type) {
		return nil
	}
	return fmt.Errorf("maventa: event %s has type %q, want %v", e.ID, e.Type, types)
}

// PaidData decodes the data of a paid event.
func (e Event) PaidData() (PaidData, error) {
	var d PaidData
	if err := e.checkType(EventPaid); err != nil {
		return d, err
	}
	return d, decodeData(string(e.Type), e.Data, &d)
}

// CreditNoteData decodes the data of a credit_note event.
func (e Event) CreditNoteData() (CreditNoteData, error) {
	var d CreditNoteData
	if err := e.checkType(EventCreditNote); err != nil {
		return d, err
	}
	return d, decodeData(string(e.Type), e.Data, &d)
}

// FreezeData decodes the data of freeze, freeze_confirmed and unfreezed events.
func (e Event) FreezeData() (FreezeData, error) {
	var d FreezeData
	if err := e.checkType(EventFreeze, EventFreezeConfirmed, EventUnfreezed); err != nil {
		return d, err
	}
	return d, decodeData(string(e.Type), e.Data, &d)
}

// DueDateData decodes the data of due_date_change_request and due_date_changed events.
func (e Event) DueDateData() (DueDateData, error) {
	var d DueDateData
	if err := e.checkType(EventDueDateChangeRequest, EventDueDateChanged); err != nil {
		return d, err
	}
	return d, decodeData(string(e.Type), e.Data, &d)
}

// DeliveryStatusData decodes the data of a delivery_status event.
func (e Event) DeliveryStatusData() (DeliveryStatusData, error) {
	var d DeliveryStatusData
	if err := e.checkType(EventDeliveryStatus); err != nil {
		return d, err
	}
	return d, decodeData(string(e.Type), e.Data, &d)
}

// CommentData decodes the data of a comment event.
func (e Event) CommentData() (CommentData, error) {
	var d CommentData
	if err := e.checkType(EventComment); err != nil {
		return d, err
	}
	return d, decodeData(string(e.Type), e.Data, &d)
}

// AmountData decodes the data of interest_paid and cash_discount events.
func (e Event) AmountData() (AmountData, error) {
	var d AmountData
	if err := e.checkType(EventInterestPaid, EventCashDiscount); err != nil {
		return d, err
	}
	return d, decodeData(string(e.Type), e.Data, &d)
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

// NewFreezeEvent requests a suspension of collection until endDate (YYYY-MM-DD).
func NewFreezeEvent(endDate string) NewEvent {
	t := true
	return NewEvent{Type: EventFreeze, Data: FreezeData{Frozen: &t, EndDate: endDate}}
}

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
		who, ok := EventCreators[n.Type]
		if !ok {
			return &ValidationError{Field: "event type", Problem: fmt.Sprintf("%q is not an event type a company may create (allowed: %v)", n.Type, CompanyEventTypes())}
		}
		return &ValidationError{Field: "event type", Problem: fmt.Sprintf("%q may only be created by %s (allowed for companies: %v)", n.Type, who, CompanyEventTypes())}
	}
	return nil
}
