package events

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Timestamp is an instant, always written as RFC 3339 in UTC ("2020-04-15T21:01:18Z"),
// whatever offset Maventa sent it with.
type Timestamp struct{ time.Time }

// TimestampOf returns t as a Timestamp (in UTC).
func TimestampOf(t time.Time) Timestamp { return Timestamp{t.UTC()} }

// MarshalJSON writes the instant as an RFC 3339 UTC string.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	return json.Marshal(t.UTC().Format(time.RFC3339Nano))
}

// UnmarshalJSON reads an RFC 3339 string with any offset and keeps it in UTC.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	t.Time = v.UTC()
	return nil
}

// Date is a calendar date without time zone, "YYYY-MM-DD" (ISO 8601), as Maventa
// writes due dates, invoice dates and booking dates.
type Date string

// ParseDate accepts "YYYY-MM-DD" or an RFC 3339 timestamp (Maventa writes some
// dates as "2020-04-16T00:00:00Z"), whose calendar date as written is kept.
func ParseDate(s string) (Date, error) {
	s = strings.TrimSpace(s)
	if len(s) >= 10 {
		if _, err := time.Parse(time.DateOnly, s[:10]); err == nil && (len(s) == 10 || s[10] == 'T' || s[10] == ' ') {
			return Date(s[:10]), nil
		}
	}
	return "", fmt.Errorf("invalid date %q: want YYYY-MM-DD", s)
}

// Party is who created an assignment event, as Maventa's docs name them: the
// sender company, the collection agency (Visma Amili, Ropo) or Maventa itself.
type Party string

// The parties that create assignment events.
const (
	PartyCompany Party = "company"
	PartyAgency  Party = "agency"
	PartyMaventa Party = "maventa"
	PartyUnknown Party = "unknown"
)

// Reason classifies why an invoice delivery failed, so the ERP can react without
// parsing Maventa's text (see ClassifyDeliveryError).
type Reason string

// Delivery failure reasons.
const (
	// ReasonMissingAddress: RECEIVABLES-SERVICE code #5, the receiver's address is
	// incomplete (postal code not found). Fix the address and send a new invoice.
	ReasonMissingAddress Reason = "missing_address"
	// ReasonDuplicateOpenAssignment: code #6, an open assignment already exists for
	// the invoice number. Cancel it or use a new number.
	ReasonDuplicateOpenAssignment Reason = "duplicate_open_assignment"
	// ReasonDueDateTooClose: code #13, the due date is passed or within three days.
	ReasonDueDateTooClose Reason = "due_date_too_close"
	// ReasonOther: anything else; the error message says what.
	ReasonOther Reason = "other"
)

// ---- Invoices and other documents (DOCUMENTS.* webhooks) ----

// InvoiceDelivered is the data of invoice.delivered: Maventa completed sending an
// invoice to its route (webhook DOCUMENTS.INVOICE.DELIVERED).
type InvoiceDelivered struct {
	// InvoiceID is Maventa's invoice id.
	InvoiceID string `json:"invoice_id"`
	// InvoiceNumber is the invoice number the ERP gave.
	InvoiceNumber string `json:"invoice_number"`
	// Destination is the route the invoice went to (PEPPOL, BANK, EMAIL...).
	Destination string `json:"destination,omitempty"`
	// RecipientName and RecipientBID name the invoice's receiver (business id).
	RecipientName string `json:"recipient_name,omitempty"`
	RecipientBID  string `json:"recipient_bid,omitempty"`
	// WebhookEvent is Maventa's event name, e.g. "DOCUMENTS.INVOICE.DELIVERED".
	WebhookEvent string `json:"webhook_event"`
	// Raw is the webhook's event_data exactly as received.
	Raw json.RawMessage `json:"raw"`
}

// InvoiceDeliveryConfirmed is the data of invoice.delivery_confirmed: the receiving
// operator confirmed the delivery (DOCUMENTS.INVOICE.DELIVERY_CONFIRMED; only some
// routes send it).
type InvoiceDeliveryConfirmed InvoiceDelivered

