package sandbox

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Invoice statuses as GET /v1/invoices shows them.
const (
	InvoiceSent   = "SENT"
	InvoiceFailed = "FAILED"
)

// Send error texts of Amili Kassavirta, verbatim from seed 003. ErrTextPostalCode
// takes the city (upper case) and the postal code; ErrTextDuplicate the number.
const (
	ErrTextPostalCode = "SEND ERROR (REASON: RECEIVABLES-SERVICE: Postal code for %s %s not found (code #5))."
	ErrTextDuplicate  = "SEND ERROR (REASON: RECEIVABLES-SERVICE: An assignment for this invoice number %s already exists and is still open. If you want to open a new assignment for this invoice number, you must first cancel the existing one (code #6 ...))."
	ErrTextDueDate    = "SEND ERROR (REASON: RECEIVABLES-SERVICE: The due date for the invoice is within three (3) days or has already passed (code #13))."
)

// InvoiceSpec is an invoice the company sends through Maventa.
type InvoiceSpec struct {
	// ID is the invoice UUID; generated when empty.
	ID     string `json:"id,omitempty"`
	Number string `json:"number"`
	// Date is the invoice date (YYYY-MM-DD); default today.
	Date string `json:"date,omitempty"`
	// DueDate is YYYY-MM-DD; default today + 14 days.
	DueDate string `json:"due_date,omitempty"`
	Sum     Amount `json:"sum"`
	// Currency defaults to EUR. Other currencies bypass Amili Kassavirta.
	Currency      string `json:"currency,omitempty"`
	RecipientName string `json:"recipient_name"`
	RecipientBID  string `json:"recipient_bid,omitempty"`
	Street        string `json:"street"`
	PostalCode    string `json:"postal_code"`
	City          string `json:"city"`
	// Destination is the route (default "PEPPOL").
	Destination string `json:"destination,omitempty"`
	// DeliveryConfirmed also fires DOCUMENTS.INVOICE.DELIVERY_CONFIRMED.
	DeliveryConfirmed bool `json:"delivery_confirmed,omitempty"`
}

// InvoiceResult is what happened to a sent invoice.
type InvoiceResult struct {
	InvoiceID    string `json:"invoice_id"`
	Status       string `json:"status"` // SENT or FAILED
	ErrorMessage string `json:"error_message,omitempty"`
	AssignmentID string `json:"assignment_id,omitempty"`
}

var finnishPostalCode = regexp.MustCompile(`^\d{5}$`)

// SendInvoice sends an invoice the Amili Kassavirta way: the receivables service
// validates it (codes #5, #13, #6); a failing invoice becomes FAILED with the
// exact error text and DOCUMENTS.INVOICE.FAILED fires; otherwise an assignment is
// created, DOCUMENTS.INVOICE.DELIVERED fires and Maventa adds a delivery_status
// DELIVERED event. A validation failure is a result, not an error; errors are
// for unknown companies and malformed specs.
func (s *Sandbox) SendInvoice(companyID string, spec InvoiceSpec) (InvoiceResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sendInvoiceLocked(companyID, spec)
}

