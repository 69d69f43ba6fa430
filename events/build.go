package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// TraceContext is the W3C trace context of the handling that produces events; it
// becomes the traceparent / tracestate extensions. The zero value means untraced.
type TraceContext struct {
	// TraceParent is the W3C traceparent header value.
	TraceParent string
	// TraceState is the W3C tracestate header value.
	TraceState string
}

// webhookEnvelope is Maventa's webhook body (seed 004).
type webhookEnvelope struct {
	Event          string          `json:"event"`
	CompanyID      string          `json:"company_id"`
	EventTimestamp string          `json:"event_timestamp"`
	EventData      json.RawMessage `json:"event_data"`
}

// ServiceWebhookAction maps the last token of a receivables service webhook
// ("SERVICES.<...>.<ACTION>") to its event type. Maventa fires such a webhook on
// activation and rejection but does not publish its name: this table and the
// "SERVICES." prefix are assumptions, kept in one place to change in one line.
var ServiceWebhookAction = map[string]TypeDef{
	"ACTIVATED": TypeServiceActivated,
	"ACTIVE":    TypeServiceActivated,
	"REJECTED":  TypeServiceRejected,
	"PENDING":   TypeServicePending,
}

// ServiceWebhookPrefix starts the (assumed) name of receivables service webhooks.
const ServiceWebhookPrefix = "SERVICES."

// WebhookEventPatterns are the Maventa event patterns this service understands,
// the default subscription when registering its webhook at Maventa: documents,
// networks, company authorization and the (assumed) receivables-service webhooks.
var WebhookEventPatterns = []string{"DOCUMENTS.*.*", "NETWORKS.*", "COMPANIES.AUTHORIZATION.*", ServiceWebhookPrefix + "*"}

// FromWebhook normalizes one Maventa webhook body into its event. The id key is
// WebhookHash(body), so a retried webhook yields the same event id. Time is the
// webhook's event_timestamp. A name the catalog does not know yields an
// unrecognized event carrying the whole body. It fails only when the body is not
// a JSON object with a company_id and a valid event_timestamp.
func FromWebhook(body []byte, tc TraceContext) (Event, error) {
	var w webhookEnvelope
	if err := json.Unmarshal(body, &w); err != nil {
		return Event{}, fmt.Errorf("events: webhook body: %w", err)
	}
	if w.CompanyID == "" {
		return Event{}, errors.New("events: webhook without company_id")
	}
	at, err := time.Parse(time.RFC3339Nano, w.EventTimestamp)
	if err != nil {
		return Event{}, fmt.Errorf("events: webhook event_timestamp: %w", err)
	}
	hash := WebhookHash(body)
	m := Meta{CompanyID: w.CompanyID, Time: at, Key: []string{hash}, WebhookID: hash,
		TraceParent: tc.TraceParent, TraceState: tc.TraceState}
	data := w.EventData
	if len(bytes.TrimSpace(data)) == 0 {
		data = json.RawMessage(`null`)
	}
	def, v, subject, ok := normalizeWebhook(w.Event, w.CompanyID, data)
	if !ok {
		def, v, subject = TypeUnrecognized, &Unrecognized{Origin: "webhook", Name: w.Event, Raw: compact(body)}, w.Event
	}
	m.Subject = subject
	return New(def, m, v)
}

