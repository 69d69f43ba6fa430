package events

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// AssignmentRef identifies the assignment an assignment event belongs to, with
// what its normalized data needs: the invoice id, the agency id (to tell the
// party) and the currency of its amounts.
type AssignmentRef struct {
	// CompanyID is the Maventa company the assignment belongs to.
	CompanyID string
	// AssignmentID is the Receivables API assignment id.
	AssignmentID string
	// InvoiceID is reference_ids type invoice_id ("" if unknown).
	InvoiceID string
	// AgencyID is reference_ids type agency_id ("" if unknown).
	AgencyID string
	// AgencyPartyIDs are the party ids of the agency on this assignment (see
	// AgencyPartyIDs), to tell who created a paid or comment event.
	AgencyPartyIDs []string
	// Currency is the currency of the assignment's amounts.
	Currency string
}

// NewAssignmentOpened builds the assignment.opened event of an assignment seen for
// the first time. Its id key is the assignment id; time is the assignment's
// created_at and so is its sequence, so that it sorts before its own history; its
// status fields are the snapshot as read.
func NewAssignmentOpened(companyID string, a AssignmentSnapshot, tc TraceContext) (Event, error) {
	due, err := ParseDate(a.DueDate)
	if err != nil {
		return Event{}, fmt.Errorf("events: assignment %s due_date: %w", a.ID, err)
	}
	issued, err := ParseDate(a.IssuedAt)
	if err != nil {
		return Event{}, fmt.Errorf("events: assignment %s issued_at: %w", a.ID, err)
	}
	raw := a.Raw
	if len(raw) == 0 {
		raw = json.RawMessage(`{}`)
	}
	d := AssignmentOpened{AssignmentID: a.ID, Status: a.Status, CollectionStatus: a.CollectionStatus,
		ServiceLevel: strings.ToLower(a.ServiceLevel), Debtor: a.Debtor, InvoiceID: a.InvoiceID,
		InvoiceNumber: a.Number, ReferenceNumber: a.ReferenceNumber, AgencyID: a.AgencyID,
		Sum: a.Sum, Paid: a.Paid, Currency: a.Currency, DueDate: due, IssuedAt: issued,
		CreatedAt: TimestampOf(a.CreatedAt), UpdatedAt: TimestampOf(a.UpdatedAt), Raw: raw}
	return New(TypeAssignmentOpened, Meta{CompanyID: companyID, Subject: a.ID, Time: a.CreatedAt,
		RecordedAt: a.CreatedAt, Key: []string{a.ID}, TraceParent: tc.TraceParent, TraceState: tc.TraceState}, &d)
}

func eventTime(ev AssignmentFact) time.Time {
	if ev.HappenedAt != nil && !ev.HappenedAt.IsZero() {
		return *ev.HappenedAt
	}
	return ev.CreatedAt
}

// NewAssignmentEvent builds the event of one Maventa assignment event: the
// assignment.<type> event with its data normalized and the original data kept in
// raw, or unrecognized (with the whole assignment event) for a type the catalog does
// not know. Its id key is the assignment id and Maventa's assignment event id;
// time is happened_at (created_at when absent), sequence is created_at.
func NewAssignmentEvent(ref AssignmentRef, ev AssignmentFact, tc TraceContext) (Event, error) {
	m := Meta{CompanyID: ref.CompanyID, Subject: ref.AssignmentID, Time: eventTime(ev), RecordedAt: ev.CreatedAt,
		Key: []string{ref.AssignmentID, ev.ID}, MaventaEventID: ev.ID, TraceParent: tc.TraceParent, TraceState: tc.TraceState}
	def, ok := TypeForAssignmentEvent(ev.Type)
	if !ok {
		raw := ev.Raw
		if len(raw) == 0 {
			raw = json.RawMessage(`{}`)
		}
		return New(TypeUnrecognized, m, &Unrecognized{Origin: "assignment_event", Name: ev.Type,
			AssignmentID: ref.AssignmentID, MaventaEventID: ev.ID, Raw: raw})
	}
	data, err := normalizeAssignmentEvent(ref, ev)
	if err != nil {
		return Event{}, fmt.Errorf("events: assignment event %s (%s): %w", ev.ID, ev.Type, err)
	}
	return New(def, m, data)
}