// InvoiceDeliveryFailed is the data of invoice.delivery_failed: the invoice reached a
// final error (DOCUMENTS.INVOICE.FAILED), possibly after it was delivered.
type InvoiceDeliveryFailed struct {
	// InvoiceID is Maventa's invoice id.
	InvoiceID string `json:"invoice_id"`
	// InvoiceNumber is the invoice number the ERP gave.
	InvoiceNumber string `json:"invoice_number"`
	// Destination is the route the invoice was sent to.
	Destination string `json:"destination,omitempty"`
	// RecipientName and RecipientBID name the invoice's receiver (business id).
	RecipientName string `json:"recipient_name,omitempty"`
	RecipientBID  string `json:"recipient_bid,omitempty"`
	// ErrorMessage is Maventa's error text as received.
	ErrorMessage string `json:"error_message"`
	// Reason is ErrorMessage classified by ClassifyDeliveryError.
	Reason Reason `json:"reason" enum:"missing_address,duplicate_open_assignment,due_date_too_close,other"`
	// WebhookEvent is Maventa's event name.
	WebhookEvent string `json:"webhook_event"`
	// Raw is the webhook's event_data exactly as received.
	Raw json.RawMessage `json:"raw"`
}

// InvoiceReceived is the data of invoice.received: the company received an invoice
// (DOCUMENTS.INVOICE.RECEIVED).
type InvoiceReceived struct {
	// InvoiceID is Maventa's id of the received invoice.
	InvoiceID string `json:"invoice_id"`
	// InvoiceNumber is the sender's invoice number.
	InvoiceNumber string `json:"invoice_number"`
	// Origin is the network the invoice came from (PEPPOL, BANK, SCAN...).
	Origin string `json:"origin,omitempty"`
	// SenderName and SenderBID name the invoice's sender (business id).
	SenderName string `json:"sender_name,omitempty"`
	SenderBID  string `json:"sender_bid,omitempty"`
	// WebhookEvent is Maventa's event name.
	WebhookEvent string `json:"webhook_event"`
	// Raw is the webhook's event_data exactly as received.
	Raw json.RawMessage `json:"raw"`
}

// DocumentEvent is the data of the document.* types: a DOCUMENTS.<TYPE>.<ACTION>
// webhook about a document other than an invoice (order, voucher, reminder...).
// Maventa publishes no example of these payloads, so only the names are
// normalized and event_data is kept whole in Raw.
type DocumentEvent struct {
	// DocumentType is <TYPE> of the webhook name, e.g. "ORDER".
	DocumentType string `json:"document_type"`
	// Action is <ACTION>: DELIVERED, DELIVERY_CONFIRMED, FAILED or RECEIVED.
	Action string `json:"action"`
	// DocumentID is event_data's document_id, or id (assumed names), when present.
	DocumentID string `json:"document_id,omitempty"`
	// WebhookEvent is Maventa's event name.
	WebhookEvent string `json:"webhook_event"`
	// Raw is the webhook's event_data exactly as received.
	Raw json.RawMessage `json:"raw"`
}

// DocumentDelivered is the data of document.delivered (DOCUMENTS.<TYPE>.DELIVERED).
type DocumentDelivered DocumentEvent

// DocumentDeliveryConfirmed is the data of document.delivery_confirmed.
type DocumentDeliveryConfirmed DocumentEvent

// DocumentDeliveryFailed is the data of document.delivery_failed (DOCUMENTS.<TYPE>.FAILED).
type DocumentDeliveryFailed DocumentEvent

// DocumentReceived is the data of document.received (DOCUMENTS.<TYPE>.RECEIVED).
type DocumentReceived DocumentEvent

// ---- Company networks and authorization (NETWORKS.*, COMPANIES.* webhooks) ----

// NetworkChange is the data of the network.* types: a change of the company's
// registration in a network (NETWORKS.<NETWORK>.CREATED|ENABLED|DISABLED).
type NetworkChange struct {
	// Network is PEPPOL, BANK, VISMA, SCAN_DOCUMENTS...
	Network string `json:"network"`
	// Profiles are the document profiles registered (INVOICE_AND_CREDIT_NOTE, ORDER...).
	Profiles []string `json:"profiles"`
	// RegistrationID is the id of the network registration (event_data.id).
	RegistrationID string `json:"registration_id,omitempty"`
	// WebhookEvent is Maventa's event name.
	WebhookEvent string `json:"webhook_event"`
	// Raw is the webhook's event_data exactly as received.
	Raw json.RawMessage `json:"raw"`
}

// NetworkCreated is the data of network.created: a registration was requested.
type NetworkCreated NetworkChange

