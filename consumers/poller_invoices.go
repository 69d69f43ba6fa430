package consumers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
)

// invoiceStatusOf maps a sent invoice's status in GET /v1/invoices to the
// delivery status its webhook would have announced. The values are ASSUMED
// (not published): kept in this one table.
var invoiceStatusOf = map[string]string{
	"SENT": events.NoticeDelivered, "DELIVERED": events.NoticeDelivered,
	"FAILED": events.NoticeFailed, "ERROR": events.NoticeFailed,
}

// pollInvoices is seed 004's fallback for lost DOCUMENTS webhooks: sent
// invoices changed since the invoice cursor, each whose delivery status is new
// becomes the event its webhook would have produced (the same key as the webhook
// path, so both together give one event).
func (p *Poller) pollInvoices(ctx context.Context, c string, since time.Time, advance bool) (emitted, calls int, err error) {
	var cur Cursor
	rev, err := p.store.get(ctx, cursorKey("invoices", c), &cur)
	if err != nil {
		return 0, 0, err
	}
	start := p.cfg.Now()
	if rev == 0 {
		cur.After = start.Add(-p.cfg.LookBack)
	}
	from := cur.After.Add(-p.cfg.Overlap)
	if !since.IsZero() {
		from = since
	}
	newest := cur.After
	for page := 1; ; page++ {
		pg, err := p.api.ListInvoices(ctx, c, maventa.InvoiceQuery{Direction: "SENT", UpdatedAfter: from}, maventa.PageOptions{Page: page, PerPage: maventa.MaxPerPage})
		calls++
		if err != nil {
			return emitted, calls, err
		}
		for _, inv := range pg.Items {
			n, at, err := p.invoiceEvent(ctx, c, inv)
			emitted += n
			if err != nil {
				return emitted, calls, err
			}
			if at.After(newest) {
				newest = at
			}
		}
		if pg.NextPage == 0 || len(pg.Items) < maventa.MaxPerPage {
			break
		}
	}
	if advance && newest.After(cur.After) {
		if err := p.store.put(ctx, cursorKey("invoices", c), Cursor{After: newest, UpdatedAt: start}, rev); err != nil && !errors.Is(err, ErrConflict) {
			return emitted, calls, err
		}
	}
	return emitted, calls, nil
}

// invoiceEvent emits the delivery event of one listed invoice when its status
// is new, built exactly as from the webhook Maventa would have sent.
func (p *Poller) invoiceEvent(ctx context.Context, c string, inv maventa.Invoice) (int, time.Time, error) {
	extra := func(k string) string {
		var s string
		_ = json.Unmarshal(inv.Extra[k], &s)
		return s
	}
	at, _ := time.Parse(time.RFC3339, extra("updated_at"))
	status, ok := invoiceStatusOf[strings.ToUpper(inv.Status)]
	if !ok || at.IsZero() {
		return 0, at, nil
	}
	data := map[string]string{"invoice_id": inv.ID, "invoice_number": inv.InvoiceNumber, "destination": extra("destination"),
		"recipient_name": extra("recipient_name"), "recipient_bid": extra("recipient_bid")}
	if status == events.NoticeFailed {
		data["error_message"] = extra("error_message")
	}
	body, err := json.Marshal(map[string]any{"event": "DOCUMENTS.INVOICE." + status, "company_id": c,
		"event_timestamp": at.UTC().Format(time.RFC3339), "event_data": data})
	if err != nil {
		return 0, at, err
	}
	ev, err := events.FromWebhook(body, events.TraceContext{})
	if err != nil {
		return 0, at, fmt.Errorf("invoice %s: %w", inv.ID, err)
	}
	ev.WebhookID = "" // built from the invoice list, not from a webhook Maventa sent
	n, err := applyInvoice(ctx, p.facts, p.emit, inv.ID, events.InvoiceNotice{Status: status, At: at, Listed: true, Event: ev})
	if n > 0 {
		p.Stats.MissedWebhooks.Add(int64(n))
		missedWebhooks.Add(ctx, int64(n), companyAttr(c))
		p.log.Info("invoice status found only by polling (missed webhook)", "company_id", c, "invoice_id", inv.ID, "status", status)
	}
	return n, at, err
}
