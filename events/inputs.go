package events

import (
	"encoding/json"
	"time"
)

// The inputs of this package are what Maventa said, already decoded by package
// maventa (which owns the wire format and decides which field names it accepts):
// plain values, with Maventa's JSON where an event carries it as raw.

// AssignmentSnapshot is an assignment as read from the Receivables API (GET
// /v1/assignments/{id}) with its events: the input of assignment.opened and of
// the record's snapshot.
type AssignmentSnapshot struct {
	// ID is the assignment id.
	ID string
	// Status is open, closed or partially_closed.
	Status string
	// CollectionStatus is Maventa's collection_status (unknown, reminder_sent...).
	CollectionStatus string
	// ServiceLevel is as sent (default, premium, vip; case varies).
	ServiceLevel string
	// Debtor is the invoice's recipient.
	Debtor Debtor
	// DueDate and IssuedAt are YYYY-MM-DD as Maventa sends them (checked by
	// NewAssignmentOpened).
	DueDate  string
	IssuedAt string
	// Number is the original invoice number.
	Number string
	// InvoiceID, AgencyID and ReferenceNumber are the reference ids of type
	// invoice_id, agency_id and number ("" when absent).
	InvoiceID       string
	AgencyID        string
	ReferenceNumber string
	// Sum is the invoice total, Paid what was paid or credited so far.
	Sum  Decimal
	Paid Decimal
	// Currency is the ISO 4217 currency of the amounts.
	Currency string
	// CreatedAt and UpdatedAt are when Maventa created and last changed it.
	CreatedAt time.Time
	UpdatedAt time.Time
	// Events are the assignment's events, in Maventa's order (SortAssignmentFacts).
	Events []AssignmentFact
	// Raw is the assignment without its events, as Maventa's JSON.
	Raw json.RawMessage
}

// Ref returns what the events of a's assignment events need to know about a.
func (a AssignmentSnapshot) Ref(companyID string) AssignmentRef {
	return AssignmentRef{CompanyID: companyID, AssignmentID: a.ID, InvoiceID: a.InvoiceID,
		AgencyID: a.AgencyID, AgencyPartyIDs: AgencyPartyIDs(a.Events), Currency: a.Currency}
}

// AssignmentFact is one assignment event as read from the Receivables API (the
// "events" of an assignment, or GET /v1/events), with its data decoded.
type AssignmentFact struct {
	// ID is Maventa's assignment event id.
	ID string
	// Type is Maventa's event type (paid, close...).
	Type string
	// PartyID is the party that created the event, as Maventa gives it.
	PartyID string
	// CreatedAt is when Maventa recorded it, HappenedAt when it happened (nil: unknown).
	CreatedAt  time.Time
	HappenedAt *time.Time
	// Data is the event's data object as received (compact JSON; empty when absent).
	Data json.RawMessage
	// Values are the data's values this catalog uses.
	Values AssignmentValues
	// Raw is the whole assignment event as Maventa's JSON (an unrecognized
	// event carries it).
	Raw json.RawMessage
}

// AssignmentValues are the values of an assignment event's data, as package
// maventa reads them (Maventa does not publish most of the field names; it
// accepts each under every spelling seen or assumed). Which ones are set
// depends on the event type.
type AssignmentValues struct {
	// Amount is the amount of paid, credit_note, interest_paid, cash_discount
	// and credit_loss.
	Amount *Decimal
	// ArchiveNumber is the bank's archive reference of a payment.
	ArchiveNumber string
	// BookedOn is the booking date of a payment.
	BookedOn *Date
	// Text is a comment's text.
	Text string
	// DueDate is the requested or new due date.
	DueDate *Date
	// CreditNoteNumber is a credit note's number.
	CreditNoteNumber string
	// Frozen is a freeze's frozen flag.
	Frozen bool
	// EndDate is the end of a suspension.
	EndDate *Date
	// HappenedOn is the date a suspension was applied or ended.
	HappenedOn *Date
	// ServiceLevel is the new service level, as sent.
	ServiceLevel string
	// DeliveryStatus is a delivery_status event's status, as sent.
	DeliveryStatus string
	// Err is the first value that could not be read (a malformed amount or
	// date): the event's normalization fails with it.
	Err error
}

// InvoiceNotification is what Maventa said about one invoice's delivery
// outside a webhook: a sent invoice's status on the invoice list (polling's
// fallback for a lost DOCUMENTS.INVOICE webhook), with the values the webhook
// would have carried.
type InvoiceNotification struct {
	// CompanyID is the company that sent the invoice.
	CompanyID string
	// Action is the webhook action the status stands for: DELIVERED or FAILED.
	Action string
	// At is the listed invoice's updated_at.
	At time.Time
	// InvoiceID, InvoiceNumber, Destination, RecipientName and RecipientBID
	// are the listed invoice's, named as in the webhook's event_data.
	InvoiceID     string
	InvoiceNumber string
	Destination   string
	RecipientName string
	RecipientBID  string
	// ErrorMessage is Maventa's error text of a FAILED invoice.
	ErrorMessage string
	// Raw is the values above as the event_data of the webhook would be.
	Raw json.RawMessage
}

// Webhook is one Maventa webhook body (seed 004) as events takes it: the
// envelope checked and event_data's values read by package maventa.
type Webhook struct {
	// Name is the event name, e.g. DOCUMENTS.INVOICE.DELIVERED.
	Name string
	// CompanyID is the company the webhook is about.
	CompanyID string
	// At is event_timestamp.
	At time.Time
	// Body is the whole body as received: its WebhookHash is the event's id
	// key, and an unrecognized event carries it.
	Body []byte
	// Data is event_data as received (empty when absent or null).
	Data json.RawMessage
	// Document are the values of a DOCUMENTS.* webhook's event_data.
	Document DocumentValues
	// Network are the values of a NETWORKS.* webhook's event_data.
	Network NetworkValues
	// State is a COMPANIES.AUTHORIZATION.* webhook's event_data state.
	State string
	// Service is the service state of a receivables service webhook
	// (ServiceWebhookPrefix); nil when its event_data is not one.
	Service *ReceivablesService
}

// DocumentValues are the values of a DOCUMENTS.* webhook's event_data ("" when
// absent), each under its event_data name: invoice_id, invoice_number,
// destination, recipient_name, recipient_bid, origin, sender_name, sender_bid,
// error_message.
type DocumentValues struct {
	InvoiceID     string
	InvoiceNumber string
	// DocumentID is document_id, or id when there is none.
	DocumentID    string
	Destination   string
	RecipientName string
	RecipientBID  string
	Origin        string
	SenderName    string
	SenderBID     string
	ErrorMessage  string
}

// NetworkValues are the values of a NETWORKS.* webhook's event_data.
type NetworkValues struct {
	// Network is "" when event_data names none.
	Network string
	// ID is the profile registration id.
	ID string
	// Profiles is nil when event_data has no list of them.
	Profiles []string
}
