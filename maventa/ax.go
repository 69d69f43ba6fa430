package maventa

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"net/url"
	"time"
)

// ax builds an AX API request with the given scope.
func (c *Client) ax(scope, method, path string, query url.Values, body, out any) request {
	return request{base: c.axBase, scope: scope, method: method, path: path, query: query, body: body, out: out}
}

// Notification destination types.
const (
	// DestinationWebhook notifies about one company's events.
	DestinationWebhook = "WEBHOOK"
	// DestinationVendorWebhook notifies about all companies linked to the partner's vendor key.
	DestinationVendorWebhook = "VENDOR_WEBHOOK"
)

// NewNotification registers a webhook (POST /v1/company/notifications).
type NewNotification struct {
	// DestinationType is DestinationWebhook or DestinationVendorWebhook.
	DestinationType string `json:"destination_type"`
	// Destination is the URL Maventa will POST to (may carry Basic auth or a secret query).
	Destination string `json:"destination"`
	// Events are event names or patterns, e.g. "DOCUMENTS.*.*", "NETWORKS.*".
	Events []string `json:"events"`
	// VendorKey restricts a VENDOR_WEBHOOK to companies of one vendor key.
	VendorKey string `json:"vendor_key,omitempty"`
}

// Notification is a registered webhook. Unknown fields are kept.
type Notification struct {
	// ID is the registration id.
	ID string `json:"id"`
	// DestinationType is WEBHOOK or VENDOR_WEBHOOK.
	DestinationType string `json:"destination_type"`
	// Destination is the URL (it may contain a secret: do not log it).
	Destination string `json:"destination"`
	// Events are the subscribed event names or patterns.
	Events []string `json:"events"`
	// Extra holds fields this type does not declare.
	Extra map[string]json.RawMessage `json:",embed,inline"`
}

// notificationsPath is the company notifications endpoint; operators have
// /v1/operator/notifications.
func (c *Client) notificationsPath() string {
	if c.cfg.AuthMode == AuthOperator {
		return "/v1/operator/notifications"
	}
	return "/v1/company/notifications"
}

// CreateNotification registers a webhook for the company (or, with
// VENDOR_WEBHOOK, for all of the partner's companies).
func (c *Client) CreateNotification(ctx context.Context, companyID string, n NewNotification) (Notification, error) {
	if n.DestinationType == "" {
		n.DestinationType = DestinationWebhook
	}
	if n.Destination == "" {
		return Notification{}, &ValidationError{Field: "destination", Problem: "empty"}
	}
	if len(n.Events) == 0 {
		return Notification{}, &ValidationError{Field: "events", Problem: "empty"}
	}
	var out Notification
	_, err := c.do(ctx, companyID, c.ax(c.cfg.Scopes.Notifications, http.MethodPost, c.notificationsPath(), nil, n, &out))
	return out, err
}

// ListNotifications lists the company's registered webhooks, following
// X-Next-Page when sent.
func (c *Client) ListNotifications(ctx context.Context, companyID string) ([]Notification, error) {
	return collect[Notification](ctx, c, companyID, c.ax(c.cfg.Scopes.Notifications, http.MethodGet, c.notificationsPath(), nil, nil, nil))
}

// GetNotification fetches one registered webhook.
func (c *Client) GetNotification(ctx context.Context, companyID, id string) (Notification, error) {
	var out Notification
	_, err := c.do(ctx, companyID, c.ax(c.cfg.Scopes.Notifications, http.MethodGet, c.notificationsPath()+"/"+escape(id), nil, nil, &out))
	return out, err
}

// DeleteNotification removes a registered webhook (Maventa answers 204).
func (c *Client) DeleteNotification(ctx context.Context, companyID, id string) error {
	_, err := c.do(ctx, companyID, c.ax(c.cfg.Scopes.Notifications, http.MethodDelete, c.notificationsPath()+"/"+escape(id), nil, nil, nil))
	return err
}

// Receivables service statuses of the legacy /v1/services/receivables.
const (
	// ServiceDisabled: the service is not in use.
	ServiceDisabled = "DISABLED"
	// ServiceActive: the service is in use.
	ServiceActive = "ACTIVE"
	// ServicePending: activation was requested and awaits KYC/agency approval.
	ServicePending = "PENDING"
)

// ServiceStatus is a receivables service's activation state (AX services endpoints).
// Unknown fields (contact details, addresses...) are kept in Extra.
type ServiceStatus struct {
	// Status is e.g. "DISABLED", "PENDING", "ACTIVE" (v2 values may differ in case).
	Status string `json:"status"`
	// ActivationURL links to the KYC form (Amili, v2).
	ActivationURL string `json:"activation_url,omitempty"`
	// VFSFI carries Visma Amili's payment details once active with Amili.
	VFSFI *VFSFI `json:"vfsfi,omitempty"`
	// Extra holds fields this type does not declare.
	Extra map[string]json.RawMessage `json:",embed,inline"`
}

