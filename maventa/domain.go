package maventa

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/maventa-bridge/maventa-events/events"
)

// This file hands what Maventa said to package events as its plain inputs:
// this package decodes Maventa's JSON (and decides which field names it
// accepts), events decides what it means.

// Snapshot returns the assignment as events takes it: its values, its events
// in Maventa's order, and its JSON without the events as raw.
func (a Assignment) Snapshot() (events.AssignmentSnapshot, error) {
	evs := a.Events
	a.Events = nil
	raw, err := Marshal(a)
	if err != nil {
		return events.AssignmentSnapshot{}, fmt.Errorf("maventa: assignment %s: %w", a.ID, err)
	}
	s := events.AssignmentSnapshot{
		ID: a.ID, Status: a.Status, CollectionStatus: a.CollectionStatus, ServiceLevel: a.ServiceLevel,
		Debtor: events.Debtor{Name: a.Debtor.Name, BID: a.Debtor.BID}, DueDate: a.DueDate, IssuedAt: a.IssuedAt,
		Number: a.Number, Sum: a.Sum, Paid: a.Paid, Currency: a.Currency,
		CreatedAt: deref(a.CreatedAt), UpdatedAt: deref(a.UpdatedAt), Raw: raw,
	}
	s.InvoiceID, _ = a.InvoiceID()
	s.AgencyID, _ = a.AgencyID()
	s.ReferenceNumber, _ = a.ReferenceNumber()
	if s.Events, err = Facts(evs); err != nil {
		return events.AssignmentSnapshot{}, fmt.Errorf("maventa: assignment %s: %w", a.ID, err)
	}
	events.SortAssignmentFacts(s.Events)
	return s, nil
}

