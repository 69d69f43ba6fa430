package consumers

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
)

// noReceivablesAPI answers /v1/events and the message threads of every company
// as Maventa does for a company without the receivables service: 403.
type noReceivablesAPI struct{ PollAPI }

func forbidden(path string) error {
	return &maventa.APIError{Status: 403, Code: "forbidden", Method: "GET", Path: path}
}

func (noReceivablesAPI) ListEvents(context.Context, string, maventa.EventQuery, maventa.PageOptions) (maventa.Page[maventa.Event], error) {
	return maventa.Page[maventa.Event]{}, forbidden("/v1/events")
}

func (noReceivablesAPI) ListMessageThreads(context.Context, string, maventa.PageOptions) (maventa.Page[maventa.MessageThread], error) {
	return maventa.Page[maventa.MessageThread]{}, forbidden("/v1/messages")
}

// Issue 15's defect: a failed events read ended the poll before the invoice
// fallback, so a company without the receivables service never had its sent
// invoices polled.
func TestInvoiceFallbackRunsWhenTheEventsReadFails(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)}
	env := newPollEnv(t, clk.Now)
	env.invoice(pollCompanyA, "6001")
	clk.Add(time.Minute)
	p := env.poller(PollerConfig{Invoices: true, Messages: true, Now: clk.Now}, noReceivablesAPI{env.client})
	res, err := p.PollCompany(context.Background(), pollCompanyA, time.Time{}, true)
	var ae *maventa.APIError
	if !errors.As(err, &ae) || ae.Status != 403 {
		t.Fatalf("poll error %v, want the events read's 403 reported", err)
	}
	if got := countType(env.stored(), events.TypeInvoiceDelivered); got != 1 {
		t.Fatalf("%d invoice.delivered emitted, want 1 from the invoice fallback (poll %+v)", got, res)
	}
	if res.Emitted != 1 {
		t.Errorf("poll reports %d emitted, want 1", res.Emitted)
	}
}