// VFSFI is Visma Amili's (Visma Financial Solutions) bank account and the notes to
// print on invoices (seed 004).
type VFSFI struct {
	// IBAN is the account debtors pay to.
	IBAN string `json:"iban"`
	// BIC is the bank's identifier.
	BIC string `json:"bic"`
	// AccountNumber is the domestic account number.
	AccountNumber string `json:"account_number"`
	// Notes are the texts to print on invoices, one per language.
	Notes []VFSFINote `json:"notes"`
	// Extra holds fields this type does not declare.
	Extra map[string]json.RawMessage `json:",embed,inline"`
}

// VFSFINote is an invoice note text in one language.
type VFSFINote struct {
	// Phrase is the text.
	Phrase string `json:"phrase"`
	// Code is the language, e.g. "FI", "SV", "EN".
	Code string `json:"code"`
	// Extra holds fields this type does not declare.
	Extra map[string]json.RawMessage `json:",embed,inline"`
}

// ServiceActivation is the body of PUT /v1|v2/services/.../receivables (fields
// from seed 004's v1 example; v2 is ASSUMED to accept the same) and of the PATCH.
// Fields absent from this struct go in Extra and are sent as they are.
type ServiceActivation struct {
	// IBAN is the company's own account.
	IBAN string `json:"iban,omitempty"`
	// BIC is the company bank's identifier.
	BIC string `json:"bic,omitempty"`
	// Bank is the company bank's name.
	Bank string `json:"bank,omitempty"`
	// ContactPerson is who the agency contacts.
	ContactPerson string `json:"contact_person,omitempty"`
	// ContactEmail is the contact person's email.
	ContactEmail string `json:"contact_email,omitempty"`
	// ContactPhoneNumber is the contact person's phone.
	ContactPhoneNumber string `json:"contact_phone_number,omitempty"`
	// CustomerServiceEmail is shown to debtors.
	CustomerServiceEmail string `json:"customer_service_email,omitempty"`
	// CustomerServicePhoneNumber is shown to debtors.
	CustomerServicePhoneNumber string `json:"customer_service_phone_number,omitempty"`
	// AuthorizationEmail receives the KYC link; leave empty to use activation_url.
	AuthorizationEmail string `json:"authorization_email,omitempty"`
	// AccountableParty is "vfsfi" (default, Amili collects) or "company" (Amili only).
	AccountableParty string `json:"accountable_party,omitempty"`
	// ServiceType is "full" (default, Amili Kassavirta) or "express" (Amili
	// Perintä); Amili only (seed 003's activation parameters).
	ServiceType string `json:"service_type,omitempty"`
	// BillingAddress is the company's billing address.
	BillingAddress *Address `json:"billing_address,omitempty"`
	// PostalAddress is the company's postal address.
	PostalAddress *Address `json:"postal_address,omitempty"`
	// Extra holds further fields to send.
	Extra map[string]json.RawMessage `json:",embed,inline"`
}

// Address is a postal address in service activation.
type Address struct {
	// Country is the ISO 3166 alpha-2 code, e.g. "FI".
	Country string `json:"country,omitempty"`
	// Streets are the street lines.
	Streets []string `json:"streets,omitempty"`
	// City is the post office.
	City string `json:"city,omitempty"`
	// ZipCode is the postal code.
	ZipCode string `json:"zip_code,omitempty"`
}

// Receivables service providers with v2 endpoints.
const (
	// ProviderAmili is Visma Amili (Kassavirta, Perintä).
	ProviderAmili = "amili"
	// ProviderRopo is Ropo Reminder & Collection.
	ProviderRopo = "ropo"
)

func (c *Client) servicePath(provider string) string {
	return "/v2/services/" + escape(provider) + "/receivables"
}

// GetReceivablesService fetches a provider's (ProviderAmili, ProviderRopo) activation status.
func (c *Client) GetReceivablesService(ctx context.Context, companyID, provider string) (ServiceStatus, error) {
	var out ServiceStatus
	_, err := c.do(ctx, companyID, c.ax(c.cfg.Scopes.Services, http.MethodGet, c.servicePath(provider), nil, nil, &out))
	return out, err
}

// ActivateReceivablesService starts a provider's activation (PUT).
func (c *Client) ActivateReceivablesService(ctx context.Context, companyID, provider string, a ServiceActivation) (ServiceStatus, error) {
	var out ServiceStatus
	_, err := c.do(ctx, companyID, c.ax(c.cfg.Scopes.Services, http.MethodPut, c.servicePath(provider), nil, a, &out))
	return out, err
}