// NetworkEnabled is the data of network.enabled: the network is open.
type NetworkEnabled NetworkChange

// NetworkDisabled is the data of network.disabled: the network was closed.
type NetworkDisabled NetworkChange

// CompanyAuthorizationChanged is the data of company.authorization_changed: the
// company's KYC authorization state changed (COMPANIES.AUTHORIZATION.<STATE>).
type CompanyAuthorizationChanged struct {
	// State is the new authorization state.
	State string `json:"state" enum:"VERIFIED,UNVERIFIED,UNKNOWN"`
	// WebhookEvent is Maventa's event name.
	WebhookEvent string `json:"webhook_event"`
	// Raw is the webhook's event_data exactly as received.
	Raw json.RawMessage `json:"raw"`
}

// ---- Receivables services ----

// ReceivablesService is the data of the service.* types: the state of the
// company's receivables service with a collection agency, from the activation
// webhook or from GET /v2/services/<provider>/receivables.
type ReceivablesService struct {
	// Provider is the collection agency: "amili" or "ropo".
	Provider string `json:"provider" enum:"amili,ropo"`
	// ServiceType is Amili's service_type: "full" (Amili Kassavirta) or "express"
	// (Amili Perintä), when known.
	ServiceType string `json:"service_type,omitempty"`
	// Status is Maventa's status text as received (e.g. ACTIVE, PENDING, REJECTED).
	Status string `json:"status"`
	// IBAN and BIC are the agency's account (Amili: the vfsfi block) when known. The
	// ERP must add this IBAN to its consumer-invoicing SI (sender info) messages.
	IBAN string `json:"iban,omitempty"`
	// BIC is the bank code of IBAN.
	BIC string `json:"bic,omitempty"`
	// AccountNumber is the agency's domestic account number, when given.
	AccountNumber string `json:"account_number,omitempty"`
	// AccountableParty is "vfsfi" (payments go to Amili) or "company".
	AccountableParty string `json:"accountable_party,omitempty"`
	// ActivationURL is the KYC (Netvisor) link to show the signer, while pending.
	ActivationURL string `json:"activation_url,omitempty"`
	// Raw is the webhook event_data or API response as received, when there is one.
	Raw json.RawMessage `json:"raw,omitempty"`
}

// ServiceActivated is the data of service.activated: the agency activated the service.
type ServiceActivated ReceivablesService

// ServiceRejected is the data of service.rejected: the agency rejected the activation.
type ServiceRejected ReceivablesService

// ServicePending is the data of service.pending: activation awaits KYC signing or
// the agency's review.
type ServicePending ReceivablesService

// ---- Assignments ----

// Debtor is the customer an assignment is about.
type Debtor struct {
	// Name is the debtor's (invoice receiver's) name.
	Name string `json:"name"`
	// BID is the business id, when Maventa has one.
	BID string `json:"bid,omitempty"`
}

// AssignmentOpened is the data of assignment.opened: a snapshot of a new
// assignment (an invoice entered the agency's monitoring).
type AssignmentOpened struct {
	// AssignmentID is the Receivables API assignment id.
	AssignmentID string `json:"assignment_id"`
	// Status is the assignment's status when first seen.
	Status string `json:"status" enum:"open,closed,partially_closed"`
	// CollectionStatus is the collection status when first seen (unknown until a reminder).
	CollectionStatus string `json:"collection_status"`
	// ServiceLevel is default, premium or vip (Maventa's case varies).
	ServiceLevel string `json:"service_level,omitempty"`
	// Debtor is the customer the invoice was sent to.
	Debtor Debtor `json:"debtor"`
	// InvoiceID is the Maventa invoice id (reference_ids type invoice_id).
	InvoiceID string `json:"invoice_id,omitempty"`
	// InvoiceNumber is the number of the original invoice.
	InvoiceNumber string `json:"invoice_number"`
	// ReferenceNumber is the new payment reference number the agency put on the
	// invoice (reference_ids type number); the ERP needs it to match payments and
	// consumer e-invoice agreements.
	ReferenceNumber string `json:"reference_number,omitempty"`
	// AgencyID is the collection agency's id for the assignment (reference_ids type agency_id).
	AgencyID string `json:"agency_id,omitempty"`
	// Sum is the invoice total.
	Sum Decimal `json:"sum"`
	// Paid is the amount paid or credited so far.
	Paid Decimal `json:"paid"`
	// Currency is the ISO 4217 code of Sum and Paid.
	Currency string `json:"currency"`
	// DueDate is the (possibly changed) due date.
	DueDate Date `json:"due_date"`
	// IssuedAt is the invoice date.
	IssuedAt Date `json:"issued_at"`
	// CreatedAt is when Maventa created the assignment.
	CreatedAt Timestamp `json:"created_at"`
	// UpdatedAt is when the assignment last changed at Maventa.
	UpdatedAt Timestamp `json:"updated_at"`
	// Raw is the assignment as received, without its events.
	Raw json.RawMessage `json:"raw"`
}