func normalizeWebhook(name, companyID string, data json.RawMessage) (TypeDef, any, string, bool) {
	parts := strings.Split(name, ".")
	raw := compact(data)
	var f map[string]json.RawMessage
	if json.Unmarshal(data, &f) != nil {
		f = nil
	}
	str := func(k string) string {
		var s string
		if v, ok := f[k]; ok && json.Unmarshal(v, &s) == nil {
			return s
		}
		return ""
	}
	switch {
	case len(parts) == 3 && parts[0] == "DOCUMENTS" && parts[1] == "INVOICE":
		d := InvoiceDelivered{InvoiceID: str("invoice_id"), InvoiceNumber: str("invoice_number"),
			Destination: str("destination"), RecipientName: str("recipient_name"), RecipientBID: str("recipient_bid"),
			WebhookEvent: name, Raw: raw}
		if parts[2] == "RECEIVED" {
			return TypeInvoiceReceived, &InvoiceReceived{InvoiceID: d.InvoiceID, InvoiceNumber: d.InvoiceNumber,
				Origin: str("origin"), SenderName: str("sender_name"), SenderBID: str("sender_bid"),
				WebhookEvent: name, Raw: raw}, d.InvoiceID, true
		}
		if def, v, ok := invoiceData(parts[2], d, str("error_message")); ok {
			return def, v, d.InvoiceID, true
		}
	case len(parts) == 3 && parts[0] == "DOCUMENTS" && parts[1] != "":
		d := DocumentEvent{DocumentType: parts[1], Action: parts[2], DocumentID: str("document_id"), WebhookEvent: name, Raw: raw}
		if d.DocumentID == "" {
			d.DocumentID = str("id")
		}
		subject := d.DocumentID
		if subject == "" {
			subject = d.DocumentType
		}
		switch parts[2] {
		case "DELIVERED":
			v := DocumentDelivered(d)
			return TypeDocumentDelivered, &v, subject, true
		case "DELIVERY_CONFIRMED":
			v := DocumentDeliveryConfirmed(d)
			return TypeDocumentDeliveryConfirmed, &v, subject, true
		case "FAILED":
			v := DocumentDeliveryFailed(d)
			return TypeDocumentDeliveryFailed, &v, subject, true
		case "RECEIVED":
			v := DocumentReceived(d)
			return TypeDocumentReceived, &v, subject, true
		}
	case len(parts) == 3 && parts[0] == "NETWORKS" && parts[1] != "":
		n := NetworkChange{Network: str("network"), RegistrationID: str("id"), WebhookEvent: name, Raw: raw, Profiles: []string{}}
		if n.Network == "" {
			n.Network = parts[1]
		}
		if v, ok := f["profiles"]; ok {
			var ps []string
			if json.Unmarshal(v, &ps) == nil && ps != nil {
				n.Profiles = ps
			}
		}
		switch parts[2] {
		case "CREATED":
			v := NetworkCreated(n)
			return TypeNetworkCreated, &v, n.Network, true
		case "ENABLED":
			v := NetworkEnabled(n)
			return TypeNetworkEnabled, &v, n.Network, true
		case "DISABLED":
			v := NetworkDisabled(n)
			return TypeNetworkDisabled, &v, n.Network, true
		}
	case len(parts) == 3 && parts[0] == "COMPANIES" && parts[1] == "AUTHORIZATION":
		state := str("state")
		if state == "" {
			state = parts[2]
		}
		return TypeCompanyAuthorizationChanged, &CompanyAuthorizationChanged{State: state, WebhookEvent: name, Raw: raw}, companyID, true
	case strings.HasPrefix(name, ServiceWebhookPrefix):
		def, ok := ServiceWebhookAction[parts[len(parts)-1]]
		if !ok {
			break
		}
		s, err := ReceivablesServiceFromJSON("", data)
		if err != nil {
			break
		}
		if s.Provider == "" {
			s.Provider = providerFromName(name)
		}
		if s.Status == "" {
			s.Status = parts[len(parts)-1]
		}
		return def, serviceData(def, s), s.Provider, true
	}
	return TypeDef{}, nil, "", false
}

// invoiceData is the data of a sent invoice's delivery event for action.
func invoiceData(action string, d InvoiceDelivered, errorMessage string) (TypeDef, any, bool) {
	switch action {
	case NoticeDelivered:
		return TypeInvoiceDelivered, &d, true
	case NoticeDeliveryConfirmed:
		c := InvoiceDeliveryConfirmed(d)
		return TypeInvoiceDeliveryConfirmed, &c, true
	case NoticeFailed:
		return TypeInvoiceDeliveryFailed, &InvoiceDeliveryFailed{InvoiceID: d.InvoiceID, InvoiceNumber: d.InvoiceNumber,
			Destination: d.Destination, RecipientName: d.RecipientName, RecipientBID: d.RecipientBID,
			ErrorMessage: errorMessage, Reason: ClassifyDeliveryError(errorMessage), WebhookEvent: d.WebhookEvent, Raw: d.Raw}, true
	}
	return TypeDef{}, nil, false
}

