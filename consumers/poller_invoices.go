package consumers

import (
	"context"
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
	at := inv.UpdatedAt()
	status, ok := invoiceStatusOf[strings.ToUpper(inv.Status)]
	if !ok || at.IsZero() {
		return 0, at, nil
	}
	ev, err := events.NewInvoiceEvent(inv.Notification(c, status), events.TraceContext{})
	if err != nil {
		return 0, at, fmt.Errorf("invoice %s: %w", inv.ID, err)
	}
	n, err := applyInvoice(ctx, p.facts, p.emit, inv.ID, events.InvoiceNotice{Status: status, At: at, Listed: true, Event: ev})
	if n > 0 {
		p.Stats.MissedWebhooks.Add(int64(n))
		missedWebhooks.Add(ctx, int64(n), companyAttr(c))
		p.log.Info("invoice status found only by polling (missed webhook)", "company_id", c, "invoice_id", inv.ID, "status", status)
	}
	return n, at, err
}