// AssignmentEventCommon is what every assignment.<type> data carries besides its
// normalized fields: which Maventa assignment event it is, who created it, and the
// event's data exactly as Maventa sent it (Raw), so nothing is lost.
type AssignmentEventCommon struct {
	// AssignmentID is the Receivables API assignment id.
	AssignmentID string `json:"assignment_id"`
	// MaventaEventID is Maventa's id of the assignment event.
	MaventaEventID string `json:"maventa_event_id"`
	// EventType is Maventa's assignment event type ("paid", "freeze"...).
	EventType string `json:"event_type"`
	// Party is who created the event (see PartyFor).
	Party Party `json:"party" enum:"company,agency,maventa,unknown"`
	// PartyID is Maventa's party_id as received.
	PartyID string `json:"party_id,omitempty"`
	// InvoiceID is the Maventa invoice id of the assignment, when known.
	InvoiceID string `json:"invoice_id,omitempty"`
	// CreatedAt is when the event was recorded at Maventa.
	CreatedAt Timestamp `json:"created_at"`
	// HappenedAt is when the event happened, as the creator stated it.
	HappenedAt *Timestamp `json:"happened_at,omitempty"`
	// Raw is the event's data object as received.
	Raw json.RawMessage `json:"raw"`
}

// AssignmentPaid is the data of assignment.paid: a payment was reported (by the
// agency when the debtor paid it, or by the company for a direct payment). A
// negative amount marks a credit note as used (CreditNoteUsed).
type AssignmentPaid struct {
	// Amount is data.sum_paid.
	Amount Decimal `json:"amount"`
	// Currency is the assignment's currency (ISO 4217).
	Currency string `json:"currency"`
	// BookedOn is data.booked_at, the booking date.
	BookedOn *Date `json:"booked_on,omitempty"`
	// ArchiveNumber is the payment's bank archive number (data.archive_number).
	ArchiveNumber string `json:"archive_number,omitempty"`
	// CreditNoteUsed is true when Amount is negative: a credit note's assignment
	// was marked as used, not money received.
	CreditNoteUsed bool `json:"credit_note_used"`
	AssignmentEventCommon
}

// AssignmentClose is the data of assignment.close: the agency closed the assignment
// (fully paid, credited or cancelled); no further collection.
type AssignmentClose struct {
	AssignmentEventCommon
}

// AssignmentPartiallyClosed is the data of assignment.partially_closed: the invoice
// is paid but the agency still collects its fees from the debtor.
type AssignmentPartiallyClosed struct {
	AssignmentEventCommon
}

// AssignmentComment is the data of assignment.comment: a comment or question
// between the company and the agency.
type AssignmentComment struct {
	// Text is the comment (data.comment, or data.text / data.message; assumed names).
	Text string `json:"text,omitempty"`
	AssignmentEventCommon
}

// AssignmentDueDateChangeRequest is the data of assignment.due_date_change_request:
// the company asked for a new due date.
type AssignmentDueDateChangeRequest struct {
	// DueDate is the requested due date (data.due_date; assumed name).
	DueDate *Date `json:"due_date,omitempty"`
	AssignmentEventCommon
}

// AssignmentDueDateChanged is the data of assignment.due_date_changed: the agency
// accepted a due date change.
type AssignmentDueDateChanged struct {
	// DueDate is the new due date (data.due_date; assumed name).
	DueDate *Date `json:"due_date,omitempty"`
	AssignmentEventCommon
}

// AssignmentCreditNote is the data of assignment.credit_note: the company linked a
// credit note to the assignment (amount positive).
type AssignmentCreditNote struct {
	// CreditNoteNumber is the credit note's number (data.credit_note_number or
	// data.number; assumed names).
	CreditNoteNumber string `json:"credit_note_number,omitempty"`
	// Amount is the credited sum (data.sum or data.credit_sum; assumed names).
	Amount *Decimal `json:"amount,omitempty"`
	// Currency is the assignment's currency (ISO 4217).
	Currency string `json:"currency"`
	AssignmentEventCommon
}