func (s *Sandbox) sendInvoiceLocked(companyID string, spec InvoiceSpec) (InvoiceResult, error) {
	if _, err := s.company(companyID); err != nil {
		return InvoiceResult{}, err
	}
	now := s.now()
	today := now.Format(time.DateOnly)
	if spec.ID == "" {
		spec.ID = s.newIDLocked()
	}
	if _, dup := s.st.invoices[spec.ID]; dup {
		return InvoiceResult{}, fmt.Errorf("invoice %s already exists: %w", spec.ID, ErrInvalid)
	}
	if spec.Number == "" {
		return InvoiceResult{}, fmt.Errorf("invoice number is required: %w", ErrInvalid)
	}
	if spec.Date == "" {
		spec.Date = today
	}
	if spec.DueDate == "" {
		spec.DueDate = now.AddDate(0, 0, 14).Format(time.DateOnly)
	}
	due, err := time.Parse(time.DateOnly, spec.DueDate)
	if err != nil {
		return InvoiceResult{}, fmt.Errorf("due_date: %w: %w", ErrInvalid, err)
	}
	if _, err := time.Parse(time.DateOnly, spec.Date); err != nil {
		return InvoiceResult{}, fmt.Errorf("date: %w: %w", ErrInvalid, err)
	}
	if spec.Currency == "" {
		spec.Currency = "EUR"
	}
	if spec.Destination == "" {
		spec.Destination = "PEPPOL"
	}
	inv := &Invoice{ID: spec.ID, Number: spec.Number, Status: InvoiceSent, Date: spec.Date, DateDue: spec.DueDate,
		Sum: spec.Sum, Currency: spec.Currency, RecipientName: spec.RecipientName, RecipientBID: spec.RecipientBID,
		Destination: spec.Destination, CreatedAt: now, UpdatedAt: now, companyID: companyID, seq: s.st.nextSeq()}
	s.st.invoices[inv.ID] = inv

	routed := spec.Currency == "EUR" && (!s.cfg.StrictActivation || s.serviceActiveLocked(companyID, ProviderAmili))
	if routed {
		if msg := s.validateKassavirtaLocked(companyID, spec, due, now); msg != "" {
			inv.Status, inv.ErrorMessage = InvoiceFailed, msg
			s.emitAtLocked(EventInvoiceFailed, companyID, inv.UpdatedAt, s.invoiceData(inv, true))
			return InvoiceResult{InvoiceID: inv.ID, Status: inv.Status, ErrorMessage: msg}, nil
		}
		a := s.createAssignmentLocked(companyID, inv, spec)
		inv.assignmentID = a.ID
	}
	s.emitAtLocked(EventInvoiceDelivered, companyID, inv.UpdatedAt, s.invoiceData(inv, false))
	if spec.DeliveryConfirmed {
		s.emitAtLocked(EventInvoiceDeliveryConfirmed, companyID, inv.UpdatedAt, s.invoiceData(inv, false))
	}
	return InvoiceResult{InvoiceID: inv.ID, Status: inv.Status, AssignmentID: inv.assignmentID}, nil
}

func (s *Sandbox) invoiceData(inv *Invoice, failed bool) map[string]any {
	d := map[string]any{
		"invoice_id": inv.ID, "invoice_number": inv.Number, "destination": inv.Destination,
		"recipient_name": inv.RecipientName, "recipient_bid": inv.RecipientBID,
	}
	if failed {
		d["error_message"] = inv.ErrorMessage
	}
	return d
}

// validateKassavirtaLocked returns the send error text, or "" when the invoice passes.
func (s *Sandbox) validateKassavirtaLocked(companyID string, spec InvoiceSpec, due, now time.Time) string {
	if strings.TrimSpace(spec.Street) == "" || strings.TrimSpace(spec.City) == "" || !finnishPostalCode.MatchString(spec.PostalCode) {
		return fmt.Sprintf(ErrTextPostalCode, strings.ToUpper(strings.TrimSpace(spec.City)), spec.PostalCode)
	}
	todayMidnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	if due.Before(todayMidnight.AddDate(0, 0, 3)) {
		return ErrTextDueDate
	}
	for _, a := range s.st.assignments {
		if a.companyID != companyID || a.Number != spec.Number || a.IssuedAt != spec.Date {
			continue
		}
		// Seed 003: same number and date is allowed only when the earlier
		// assignment is closed without payments or credit notes.
		if a.Status != StatusClosed || !a.Paid.IsZero() {
			return fmt.Sprintf(ErrTextDuplicate, spec.Number)
		}
	}
	return ""
}

func (s *Sandbox) createAssignmentLocked(companyID string, inv *Invoice, spec InvoiceSpec) *Assignment {
	now := s.now()
	a := &Assignment{
		ID: s.newIDLocked(), Status: StatusOpen, CollectionStatus: "unknown", ServiceLevel: "default",
		Debtor: Debtor{Name: spec.RecipientName, BID: spec.RecipientBID}, DueDate: spec.DueDate, IssuedAt: spec.Date,
		Number: spec.Number, Sum: spec.Sum, Currency: spec.Currency, CreatedAt: now, UpdatedAt: now,
		companyID: companyID, provider: ProviderAmili, invoiceID: inv.ID, seq: s.st.nextSeq(),
	}
	ref := fmt.Sprintf("%d", 100000000000+s.rng.Int64N(899999999999))
	a.ReferenceIDs = []ReferenceID{
		{Type: "agency_id", Value: s.newIDLocked()},
		{Type: "invoice_id", Value: inv.ID},
		{Type: "number", Value: ref},
	}
	a.Events = []*Event{}
	s.st.assignments[a.ID] = a
	s.appendEventLocked(a, PartyMaventa, "delivery_status", map[string]any{FieldDeliveryStatus: "DELIVERED"}, time.Time{})
	if lvl := s.st.serviceLevels[companyID][spec.RecipientBID]; spec.RecipientBID != "" && (lvl == "vip" || lvl == "premium") {
		s.agencyLocked(a, "service_level_changed", map[string]any{FieldServiceLevel: lvl}, time.Time{})
	}
	return a
}

