package maventa

import (
	"context"
	"encoding/json"
	"net/http"
)

// IsAmbiguous reports whether a write that failed with err may nevertheless
// have been applied by Maventa: the request was sent and the answer lost or
// unclear (a timeout, a connection reset after sending, 500, 502, 504, 408).
// Such a write must not be sent again blindly; the caller reads Maventa back
// (the assignment's events, the thread's messages, the transfer's state) and
// looks for what the write would have created. Refusals that certainly did not
// apply (429, 503, a connection never made) are not ambiguous: the client
// resends those itself (IsSafeToResend).
func IsAmbiguous(err error) bool {
	return IsRetryable(err) && !IsSafeToResend(err)
}

// Invoice transfers to collection (AX API v2). Seed 001 names the endpoints;
// seed 002 lists the Amili Perintä v2 body's fields (collection_type,
// receivables_type, amounts.capital_amount / reminder_amount, payers with main
// debtor and co-debtors and full addresses, assignment_summary, reminder_date)
// but not their exact shape: the nesting of payers and addresses below is
// ASSUMED, kept in these types only. The deprecated v1 Amili transfer
// (POST /v1/invoices/{id}/assignment, shut down in summer 2027) is not offered.

// AmiliTransfer is the body of POST /v2/invoices/{id}/assignment/amili (Amili Perintä v2).
type AmiliTransfer struct {
	// CollectionType is Amili's collection type (values not published).
	CollectionType string `json:"collection_type"`
	// ReceivablesType is b2b, b2c, b2b_rental or b2c_rental.
	ReceivablesType string `json:"receivables_type"`
	// Amounts are the capital and reminder amounts.
	Amounts TransferAmounts `json:"amounts"`
	// Payers are the main debtor and any co-debtors.
	Payers []TransferPayer `json:"payers"`
	// AssignmentSummary describes what the claim is about.
	AssignmentSummary string `json:"assignment_summary,omitempty"`
	// ReminderDate is when the debtor was last reminded, YYYY-MM-DD.
	ReminderDate string `json:"reminder_date,omitempty"`
}

// TransferAmounts are the amounts of an Amili transfer, JSON numbers as Maventa writes amounts.
type TransferAmounts struct {
	CapitalAmount  json.Number `json:"capital_amount"`
	ReminderAmount json.Number `json:"reminder_amount,omitempty"`
}

// TransferPayer is a debtor of an Amili transfer (shape ASSUMED).
type TransferPayer struct {
	// Type is "main_debtor" or "co_debtor".
	Type string `json:"type"`
	// Name is the person's or company's name.
	Name string `json:"name"`
	// BusinessID is a company's business id (b2b).
	BusinessID string `json:"business_id,omitempty"`
	// Email and Phone reach the debtor, when known.
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
	// Address is the full postal address.
	Address TransferAddress `json:"address"`
}

// TransferAddress is a debtor's postal address.
type TransferAddress struct {
	Street     string `json:"street"`
	PostalCode string `json:"postal_code"`
	City       string `json:"city"`
	Country    string `json:"country"`
}

// GetInvoice fetches one invoice (GET /v1/invoices/{id}).
func (c *Client) GetInvoice(ctx context.Context, companyID, invoiceID string) (Invoice, error) {
	var out Invoice
	_, err := c.do(ctx, companyID, c.ax(c.cfg.Scopes.Invoices, http.MethodGet, "/v1/invoices/"+escape(invoiceID), nil, nil, &out))
	return out, err
}

// TransferToRopo transfers an invoice to Ropo's reminder and collection service
// (POST /v2/invoices/{id}/assignment/ropo; no body is documented, none is sent).
func (c *Client) TransferToRopo(ctx context.Context, companyID, invoiceID string) (InvoiceAssignment, error) {
	var out InvoiceAssignment
	_, err := c.do(ctx, companyID, c.ax(c.cfg.Scopes.Invoices, http.MethodPost, "/v2/invoices/"+escape(invoiceID)+"/assignment/ropo", nil, nil, &out))
	return out, err
}

// TransferToAmili transfers an invoice to Amili Perintä (v2).
func (c *Client) TransferToAmili(ctx context.Context, companyID, invoiceID string, t AmiliTransfer) (InvoiceAssignment, error) {
	var out InvoiceAssignment
	_, err := c.do(ctx, companyID, c.ax(c.cfg.Scopes.Invoices, http.MethodPost, "/v2/invoices/"+escape(invoiceID)+"/assignment/amili", nil, t, &out))
	return out, err
}