// AssignmentCancel is the data of assignment.cancel: the company cancelled the
// agency's process (the agency then closes the assignment).
type AssignmentCancel struct {
	AssignmentEventCommon
}

// AssignmentFreeze is the data of assignment.freeze: the company asked to suspend
// collection until EndDate (or ended a suspension early).
type AssignmentFreeze struct {
	// Frozen is data.frozen: true to suspend.
	Frozen bool `json:"frozen"`
	// EndDate is data.end_date, when collection resumes.
	EndDate *Date `json:"end_date,omitempty"`
	AssignmentEventCommon
}

// AssignmentFreezeConfirmed is the data of assignment.freeze_confirmed: the agency
// applied a suspension.
type AssignmentFreezeConfirmed struct {
	// HappenedOn is data.happened_at, a date.
	HappenedOn *Date `json:"happened_on,omitempty"`
	// EndDate is data.end_date, when the suspension ends.
	EndDate *Date `json:"end_date,omitempty"`
	AssignmentEventCommon
}

// AssignmentUnfreezed is the data of assignment.unfreezed (Maventa's spelling): the
// suspension ended and collection resumes.
type AssignmentUnfreezed struct {
	// HappenedOn is data.happened_at, a date.
	HappenedOn *Date `json:"happened_on,omitempty"`
	AssignmentEventCommon
}

// AssignmentInterestPaid is the data of assignment.interest_paid: the agency paid
// interest accrued on the assignment.
type AssignmentInterestPaid struct {
	// Amount is the interest (data.sum_paid, data.sum or data.interest; assumed names).
	Amount *Decimal `json:"amount,omitempty"`
	// Currency is the assignment's currency (ISO 4217).
	Currency string `json:"currency"`
	AssignmentEventCommon
}

// AssignmentCashDiscount is the data of assignment.cash_discount: the debtor took a
// cash discount; paid + discount = sum.
type AssignmentCashDiscount struct {
	// Amount is the discount (data.sum, data.cash_discount or data.discount; assumed names).
	Amount *Decimal `json:"amount,omitempty"`
	// Currency is the assignment's currency (ISO 4217).
	Currency string `json:"currency"`
	AssignmentEventCommon
}

// AssignmentCollectionStep is the data of the agency's reminder and collection
// assignment events (reminder_sent ... credit_loss_suggestion): a step of the
// agency's process. CollectionStatus is the collection status Maventa's table
// associates with the event type (the status actually set is announced by
// assignment.collection_status_changed).
type AssignmentCollectionStep struct {
	// CollectionStatus is the collection status Maventa's table associates with the event type.
	CollectionStatus string `json:"collection_status"`
	AssignmentEventCommon
}

// AssignmentReminderSent is the data of assignment.reminder_sent: first reminder sent.
type AssignmentReminderSent AssignmentCollectionStep

// AssignmentSecondReminderSent is the data of assignment.second_reminder_sent.
type AssignmentSecondReminderSent AssignmentCollectionStep

// AssignmentCollectionStarted is the data of assignment.collection_started: first
// payment demand sent.
type AssignmentCollectionStarted AssignmentCollectionStep

// AssignmentSecondDemandSent is the data of assignment.second_demand_sent.
type AssignmentSecondDemandSent AssignmentCollectionStep

// AssignmentTrattaSent is the data of assignment.tratta_sent: a tratta (bill of
// exchange demand) was sent.
type AssignmentTrattaSent AssignmentCollectionStep

// AssignmentLegalCollectionStarted is the data of assignment.legal_collection_started:
// a summons application was filed.
type AssignmentLegalCollectionStarted AssignmentCollectionStep

// AssignmentApplicationForEnforcement is the data of
// assignment.application_for_enforcement: the claim went to the enforcement authority.
type AssignmentApplicationForEnforcement AssignmentCollectionStep

// AssignmentLackOfMeans is the data of assignment.lack_of_means: the enforcement
// authority found the debtor insolvent.
type AssignmentLackOfMeans AssignmentCollectionStep

// AssignmentPaymentPlan is the data of assignment.payment_plan: a payment plan was agreed.
type AssignmentPaymentPlan AssignmentCollectionStep