// FailDelivery puts a sent invoice into the error state after sending, as a
// receiving operator can days later: DOCUMENTS.INVOICE.FAILED fires and, when the
// invoice has an assignment, Maventa adds a delivery_status FAILED event.
func (s *Sandbox) FailDelivery(invoiceID, errorMessage string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, ok := s.st.invoices[invoiceID]
	if !ok {
		return fmt.Errorf("invoice %s: %w", invoiceID, ErrNotFound)
	}
	inv.Status, inv.ErrorMessage, inv.UpdatedAt = InvoiceFailed, errorMessage, s.now()
	if a, ok := s.st.assignments[inv.assignmentID]; ok {
		s.appendEventLocked(a, PartyMaventa, "delivery_status", map[string]any{FieldDeliveryStatus: "FAILED"}, time.Time{})
	}
	s.emitAtLocked(EventInvoiceFailed, inv.companyID, inv.UpdatedAt, s.invoiceData(inv, true))
	return nil
}

// Invoice returns a sent invoice.
func (s *Sandbox) Invoice(id string) (Invoice, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, ok := s.st.invoices[id]
	if !ok {
		return Invoice{}, fmt.Errorf("invoice %s: %w", id, ErrNotFound)
	}
	return *inv, nil
}

// Assignment returns a snapshot of an assignment with its events (newest first).
func (s *Sandbox) Assignment(id string) (*Assignment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.st.assignments[id]
	if !ok {
		return nil, fmt.Errorf("assignment %s: %w", id, ErrNotFound)
	}
	return copyAssignment(a, true), nil
}

// AddAgencyEvent adds an event as Visma Amili (or, for delivery_status, as
// Maventa) and applies its rules. Any type is accepted, including unknown ones,
// so that clients can be tested against events they do not know.
func (s *Sandbox) AddAgencyEvent(assignmentID, typ string, data map[string]any, happenedAt time.Time) (*Event, error) {
	party := PartyAgency
	if typ == "delivery_status" {
		party = PartyMaventa
	}
	return s.addEvent(assignmentID, party, typ, data, happenedAt)
}

// AddCompanyEvent adds an event as the company, with the same validation as
// POST /v1/assignments/{id}/events.
func (s *Sandbox) AddCompanyEvent(assignmentID, typ string, data map[string]any, happenedAt time.Time) (*Event, error) {
	return s.addEvent(assignmentID, PartyCompany, typ, data, happenedAt)
}

func (s *Sandbox) addEvent(assignmentID string, party Party, typ string, data map[string]any, happenedAt time.Time) (*Event, error) {
	if typ == "" {
		return nil, fmt.Errorf("event type is required: %w", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.st.assignments[assignmentID]
	if !ok {
		return nil, fmt.Errorf("assignment %s: %w", assignmentID, ErrNotFound)
	}
	ev, err := s.addEventLocked(a, party, typ, data, happenedAt)
	if err != nil {
		return nil, err
	}
	return copyEvent(ev), nil
}

// SetServiceLevel sets a customer's service level as PATCH /v1/service_levels/{bid} does.
func (s *Sandbox) SetServiceLevel(companyID, bid, level string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.setServiceLevelLocked(companyID, bid, level)
}

// ReceiveInvoice simulates an invoice arriving for the company: it fires
// DOCUMENTS.INVOICE.RECEIVED with seed 004's payload and returns the invoice id.
func (s *Sandbox) ReceiveInvoice(companyID, number, senderName, senderBID, origin string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.company(companyID); err != nil {
		return "", err
	}
	if origin == "" {
		origin = "PEPPOL"
	}
	id := s.newIDLocked()
	s.emitLocked("DOCUMENTS.INVOICE.RECEIVED", companyID, map[string]any{
		"invoice_id": id, "invoice_number": number, "origin": origin, "sender_name": senderName, "sender_bid": senderBID,
	})
	return id, nil
}
