package maventa

import (
	"encoding/json"
	"time"

	"github.com/maventa-bridge/maventa-events/events"
)

// Assignment is one invoice's life in a collection agency (Receivables API), as in
// seed 003's JSON example. Fields Maventa adds later are kept in Extra.
type Assignment struct {
	// ID is the assignment UUID.
	ID string `json:"id"`
	// Status is "open", "closed" or "partially_closed".
	Status string `json:"status"`
	// CollectionStatus is "unknown", "reminder_sent", "debt_collection", ... (see events.CollectionStatusAfter).
	CollectionStatus string `json:"collection_status"`
	// ServiceLevel is "default", "premium" or "vip" (case varies in Maventa's docs).
	ServiceLevel string `json:"service_level"`
	// Debtor is the invoice's recipient.
	Debtor Debtor `json:"debtor"`
	// DueDate is the (possibly changed) due date, YYYY-MM-DD.
	DueDate string `json:"due_date"`
	// IssuedAt is the original invoice date, YYYY-MM-DD.
	IssuedAt string `json:"issued_at"`
	// Number is the original invoice number.
	Number string `json:"number"`
	// Sum is the invoice total.
	Sum events.Decimal `json:"sum"`
	// Paid is the amount paid or credited so far.
	Paid events.Decimal `json:"paid"`
	// Currency is the invoice's ISO 4217 currency.
	Currency string `json:"currency"`
	// CreatedAt is when the assignment was created.
	CreatedAt *time.Time `json:"created_at"`
	// UpdatedAt is when the assignment last changed.
	UpdatedAt *time.Time `json:"updated_at"`
	// PartiallyClosedAt is set when the agency partially closed the assignment.
	PartiallyClosedAt *time.Time `json:"partially_closed_at"`
	// ClosedAt is set when the agency closed the assignment.
	ClosedAt *time.Time `json:"closed_at"`
	// ReferenceIDs link the assignment to the agency, the invoice and its reference number.
	ReferenceIDs []ReferenceID `json:"reference_ids"`
	// Events are present when fetching one assignment.
	Events []Event `json:"events,omitempty"`
	// Extra holds top-level fields this type does not declare.
	Extra map[string]json.RawMessage `json:",embed,inline"`
}

// Reference id types in Assignment.ReferenceIDs.
const (
	// ReferenceAgencyID is the collection agency's own id.
	ReferenceAgencyID = "agency_id"
	// ReferenceInvoiceID is the original invoice's Maventa UUID.
	ReferenceInvoiceID = "invoice_id"
	// ReferenceNumber is the new payment reference number the agency put on the invoice.
	ReferenceNumber = "number"
)

// Reference returns the value of the first reference id of type typ.
func (a Assignment) Reference(typ string) (string, bool) {
	for _, r := range a.ReferenceIDs {
		if r.Type == typ {
			return r.Value, true
		}
	}
	return "", false
}

// InvoiceID returns the Maventa invoice UUID this assignment was created from.
func (a Assignment) InvoiceID() (string, bool) { return a.Reference(ReferenceInvoiceID) }

// ReferenceNumber returns the payment reference number the agency uses.
func (a Assignment) ReferenceNumber() (string, bool) { return a.Reference(ReferenceNumber) }

// AgencyID returns the collection agency's id for this assignment.
func (a Assignment) AgencyID() (string, bool) { return a.Reference(ReferenceAgencyID) }

// Debtor is the customer owing an assignment.
type Debtor struct {
	// Name is the customer's name.
	Name string `json:"name"`
	// BID is the customer's business id, when known.
	BID string `json:"bid,omitempty"`
	// Extra holds fields this type does not declare.
	Extra map[string]json.RawMessage `json:",embed,inline"`
}

// ReferenceID is one typed identifier of an assignment.
type ReferenceID struct {
	// Type is "agency_id", "invoice_id" or "number".
	Type string `json:"type"`
	// Value is the identifier.
	Value string `json:"value"`
	// Extra holds fields this type does not declare.
	Extra map[string]json.RawMessage `json:",embed,inline"`
}

// Event is one assignment event (seed 003). Data's shape depends on Type; Fact
// reads it. Unknown types are kept as they are.
type Event struct {
	// ID is the event UUID.
	ID string `json:"id"`
	// AssignmentID is the assignment of the event, when Maventa includes it
	// (ASSUMED for GET /v1/events; absent in seed 003's nested example).
	AssignmentID string `json:"assignment_id,omitempty"`
	// Type is the event type, e.g. "paid" (see the EventType constants).
	Type EventType `json:"type"`
	// Data is the type specific payload.
	Data json.RawMessage `json:"data,omitempty"`
	// PartyID is the party (company or agency) that created the event.
	PartyID string `json:"party_id"`
	// Seens records who has seen the event and when.
	Seens []Seen `json:"seens"`
	// CreatedAt is when the event was recorded.
	CreatedAt *time.Time `json:"created_at"`
	// HappenedAt is when the event happened.
	HappenedAt *time.Time `json:"happened_at"`
	// Extra holds fields this type does not declare.
	Extra map[string]json.RawMessage `json:",embed,inline"`
}

// Seen is one "seen" mark on an event.
type Seen struct {
	// SeenAt is when the event was seen.
	SeenAt *time.Time `json:"seen_at"`
	// SeenBy names who saw it, e.g. "Visma Amili FI".
	SeenBy string `json:"seen_by"`
	// Extra holds fields this type does not declare.
	Extra map[string]json.RawMessage `json:",embed,inline"`
}