// AssignmentCreditLossSuggestion is the data of assignment.credit_loss_suggestion:
// the agency recommends booking a credit loss.
type AssignmentCreditLossSuggestion AssignmentCollectionStep

// AssignmentCreditLoss is the data of assignment.credit_loss: the company booked a
// credit loss (accounting only; collection continues and the collection status
// does not change).
type AssignmentCreditLoss struct {
	// Amount is data.sum when present (assumed name).
	Amount *Decimal `json:"amount,omitempty"`
	// Currency is the assignment's currency (ISO 4217).
	Currency string `json:"currency"`
	AssignmentEventCommon
}

// AssignmentServiceLevelChanged is the data of assignment.service_level_changed:
// the debtor is in (or moved between) the VIP / PREMIUM groups.
type AssignmentServiceLevelChanged struct {
	// ServiceLevel is data.service_level (assumed name), lower-cased.
	ServiceLevel string `json:"service_level,omitempty"`
	AssignmentEventCommon
}

// AssignmentDeliveryStatus is the data of assignment.delivery_status: Maventa's
// delivery state of the original invoice, collapsed by DeliveryStatusFilter (first
// DELIVERED, every FAILED, first DELIVERED after a FAILED).
type AssignmentDeliveryStatus struct {
	// Status is data.status (assumed name), upper-cased: DELIVERED or FAILED.
	Status string `json:"status"`
	AssignmentEventCommon
}

// StatusChange is the data of assignment.status_changed and
// assignment.collection_status_changed: a field of the assignment changed.
type StatusChange struct {
	// AssignmentID is the Receivables API assignment id.
	AssignmentID string `json:"assignment_id"`
	// InvoiceID is the Maventa invoice id of the assignment, when known.
	InvoiceID string `json:"invoice_id,omitempty"`
	// From is the value before the change.
	From string `json:"from"`
	// To is the value after the change.
	To string `json:"to"`
	// CauseEventType and CauseMaventaEventID name the assignment event that caused
	// the change, when it is known (empty when seen on a snapshot).
	CauseEventType      string `json:"cause_event_type,omitempty"`
	CauseMaventaEventID string `json:"cause_maventa_event_id,omitempty"`
	// Source is "event" when an assignment event caused the change, "snapshot"
	// when the assignment read from Maventa says so although no event seen does
	// (Maventa wins).
	Source string `json:"source" enum:"event,snapshot"`
}

// AssignmentStatusChanged is the data of assignment.status_changed (open, closed,
// partially_closed), emitted only when the status changes.
type AssignmentStatusChanged StatusChange

// AssignmentCollectionStatusChanged is the data of
// assignment.collection_status_changed, emitted only when it changes.
type AssignmentCollectionStatusChanged StatusChange

// ---- Messages ----

// MessageReceived is the data of message.received: a message in a message thread
// between the company and the agency (Receivables API messaging).
type MessageReceived struct {
	// ThreadID is the message thread id.
	ThreadID string `json:"thread_id"`
	// MessageID is the message id.
	MessageID string `json:"message_id"`
	// AssignmentID is the assignment the thread is about, when it is about one.
	AssignmentID string `json:"assignment_id,omitempty"`
	// Sender is who wrote the message, as Maventa names them.
	Sender string `json:"sender"`
	// Text is the message body.
	Text string `json:"text"`
	// SentAt is when the message was written.
	SentAt Timestamp `json:"sent_at"`
	// Raw is the message as received.
	Raw json.RawMessage `json:"raw"`
}

// ---- Anything else ----

// Unrecognized is the data of unrecognized: a webhook event name or an assignment
// event type this catalog does not know. It is published, never dropped, with the
// original data, so a new Maventa event can be handled without loss.
type Unrecognized struct {
	// Origin is "webhook" or "assignment_event".
	Origin string `json:"origin" enum:"webhook,assignment_event"`
	// Name is the webhook event name or the assignment event type.
	Name string `json:"name"`
	// AssignmentID is set for an assignment event.
	AssignmentID string `json:"assignment_id,omitempty"`
	// MaventaEventID is set for an assignment event.
	MaventaEventID string `json:"maventa_event_id,omitempty"`
	// Raw is the webhook body or the assignment event, whole, as received.
	Raw json.RawMessage `json:"raw"`
}