// Facts returns each assignment event as events takes it, in the order given.
func Facts(evs []Event) ([]events.AssignmentFact, error) {
	out := make([]events.AssignmentFact, 0, len(evs))
	for _, e := range evs {
		f, err := e.Fact()
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// Fact returns the assignment event as events takes it: its data's values read
// here, the whole event's JSON as raw.
func (e Event) Fact() (events.AssignmentFact, error) {
	raw, err := Marshal(e)
	if err != nil {
		return events.AssignmentFact{}, fmt.Errorf("event %s: %w", e.ID, err)
	}
	return events.AssignmentFact{ID: e.ID, Type: string(e.Type), Data: e.Data, PartyID: e.PartyID,
		CreatedAt: deref(e.CreatedAt), HappenedAt: e.HappenedAt, Values: valuesOf(e.Type, e.Data), Raw: raw}, nil
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// valuesOf reads an assignment event's data leniently: Maventa does not
// publish the field names of most types, so each value is looked up under
// every name seen or assumed (the first present wins), and what is not
// understood stays in the data the event carries as raw. A data that is not an
// object yields no values.
func valuesOf(typ EventType, data json.RawMessage) events.AssignmentValues {
	var f fields
	if len(data) > 0 && json.Unmarshal(data, &f) != nil {
		f = nil
	}
	var v events.AssignmentValues
	note := func(err error) {
		if err != nil && v.Err == nil {
			v.Err = err
		}
	}
	switch typ {
	case EventPaid:
		v.ArchiveNumber = f.str("archive_number")
		v.BookedOn = f.date(note, "booked_at")
		v.Amount = f.decimal(note, "sum_paid", "sum")
	case EventComment:
		v.Text = f.str("comment", "text", "message")
	case EventDueDateChangeRequest, EventDueDateChanged:
		v.DueDate = f.date(note, "due_date", "new_due_date")
	case EventCreditNote:
		v.CreditNoteNumber = f.str("credit_note_number", "number")
		v.Amount = f.decimal(note, "sum", "credit_sum", "sum_credited")
	case EventFreeze:
		v.Frozen = f.boolean("frozen")
		v.EndDate = f.date(note, "end_date")
	case EventFreezeConfirmed:
		v.HappenedOn = f.date(note, "happened_at")
		v.EndDate = f.date(note, "end_date")
	case EventUnfreezed:
		v.HappenedOn = f.date(note, "happened_at")
	case EventInterestPaid:
		v.Amount = f.decimal(note, "sum_paid", "sum", "interest", "interest_paid")
	case EventCashDiscount:
		v.Amount = f.decimal(note, "sum", "cash_discount", "discount")
	case EventCreditLoss:
		v.Amount = f.decimal(note, "sum", "credit_loss")
	case EventServiceLevelChanged:
		v.ServiceLevel = f.str("service_level", "level")
	case EventDeliveryStatus:
		v.DeliveryStatus = f.str("status", "delivery_status")
	}
	return v
}

// fields is a JSON object's members, read leniently.
type fields map[string]json.RawMessage

func (f fields) find(keys ...string) (json.RawMessage, bool) {
	for _, k := range keys {
		if v, ok := f[k]; ok && string(v) != "null" {
			return v, true
		}
	}
	return nil, false
}

// str is the first present member as a string; a member of another kind
// yields its JSON text.
func (f fields) str(keys ...string) string {
	v, ok := f.find(keys...)
	if !ok {
		return ""
	}
	if s, ok := plainString(jsontext.Value(v)); ok {
		return s
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return strings.Trim(string(v), `"`)
}

func (f fields) decimal(note func(error), keys ...string) *events.Decimal {
	v, ok := f.find(keys...)
	if !ok {
		return nil
	}
	var d events.Decimal
	if err := json.Unmarshal(v, &d); err != nil {
		note(err)
		return nil
	}
	return &d
}

func (f fields) date(note func(error), keys ...string) *events.Date {
	s := f.str(keys...)
	if s == "" {
		return nil
	}
	d, err := events.ParseDate(s)
	if err != nil {
		note(err)
		return nil
	}
	return &d
}

// boolean is true for JSON true and for the strings "true" and "1" in any case.
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

// State returns the receivables service's state as events takes it, from GET
// /v1/services/receivables or /v2/services/<provider>/receivables: status,
// service_type, accountable_party, activation_url, and the agency's account
// from the vfsfi block (iban, bic, account_number). provider "" takes the
// response's own provider member.
func (s ServiceStatus) State(provider string) (events.ReceivablesService, error) {
	raw, err := Marshal(s)
	if err != nil {
		return events.ReceivablesService{}, fmt.Errorf("maventa: receivables service: %w", err)
	}
	return ServiceState(provider, raw)
}

// ServiceState reads a receivables service's state from its JSON (a service
// response, or a service webhook's event_data), keeping the JSON as raw. The
// top-level iban/bic are the company's own account and are not the agency's,
// so they are not used. provider "" takes data's own provider member.
func ServiceState(provider string, data []byte) (events.ReceivablesService, error) {
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
		return events.ReceivablesService{}, fmt.Errorf("maventa: receivables service: %w", err)
	}
	s := events.ReceivablesService{Provider: strings.ToLower(v.Provider), Status: v.Status, ServiceType: v.ServiceType,
		AccountableParty: v.AccountableParty, ActivationURL: v.ActivationURL}
	var raw bytes.Buffer
	_ = json.Compact(&raw, data) // data is JSON: it decoded
	s.Raw = raw.Bytes()
	if provider != "" {
		s.Provider = provider
	}
	if v.VFSFI != nil {
		s.IBAN, s.BIC, s.AccountNumber = v.VFSFI.IBAN, v.VFSFI.BIC, v.VFSFI.AccountNumber
	}
	return s, nil
}

// Notification returns a listed invoice as the notification of its delivery
// status action (DELIVERED or FAILED), with the values its DOCUMENTS.INVOICE
// webhook would have carried (destination, recipient_name, recipient_bid,
// error_message on a failure), and its updated_at as the time (zero when the
// list gives none).
func (inv Invoice) Notification(companyID, action string) events.InvoiceNotification {
	extra := fields(inv.Extra)
	n := events.InvoiceNotification{CompanyID: companyID, Action: action, At: inv.UpdatedAt(), InvoiceID: inv.ID,
		InvoiceNumber: inv.InvoiceNumber, Destination: extra.text("destination"),
		RecipientName: extra.text("recipient_name"), RecipientBID: extra.text("recipient_bid")}
	data := map[string]string{"invoice_id": n.InvoiceID, "invoice_number": n.InvoiceNumber, "destination": n.Destination,
		"recipient_name": n.RecipientName, "recipient_bid": n.RecipientBID}
	if action == events.NoticeFailed {
		n.ErrorMessage = extra.text("error_message")
		data["error_message"] = n.ErrorMessage
	}
	n.Raw, _ = json.Marshal(data) // a map of strings always encodes
	return n
}

// UpdatedAt is a listed invoice's updated_at (zero when the list gives none).
func (inv Invoice) UpdatedAt() time.Time {
	at, _ := time.Parse(time.RFC3339, fields(inv.Extra).text("updated_at"))
	return at
}

// LatestMessageID is the id of the thread's latest message ("" when the list
// gives none).
func (t MessageThread) LatestMessageID() string {
	var latest struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(t.Extra["latest_message"], &latest)
	return latest.ID
}

// Received returns a message of thread t as events takes it, with the
// message's JSON as raw; false for a message without created_at (it has no
// time to order it by).
func (m Message) Received(t MessageThread) (events.MessageReceived, bool) {
	if m.CreatedAt == nil {
		return events.MessageReceived{}, false
	}
	raw, _ := Marshal(m) // a decoded message always encodes
	return events.MessageReceived{ThreadID: t.ID, MessageID: m.ID, AssignmentID: t.AssignmentID,
		Sender: fields(m.Extra).text("sender"), Text: m.Message, SentAt: events.TimestampOf(*m.CreatedAt), Raw: raw}, true
}

// Input returns the webhook as events takes it. body is the webhook's body as
// received (w is what ParseWebhookEnvelope made of it); event_data's values
// are read here, once: a member that is not a string counts as absent, and an
// event_data that is not an object has no values.
func (w Webhook) Input(body []byte) events.Webhook {
	in := events.Webhook{Name: w.Event, CompanyID: w.CompanyID, At: w.EventTimestamp, Body: body, Data: w.EventData}
	var f fields
	if len(w.EventData) > 0 && json.Unmarshal(w.EventData, &f) != nil {
		f = nil
	}
	// The area is the name's first part, however many parts follow: events
	// decides which names it knows.
	area, _, _ := strings.Cut(w.Event, ".")
	switch {
	case area == AreaDocuments:
		in.Document = events.DocumentValues{InvoiceID: f.text("invoice_id"), InvoiceNumber: f.text("invoice_number"),
			DocumentID: cmp.Or(f.text("document_id"), f.text("id")), Destination: f.text("destination"),
			RecipientName: f.text("recipient_name"), RecipientBID: f.text("recipient_bid"), Origin: f.text("origin"),
			SenderName: f.text("sender_name"), SenderBID: f.text("sender_bid"), ErrorMessage: f.text("error_message")}
	case area == AreaNetworks:
		in.Network = events.NetworkValues{Network: f.text("network"), ID: f.text("id")}
		if v, ok := f["profiles"]; ok {
			var ps []string
			if json.Unmarshal(v, &ps) == nil {
				in.Network.Profiles = ps
			}
		}
	case area == AreaCompanies:
		in.State = f.text("state")
	case strings.HasPrefix(w.Event, events.ServiceWebhookPrefix):
		data := w.EventData
		if len(data) == 0 {
			data = json.RawMessage("null")
		}
		if s, err := ServiceState("", data); err == nil {
			in.Service = &s
		}
	}
	return in
}

// text is member k when it is a JSON string, "" otherwise.
func (f fields) text(k string) string {
	v, ok := f[k]
	if !ok {
		return ""
	}
	// Every webhook's documents fields go through here: a plain ASCII string
	// (what Maventa sends) is taken as it is, without a decoder.
	if s, ok := plainString(jsontext.Value(v)); ok {
		return s
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return ""
}
