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

// ServiceWebhookType returns the event type of the last token of a receivables
// service webhook ("SERVICES.<...>.<ACTION>"): ACTIVATED or ACTIVE,
// REJECTED, PENDING. Maventa fires such a webhook on activation and rejection
// but does not publish its name: this table and the "SERVICES." prefix are
// assumptions, kept in one place to change in one line.
func ServiceWebhookType(action string) (TypeDef, bool) {
	if action != strings.ToUpper(action) { // webhook names are upper case
		return TypeDef{}, false
	}
	return ServiceTypeForStatus(action)
}

// ServiceWebhookPrefix starts the (assumed) name of receivables service webhooks.
const ServiceWebhookPrefix = "SERVICES."

// WebhookEventPatterns are the Maventa event patterns this service understands,
// the default subscription when registering its webhook at Maventa: documents,
// networks, company authorization and the (assumed) receivables-service webhooks.
var WebhookEventPatterns = []string{"DOCUMENTS.*.*", "NETWORKS.*", "COMPANIES.AUTHORIZATION.*", ServiceWebhookPrefix + "*"}

// FromWebhook normalizes one Maventa webhook into its event. The id key is
// WebhookHash(w.Body), so a retried webhook yields the same event id. Time is
// the webhook's event_timestamp. A name the catalog does not know yields an
// unrecognized event carrying the whole body. It fails only without a company.
func FromWebhook(w Webhook, tc TraceContext) (Event, error) {
	if w.CompanyID == "" {
		return Event{}, errors.New("events: webhook without company_id")
	}
	hash := WebhookHash(w.Body)
	m := Meta{CompanyID: w.CompanyID, Time: w.At, Key: []string{hash}, WebhookID: hash,
		TraceParent: tc.TraceParent, TraceState: tc.TraceState}
	def, v, subject, ok := normalizeWebhook(w)
	if !ok {
		def, v, subject = TypeUnrecognized, &Unrecognized{Origin: "webhook", Name: w.Name, Raw: compact(w.Body)}, w.Name
	}
	m.Subject = subject
	return New(def, m, v)
}

func normalizeWebhook(w Webhook) (TypeDef, any, string, bool) {
	name := w.Name
	parts := strings.Split(name, ".")
	data := w.Data
	if len(bytes.TrimSpace(data)) == 0 {
		data = json.RawMessage(`null`)
	}
	raw := compact(data)
	doc := w.Document
	switch {
	case len(parts) == 3 && parts[0] == "DOCUMENTS" && parts[1] == "INVOICE":
		d := InvoiceDelivered{InvoiceID: doc.InvoiceID, InvoiceNumber: doc.InvoiceNumber,
			Destination: doc.Destination, RecipientName: doc.RecipientName, RecipientBID: doc.RecipientBID,
			WebhookEvent: name, Raw: raw}
		if parts[2] == "RECEIVED" {
			return TypeInvoiceReceived, &InvoiceReceived{InvoiceID: d.InvoiceID, InvoiceNumber: d.InvoiceNumber,
				Origin: doc.Origin, SenderName: doc.SenderName, SenderBID: doc.SenderBID,
				WebhookEvent: name, Raw: raw}, d.InvoiceID, true
		}
		if def, v, ok := invoiceData(parts[2], d, doc.ErrorMessage); ok {
			return def, v, d.InvoiceID, true
		}
	case len(parts) == 3 && parts[0] == "DOCUMENTS" && parts[1] != "":
		d := DocumentEvent{DocumentType: parts[1], Action: parts[2], DocumentID: doc.DocumentID, WebhookEvent: name, Raw: raw}
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
		n := NetworkChange{Network: w.Network.Network, RegistrationID: w.Network.ID, WebhookEvent: name, Raw: raw, Profiles: []string{}}
		if n.Network == "" {
			n.Network = parts[1]
		}
		if w.Network.Profiles != nil {
			n.Profiles = w.Network.Profiles
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
		state := w.State
		if state == "" {
			state = parts[2]
		}
		return TypeCompanyAuthorizationChanged, &CompanyAuthorizationChanged{State: state, WebhookEvent: name, Raw: raw}, w.CompanyID, true
	case strings.HasPrefix(name, ServiceWebhookPrefix):
		def, ok := ServiceWebhookType(parts[len(parts)-1])
		if !ok || w.Service == nil {
			break
		}
		s := *w.Service
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