func normalizeAssignmentEvent(ref AssignmentRef, ev AssignmentFact) (any, error) {
	raw := compact(ev.Data)
	if len(ev.Data) == 0 {
		raw = json.RawMessage(`{}`)
	}
	if ev.Values.Err != nil {
		return nil, ev.Values.Err
	}
	f := ev.Values
	c := AssignmentEventCommon{AssignmentID: ref.AssignmentID, MaventaEventID: ev.ID, EventType: ev.Type,
		Party: PartyFor(ev.Type, ev.PartyID, ref.CompanyID, ref.AgencyPartyIDs), PartyID: ev.PartyID,
		InvoiceID: ref.InvoiceID, CreatedAt: TimestampOf(ev.CreatedAt), Raw: raw}
	if ev.HappenedAt != nil && !ev.HappenedAt.IsZero() {
		t := TimestampOf(*ev.HappenedAt)
		c.HappenedAt = &t
	}
	step := func() AssignmentCollectionStep {
		s, _ := CollectionStatusOf(ev.Type)
		return AssignmentCollectionStep{CollectionStatus: s, AssignmentEventCommon: c}
	}
	var v any
	switch ev.Type {
	case "paid":
		p := AssignmentPaid{Currency: ref.Currency, ArchiveNumber: f.ArchiveNumber, BookedOn: f.BookedOn, AssignmentEventCommon: c}
		if f.Amount != nil {
			p.Amount = *f.Amount
		}
		p.CreditNoteUsed = p.Amount.Sign() < 0
		v = &p
	case "close":
		v = &AssignmentClose{c}
	case "partially_closed":
		v = &AssignmentPartiallyClosed{c}
	case "comment":
		v = &AssignmentComment{Text: f.Text, AssignmentEventCommon: c}
	case "due_date_change_request":
		v = &AssignmentDueDateChangeRequest{DueDate: f.DueDate, AssignmentEventCommon: c}
	case "due_date_changed":
		v = &AssignmentDueDateChanged{DueDate: f.DueDate, AssignmentEventCommon: c}
	case "credit_note":
		v = &AssignmentCreditNote{CreditNoteNumber: f.CreditNoteNumber, Amount: f.Amount, Currency: ref.Currency, AssignmentEventCommon: c}
	case "cancel":
		v = &AssignmentCancel{c}
	case "freeze":
		v = &AssignmentFreeze{Frozen: f.Frozen, EndDate: f.EndDate, AssignmentEventCommon: c}
	case "freeze_confirmed":
		v = &AssignmentFreezeConfirmed{HappenedOn: f.HappenedOn, EndDate: f.EndDate, AssignmentEventCommon: c}
	case "unfreezed":
		v = &AssignmentUnfreezed{HappenedOn: f.HappenedOn, AssignmentEventCommon: c}
	case "interest_paid":
		v = &AssignmentInterestPaid{Amount: f.Amount, Currency: ref.Currency, AssignmentEventCommon: c}
	case "cash_discount":
		v = &AssignmentCashDiscount{Amount: f.Amount, Currency: ref.Currency, AssignmentEventCommon: c}
	case "reminder_sent":
		s := AssignmentReminderSent(step())
		v = &s
	case "second_reminder_sent":
		s := AssignmentSecondReminderSent(step())
		v = &s
	case "collection_started":
		s := AssignmentCollectionStarted(step())
		v = &s
	case "second_demand_sent":
		s := AssignmentSecondDemandSent(step())
		v = &s
	case "tratta_sent", "tratta":
		s := AssignmentTrattaSent(step())
		v = &s
	case "legal_collection_started":
		s := AssignmentLegalCollectionStarted(step())
		v = &s
	case "application_for_enforcement":
		s := AssignmentApplicationForEnforcement(step())
		v = &s
	case "lack_of_means":
		s := AssignmentLackOfMeans(step())
		v = &s
	case "payment_plan":
		s := AssignmentPaymentPlan(step())
		v = &s
	case "credit_loss_suggestion":
		s := AssignmentCreditLossSuggestion(step())
		v = &s
	case "credit_loss":
		v = &AssignmentCreditLoss{Amount: f.Amount, Currency: ref.Currency, AssignmentEventCommon: c}
	case "service_level_changed":
		v = &AssignmentServiceLevelChanged{ServiceLevel: strings.ToLower(f.ServiceLevel), AssignmentEventCommon: c}
	case "delivery_status":
		v = &AssignmentDeliveryStatus{Status: strings.ToUpper(f.DeliveryStatus), AssignmentEventCommon: c}
	default:
		return nil, fmt.Errorf("no normalizer for %q", ev.Type)
	}
	return v, nil
}

// NewMessageReceived builds the message.received event of a message seen in an
// agency message thread. Its id key is the thread id and the message id; time is
// when the message was sent.
func NewMessageReceived(companyID string, m MessageReceived, tc TraceContext) (Event, error) {
	if len(m.Raw) == 0 {
		m.Raw = json.RawMessage(`{}`)
	}
	return New(TypeMessageReceived, Meta{CompanyID: companyID, Subject: m.ThreadID, Time: m.SentAt.Time,
		Key: []string{m.ThreadID, m.MessageID}, TraceParent: tc.TraceParent, TraceState: tc.TraceState}, &m)
}
