package events

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Assignment is an assignment as the Receivables API returns it (GET
// /v1/assignments/{id}), with Maventa's field names: the input of
// NewAssignmentOpened and the source of an AssignmentRef.
type Assignment struct {
	ID                string            `json:"id"`
	Status            string            `json:"status"`
	CollectionStatus  string            `json:"collection_status"`
	ServiceLevel      string            `json:"service_level"`
	Debtor            Debtor            `json:"debtor"`
	DueDate           string            `json:"due_date"`
	IssuedAt          string            `json:"issued_at"`
	Number            string            `json:"number"`
	Sum               Decimal           `json:"sum"`
	Paid              Decimal           `json:"paid"`
	Currency          string            `json:"currency"`
	CreatedAt         time.Time         `json:"created_at"`
	UpdatedAt         time.Time         `json:"updated_at"`
	PartiallyClosedAt *time.Time        `json:"partially_closed_at"`
	ClosedAt          *time.Time        `json:"closed_at"`
	ReferenceIDs      []ReferenceID     `json:"reference_ids"`
	Events            []AssignmentEvent `json:"events"`
	// Raw is the assignment as received, without its events (set by ParseAssignment).
	Raw json.RawMessage `json:"-"`
}

// ReferenceID is one of an assignment's reference ids: type agency_id (the
// agency's id), invoice_id (the Maventa invoice id) or number (the new payment
// reference number).
type ReferenceID struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// AssignmentEvent is one assignment event as the Receivables API returns it
// (the "events" of an assignment, or GET /v1/assignments/{id}/events).
type AssignmentEvent struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Data       json.RawMessage `json:"data"`
	PartyID    string          `json:"party_id"`
	CreatedAt  time.Time       `json:"created_at"`
	HappenedAt *time.Time      `json:"happened_at"`
	// Raw is the whole assignment event as received (set by UnmarshalJSON).
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes an assignment event and keeps its JSON in Raw.
func (e *AssignmentEvent) UnmarshalJSON(b []byte) error {
	type plain AssignmentEvent
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*e = AssignmentEvent(p)
	e.Raw = compact(b)
	return nil
}

// ParseAssignment decodes one assignment of the Receivables API.
func ParseAssignment(b []byte) (Assignment, error) {
	var a Assignment
	if err := json.Unmarshal(b, &a); err != nil {
		return Assignment{}, fmt.Errorf("events: assignment: %w", err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return Assignment{}, fmt.Errorf("events: assignment: %w", err)
	}
	delete(m, "events")
	raw, err := json.Marshal(m)
	if err != nil {
		return Assignment{}, fmt.Errorf("events: assignment: %w", err)
	}
	a.Raw = raw
	return a, nil
}

// Reference returns the value of the assignment's reference id of type typ ("" if none).
func (a Assignment) Reference(typ string) string {
	for _, r := range a.ReferenceIDs {
		if r.Type == typ {
			return r.Value
		}
	}
	return ""
}

// Ref returns what the events of a's assignment events need to know about a.
func (a Assignment) Ref(companyID string) AssignmentRef {
	return AssignmentRef{CompanyID: companyID, AssignmentID: a.ID, InvoiceID: a.Reference("invoice_id"),
		AgencyID: a.Reference("agency_id"), AgencyPartyIDs: AgencyPartyIDs(a.Events), Currency: a.Currency}
}

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
func NewAssignmentOpened(companyID string, a Assignment, tc TraceContext) (Event, error) {
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
		ServiceLevel: strings.ToLower(a.ServiceLevel), Debtor: a.Debtor, InvoiceID: a.Reference("invoice_id"),
		InvoiceNumber: a.Number, ReferenceNumber: a.Reference("number"), AgencyID: a.Reference("agency_id"),
		Sum: a.Sum, Paid: a.Paid, Currency: a.Currency, DueDate: due, IssuedAt: issued,
		CreatedAt: TimestampOf(a.CreatedAt), UpdatedAt: TimestampOf(a.UpdatedAt), Raw: raw}
	return New(TypeAssignmentOpened, Meta{CompanyID: companyID, Subject: a.ID, Time: a.CreatedAt,
		RecordedAt: a.CreatedAt, Key: []string{a.ID}, TraceParent: tc.TraceParent, TraceState: tc.TraceState}, &d)
}

func eventTime(ev AssignmentEvent) time.Time {
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
func NewAssignmentEvent(ref AssignmentRef, ev AssignmentEvent, tc TraceContext) (Event, error) {
	m := Meta{CompanyID: ref.CompanyID, Subject: ref.AssignmentID, Time: eventTime(ev), RecordedAt: ev.CreatedAt,
		Key: []string{ref.AssignmentID, ev.ID}, MaventaEventID: ev.ID, TraceParent: tc.TraceParent, TraceState: tc.TraceState}
	def, ok := TypeForAssignmentEvent(ev.Type)
	if !ok {
		raw := ev.Raw
		if len(raw) == 0 {
			b, err := json.Marshal(ev)
			if err != nil {
				return Event{}, err
			}
			raw = b
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

// fields reads an assignment event's data object leniently: Maventa's field names
// for most types are not published, so each value is looked up under a list of
// candidate names, the first present wins, and whatever is not understood stays
// in raw.
type fields map[string]json.RawMessage

func (f fields) find(keys ...string) (json.RawMessage, bool) {
	for _, k := range keys {
		if v, ok := f[k]; ok && string(v) != "null" {
			return v, true
		}
	}
	return nil, false
}

func (f fields) str(keys ...string) string {
	v, ok := f.find(keys...)
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return strings.Trim(string(v), `"`)
}

func (f fields) decimal(keys ...string) (*Decimal, error) {
	v, ok := f.find(keys...)
	if !ok {
		return nil, nil
	}
	var d Decimal
	if err := json.Unmarshal(v, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

func (f fields) date(keys ...string) (*Date, error) {
	s := f.str(keys...)
	if s == "" {
		return nil, nil
	}
	d, err := ParseDate(s)
	if err != nil {
		return nil, err
	}
	return &d, nil
}

func (f fields) boolean(keys ...string) bool {
	v, ok := f.find(keys...)
	if !ok {
		return false
	}
	var b bool
	if json.Unmarshal(v, &b) == nil {
		return b
	}
	s := strings.ToLower(strings.Trim(string(v), `"`))
	return s == "true" || s == "1"
}

func deliveryStatusOf(data json.RawMessage) string {
	var f fields
	_ = json.Unmarshal(data, &f)
	return strings.ToUpper(f.str("status", "delivery_status"))
}

func normalizeAssignmentEvent(ref AssignmentRef, ev AssignmentEvent) (any, error) {
	raw := compact(ev.Data)
	if len(ev.Data) == 0 {
		raw = json.RawMessage(`{}`)
	}
	var f fields
	if err := json.Unmarshal(raw, &f); err != nil {
		f = fields{} // not an object: nothing to normalize, raw keeps it
	}
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
	var err error
	must := func(d *Decimal, e error) *Decimal {
		if e != nil && err == nil {
			err = e
		}
		return d
	}
	mustDate := func(d *Date, e error) *Date {
		if e != nil && err == nil {
			err = e
		}
		return d
	}
	var v any
	switch ev.Type {
	case "paid":
		p := AssignmentPaid{Currency: ref.Currency, ArchiveNumber: f.str("archive_number"),
			BookedOn: mustDate(f.date("booked_at")), AssignmentEventCommon: c}
		if a := must(f.decimal("sum_paid", "sum")); a != nil {
			p.Amount = *a
		}
		p.CreditNoteUsed = p.Amount.Sign() < 0
		v = &p
	case "close":
		v = &AssignmentClose{c}
	case "partially_closed":
		v = &AssignmentPartiallyClosed{c}
	case "comment":
		v = &AssignmentComment{Text: f.str("comment", "text", "message"), AssignmentEventCommon: c}
	case "due_date_change_request":
		v = &AssignmentDueDateChangeRequest{DueDate: mustDate(f.date("due_date", "new_due_date")), AssignmentEventCommon: c}
	case "due_date_changed":
		v = &AssignmentDueDateChanged{DueDate: mustDate(f.date("due_date", "new_due_date")), AssignmentEventCommon: c}
	case "credit_note":
		v = &AssignmentCreditNote{CreditNoteNumber: f.str("credit_note_number", "number"),
			Amount: must(f.decimal("sum", "credit_sum", "sum_credited")), Currency: ref.Currency, AssignmentEventCommon: c}
	case "cancel":
		v = &AssignmentCancel{c}
	case "freeze":
		v = &AssignmentFreeze{Frozen: f.boolean("frozen"), EndDate: mustDate(f.date("end_date")), AssignmentEventCommon: c}
	case "freeze_confirmed":
		v = &AssignmentFreezeConfirmed{HappenedOn: mustDate(f.date("happened_at")), EndDate: mustDate(f.date("end_date")), AssignmentEventCommon: c}
	case "unfreezed":
		v = &AssignmentUnfreezed{HappenedOn: mustDate(f.date("happened_at")), AssignmentEventCommon: c}
	case "interest_paid":
		v = &AssignmentInterestPaid{Amount: must(f.decimal("sum_paid", "sum", "interest", "interest_paid")), Currency: ref.Currency, AssignmentEventCommon: c}
	case "cash_discount":
		v = &AssignmentCashDiscount{Amount: must(f.decimal("sum", "cash_discount", "discount")), Currency: ref.Currency, AssignmentEventCommon: c}
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
		v = &AssignmentCreditLoss{Amount: must(f.decimal("sum", "credit_loss")), Currency: ref.Currency, AssignmentEventCommon: c}
	case "service_level_changed":
		v = &AssignmentServiceLevelChanged{ServiceLevel: strings.ToLower(f.str("service_level", "level")), AssignmentEventCommon: c}
	case "delivery_status":
		v = &AssignmentDeliveryStatus{Status: strings.ToUpper(f.str("status", "delivery_status")), AssignmentEventCommon: c}
	default:
		return nil, fmt.Errorf("no normalizer for %q", ev.Type)
	}
	if err != nil {
		return nil, err
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