// UpdateReceivablesService changes activation details (PATCH; Amili only per seed 001).
func (c *Client) UpdateReceivablesService(ctx context.Context, companyID, provider string, a ServiceActivation) (ServiceStatus, error) {
	var out ServiceStatus
	_, err := c.do(ctx, companyID, c.ax(c.cfg.Scopes.Services, http.MethodPatch, c.servicePath(provider), nil, a, &out))
	return out, err
}

// CloseReceivablesService closes a provider's service (DELETE); open assignments stay handled.
func (c *Client) CloseReceivablesService(ctx context.Context, companyID, provider string) error {
	_, err := c.do(ctx, companyID, c.ax(c.cfg.Scopes.Services, http.MethodDelete, c.servicePath(provider), nil, nil, nil))
	return err
}

// GetLegacyReceivablesService fetches GET /v1/services/receivables (status DISABLED/ACTIVE/PENDING).
func (c *Client) GetLegacyReceivablesService(ctx context.Context, companyID string) (ServiceStatus, error) {
	var out ServiceStatus
	_, err := c.do(ctx, companyID, c.ax(c.cfg.Scopes.Services, http.MethodGet, "/v1/services/receivables", nil, nil, &out))
	return out, err
}

// InvoiceQuery filters GET /v1/invoices. Parameter names come from Config.Filters
// (the change-time filter names are ASSUMED). Zero fields are not sent.
type InvoiceQuery struct {
	// Direction is "SENT" or "RECEIVED". Zero: "SENT".
	Direction string
	// UpdatedAfter and UpdatedBefore bound the invoices' last change.
	UpdatedAfter, UpdatedBefore time.Time
	// Extra carries any other query parameter verbatim (e.g. "fields").
	Extra url.Values
}

// Invoice is an AX invoice list entry. Only id and status are relied on; every other
// field is kept in Extra (names ASSUMED).
type Invoice struct {
	// ID is the invoice UUID.
	ID string `json:"id"`
	// Status is the invoice's state, e.g. "SENT", "ERROR".
	Status string `json:"status,omitempty"`
	// InvoiceNumber is the invoice number (ASSUMED name "number": the invoice list
	// shape is not in the seeds; "number" is what seed 003 calls the original
	// invoice number on an assignment, and what the sandbox lists).
	InvoiceNumber string `json:"number,omitempty"`
	// Extra holds fields this type does not declare.
	Extra map[string]json.RawMessage `json:",embed,inline"`
}

func (c *Client) invoiceValues(q InvoiceQuery) url.Values {
	n := c.cfg.Filters
	v := url.Values{}
	for k, x := range q.Extra {
		v[k] = append([]string(nil), x...)
	}
	dir := q.Direction
	if dir == "" {
		dir = "SENT"
	}
	v.Set(n.InvoicesDirection, dir)
	c.setTime(v, n.InvoicesUpdatedStart, q.UpdatedAfter)
	c.setTime(v, n.InvoicesUpdatedEnd, q.UpdatedBefore)
	return v
}

// ListInvoices fetches one page of invoices (one request).
func (c *Client) ListInvoices(ctx context.Context, companyID string, q InvoiceQuery, p PageOptions) (Page[Invoice], error) {
	return getPage[Invoice](ctx, c, companyID, c.ax(c.cfg.Scopes.Invoices, http.MethodGet, "/v1/invoices", c.invoiceValues(q), nil, nil), p)
}

// Invoices iterates every invoice matching q, one request per page.
func (c *Client) Invoices(ctx context.Context, companyID string, q InvoiceQuery, perPage int) iter.Seq2[Invoice, error] {
	return all[Invoice](ctx, c, companyID, c.ax(c.cfg.Scopes.Invoices, http.MethodGet, "/v1/invoices", c.invoiceValues(q), nil, nil), perPage)
}

// Invoice transfer states of GET /v2/invoices/{id}/assignment.
const (
	// TransferPending: the transfer is queued.
	TransferPending = "pending"
	// TransferSent: the agency has the invoice.
	TransferSent = "sent"
	// TransferError: the transfer failed.
	TransferError = "error"
)

// InvoiceAssignment is the state of an invoice's transfer to a collection agency.
type InvoiceAssignment struct {
	// Status is "pending", "sent" or "error".
	Status string `json:"status"`
	// Extra holds fields this type does not declare.
	Extra map[string]json.RawMessage `json:",embed,inline"`
}

// GetInvoiceAssignment fetches the transfer state of an invoice to collection.
func (c *Client) GetInvoiceAssignment(ctx context.Context, companyID, invoiceID string) (InvoiceAssignment, error) {
	var out InvoiceAssignment
	_, err := c.do(ctx, companyID, c.ax(c.cfg.Scopes.Invoices, http.MethodGet, "/v2/invoices/"+escape(invoiceID)+"/assignment", nil, nil, &out))
	return out, err
}
