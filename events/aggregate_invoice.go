package events

import (
	"slices"
	"strings"
	"time"
)

// Invoice statuses a notice can carry (the action of a DOCUMENTS.INVOICE.<action>
// webhook).
const (
	NoticeDelivered         = "DELIVERED"
	NoticeFailed            = "FAILED"
	NoticeDeliveryConfirmed = "DELIVERY_CONFIRMED"
	NoticeReceived          = "RECEIVED"
)

// maxInvoiceFacts bounds the facts kept per invoice (an invoice is delivered,
// failed and re-routed a handful of times, not hundreds).
const maxInvoiceFacts = 100

// InvoiceNotice is one thing Maventa said about an invoice: a
// DOCUMENTS.INVOICE.<status> webhook sent at At, or (Listed) the invoice's
// status on Maventa's invoice list with its updated_at.
type InvoiceNotice struct {
	// Status is DELIVERED, FAILED, DELIVERY_CONFIRMED or RECEIVED.
	Status string
	// At is the webhook's event_timestamp, or the listed invoice's updated_at.
	At time.Time
	// Listed is true for a status read on the invoice list (polling).
	Listed bool
	// Event is the domain event the notice yields when it is new; ApplyInvoice
	// gives it its id.
	Event Event
}

// InvoiceRecord is what is kept per invoice to emit each of its delivery facts
// once, whatever the order in which webhooks, Maventa's retries and polling
// bring them.
type InvoiceRecord struct {
	// Facts are the notices seen, in Maventa's time order.
	Facts []InvoiceFact `json:"facts"`
}

// InvoiceFact is one notice of a record.
type InvoiceFact struct {
	Status  string    `json:"status"`
	At      time.Time `json:"at"`
	Listed  bool      `json:"listed,omitempty"`
	Emitted bool      `json:"emitted,omitempty"`
	// Held is the event of a listed status that an emitted notice of the same
	// delivery already announced; kept in case a fact that turns up later
	// shows it was a delivery of its own.
	Held *Event `json:"held,omitempty"`
}

// ApplyInvoice adds notices to an invoice's record and returns the new record
// and the events now due. Each webhook notice is an event of its own, with id
// key (invoice, status, time): Maventa's hourly retries carry the same body
// and so the same key, and a re-route's second DELIVERED (after a FAILED) has
// another time and is emitted too, whichever arrives first. A listed status
// announces nothing new when a notice of the same status already stands for it
// (no FAILED or DELIVERED of the other kind between the two in Maventa's time);
// it is emitted otherwise (a missed webhook), and a webhook notice that turns
// up later for the same delivery is then not emitted again.
func ApplyInvoice(rec InvoiceRecord, invoiceID string, notices []InvoiceNotice) (InvoiceRecord, []Event) {
	rec.Facts = slices.Clone(rec.Facts)
	for _, n := range notices {
		st := strings.ToUpper(n.Status)
		at := n.At.UTC()
		if i := rec.find(st, at); i >= 0 {
			if !n.Listed {
				rec.Facts[i].Listed = false
			}
			continue
		}
		ev := n.Event.Rekeyed(invoiceNoticeKey(invoiceID, st, at)...)
		rec.Facts = append(rec.Facts, InvoiceFact{Status: st, At: at, Listed: n.Listed, Held: &ev})
	}
	slices.SortStableFunc(rec.Facts, func(a, b InvoiceFact) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.Status, b.Status)
	})
	var out []Event
	for i := range rec.Facts {
		f := &rec.Facts[i]
		if f.Emitted || f.Held == nil || rec.covered(i) {
			continue
		}
		out = append(out, *f.Held)
		f.Emitted, f.Held = true, nil
	}
	for len(rec.Facts) > maxInvoiceFacts {
		rec.Facts = rec.Facts[1:]
	}
	return rec, out
}

// InvoiceNoticeID is the id of the event of type def that announces invoice
// id's status at (a webhook's event_timestamp, a listed invoice's updated_at).
func InvoiceNoticeID(def TypeDef, invoiceID, status string, at time.Time) string {
	return IDFor(def, invoiceNoticeKey(invoiceID, strings.ToUpper(status), at.UTC())...)
}

func invoiceNoticeKey(invoiceID, status string, at time.Time) []string {
	return []string{invoiceID, status, at.Format(time.RFC3339Nano)}
}

// Status is the invoice's newest delivery status (DELIVERED or FAILED) in
// Maventa's time order, "" when none is known.
func (r InvoiceRecord) Status() string {
	for i := len(r.Facts) - 1; i >= 0; i-- {
		if s := r.Facts[i].Status; s == NoticeDelivered || s == NoticeFailed {
			return s
		}
	}
	return ""
}

func (r InvoiceRecord) find(status string, at time.Time) int {
	return slices.IndexFunc(r.Facts, func(f InvoiceFact) bool { return f.Status == status && f.At.Equal(at) })
}

// covered reports whether fact i is already announced by another emitted fact
// of the same delivery: same status (DELIVERED or FAILED), one of the two
// listed, and no fact of the other of these statuses between them.
func (r InvoiceRecord) covered(i int) bool {
	f := r.Facts[i]
	if f.Status != NoticeDelivered && f.Status != NoticeFailed {
		return false
	}
	for j, g := range r.Facts {
		if j == i || !g.Emitted || g.Status != f.Status || (!f.Listed && !g.Listed) {
			continue
		}
		lo, hi := min(i, j), max(i, j)
		broken := false
		for _, h := range r.Facts[lo : hi+1] {
			if (h.Status == NoticeDelivered || h.Status == NoticeFailed) && h.Status != f.Status {
				broken = true
				break
			}
		}
		if !broken {
			return true
		}
	}
	return false
}