// NewInvoiceEvent builds the event a DOCUMENTS.INVOICE.<action> webhook would
// have produced for an invoice status found by polling. It has no webhook id;
// its id key is the invoice notice's (invoice id, status, time), the key
// ApplyInvoice gives every invoice event.
func NewInvoiceEvent(n InvoiceNotification, tc TraceContext) (Event, error) {
	name := "DOCUMENTS.INVOICE." + n.Action
	d := InvoiceDelivered{InvoiceID: n.InvoiceID, InvoiceNumber: n.InvoiceNumber, Destination: n.Destination,
		RecipientName: n.RecipientName, RecipientBID: n.RecipientBID, WebhookEvent: name, Raw: compact(n.Raw)}
	def, v, ok := invoiceData(n.Action, d, n.ErrorMessage)
	if !ok {
		return Event{}, fmt.Errorf("events: no invoice event for status %q", n.Action)
	}
	// The time is whole seconds, as a webhook's event_timestamp is.
	at := n.At.UTC()
	return New(def, Meta{CompanyID: n.CompanyID, Subject: n.InvoiceID, Time: at.Truncate(time.Second),
		Key: invoiceNoticeKey(n.InvoiceID, strings.ToUpper(n.Action), at), TraceParent: tc.TraceParent, TraceState: tc.TraceState}, v)
}

func providerFromName(name string) string {
	if strings.Contains(strings.ToUpper(name), "ROPO") {
		return "ropo"
	}
	return "amili"
}

func serviceData(def TypeDef, s ReceivablesService) any {
	switch def.Name {
	case TypeServiceActivated.Name:
		v := ServiceActivated(s)
		return &v
	case TypeServiceRejected.Name:
		v := ServiceRejected(s)
		return &v
	default:
		v := ServicePending(s)
		return &v
	}
}

// ReceivablesServiceFromJSON reads the state of a receivables service from a GET
// /v1/services/receivables or /v2/services/<provider>/receivables response (or a
// service webhook's event_data): status, service_type, accountable_party,
// activation_url, and the agency's account from the vfsfi block (iban, bic,
// account_number). The top-level iban/bic are the company's own account and are
// not the agency's, so they are not used. provider "" takes data.provider.
func ReceivablesServiceFromJSON(provider string, data []byte) (ReceivablesService, error) {
	var v struct {
		Provider         string `json:"provider"`
		Status           string `json:"status"`
		ServiceType      string `json:"service_type"`
		AccountableParty string `json:"accountable_party"`
		ActivationURL    string `json:"activation_url"`
		VFSFI            *struct {
			IBAN          string `json:"iban"`
			BIC           string `json:"bic"`
			AccountNumber string `json:"account_number"`
		} `json:"vfsfi"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return ReceivablesService{}, fmt.Errorf("events: receivables service: %w", err)
	}
	s := ReceivablesService{Provider: strings.ToLower(v.Provider), Status: v.Status, ServiceType: v.ServiceType,
		AccountableParty: v.AccountableParty, ActivationURL: v.ActivationURL, Raw: compact(data)}
	if provider != "" {
		s.Provider = provider
	}
	if v.VFSFI != nil {
		s.IBAN, s.BIC, s.AccountNumber = v.VFSFI.IBAN, v.VFSFI.BIC, v.VFSFI.AccountNumber
	}
	return s, nil
}

// ServiceTypeForStatus returns the event type announcing a receivables service in
// status (ACTIVE -> service.activated, REJECTED -> service.rejected, PENDING ->
// service.pending; case-insensitive); false for other statuses (DISABLED...).
func ServiceTypeForStatus(status string) (TypeDef, bool) {
	switch strings.ToUpper(status) {
	case "ACTIVE", "ACTIVATED":
		return TypeServiceActivated, true
	case "REJECTED":
		return TypeServiceRejected, true
	case "PENDING":
		return TypeServicePending, true
	}
	return TypeDef{}, false
}

// NewServiceEvent builds the service.* event for a service state seen by polling
// (observedAt: when it was seen, as Maventa gives no time). Its id key is the
// state itself (provider, status, iban, bic, activation_url), so seeing the same
// state again yields the same id.
func NewServiceEvent(companyID string, s ReceivablesService, observedAt time.Time, tc TraceContext) (Event, error) {
	def, ok := ServiceTypeForStatus(s.Status)
	if !ok {
		return Event{}, fmt.Errorf("events: no event for receivables service status %q", s.Status)
	}
	return New(def, Meta{CompanyID: companyID, Subject: s.Provider, Time: observedAt,
		Key:         []string{companyID, s.Provider, strings.ToUpper(s.Status), s.IBAN, s.BIC, s.ActivationURL},
		TraceParent: tc.TraceParent, TraceState: tc.TraceState}, serviceData(def, s))
}

func compact(b []byte) json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		s, _ := json.Marshal(string(b))
		return s
	}
	return buf.Bytes()
}
