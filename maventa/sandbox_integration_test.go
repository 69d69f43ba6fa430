package maventa_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

const (
	sbCompany = "0b6c1f3e-5a8d-4a51-9a3e-2f1d7c9b8e01"
	sbOther   = "7e2d9c4b-1f3a-4c8e-b5d6-a9e8f7c6b5a4"
	sbAPIKey  = "sandbox-api-key"
	sbVendor  = "sandbox-vendor-key"
)

// startSandbox runs the fake Maventa on loopback and a client pointed at it.
func startSandbox(t *testing.T) (*sandbox.Sandbox, *maventa.Client) {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	sb := sandbox.New(sandbox.Config{Seed: 7, Logger: quiet, TimeScale: 3600})
	t.Cleanup(sb.Close)
	sb.AddCompany(sandbox.Company{ID: sbCompany, APIKey: sbAPIKey, VendorAPIKey: sbVendor, Name: "Acme Oy", BID: "1234567-8"})
	sb.AddCompany(sandbox.Company{ID: sbOther, APIKey: "other-key", VendorAPIKey: sbVendor, Name: "Other Oy", BID: "7654321-0"})
	srv, err := sandbox.Start(sb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	c, err := maventa.New(maventa.Config{
		AXBaseURL:          srv.AXURL,
		ReceivablesBaseURL: srv.ReceivablesURL,
		VendorAPIKey:       maventa.NewSecret(sbVendor),
		InitialBackoff:     time.Millisecond,
		MaxBackoff:         5 * time.Millisecond,
		MaxElapsed:         10 * time.Second,
		RequestsPerSecond:  -1,
	}, maventa.StaticCredentials(map[string]string{sbCompany: sbAPIKey, sbOther: "other-key"}), quiet)
	if err != nil {
		t.Fatal(err)
	}
	return sb, c
}

func sendInvoice(t *testing.T, sb *sandbox.Sandbox, company, number, sum string) sandbox.InvoiceResult {
	t.Helper()
	res, err := sb.SendInvoice(company, sandbox.InvoiceSpec{
		Number: number, Sum: sandbox.Amt(sum), RecipientName: "Debtor Oy", RecipientBID: "1111111-1",
		Street: "Katu 1", PostalCode: "00100", City: "Helsinki",
		DueDate: time.Now().AddDate(0, 0, 30).Format(time.DateOnly),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.AssignmentID == "" {
		t.Fatalf("invoice %s created no assignment: %+v", number, res)
	}
	return res
}

func TestSandboxAssignmentsAndEvents(t *testing.T) {
	sb, c := startSandbox(t)
	ctx := context.Background()
	res := sendInvoice(t, sb, sbCompany, "1001", "12.30")
	for i := range 3 {
		sendInvoice(t, sb, sbCompany, "20"+string(rune('0'+i)), "1.00")
	}

	a, err := c.GetAssignment(ctx, sbCompany, res.AssignmentID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Sum.String() != "12.30" || a.Number != "1001" {
		t.Errorf("assignment = %+v", a)
	}
	if inv, ok := a.InvoiceID(); !ok || inv != res.InvoiceID {
		t.Errorf("InvoiceID = %q, want %q", inv, res.InvoiceID)
	}

	var ids []string
	for a, err := range c.Assignments(ctx, sbCompany, maventa.AssignmentQuery{Status: "open"}, 2) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	if len(ids) != 4 {
		t.Errorf("assignments = %d, want 4", len(ids))
	}
	page, err := c.ListAssignments(ctx, sbCompany, maventa.AssignmentQuery{}, maventa.PageOptions{PerPage: 3})
	if err != nil || len(page.Items) != 3 || page.NextPage != 2 || page.Total != 4 {
		t.Errorf("page = %+v, %v", page, err)
	}

	// The company reports a direct payment; amounts stay exact.
	if _, err := c.AddEvent(ctx, sbCompany, res.AssignmentID, maventa.NewPaidEvent(maventa.PaidData{SumPaid: events.MustDecimal("0.1"), BookedAt: time.Now().Format(time.DateOnly)})); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddEvent(ctx, sbCompany, res.AssignmentID, maventa.NewPaidEvent(maventa.PaidData{SumPaid: events.MustDecimal("0.2"), BookedAt: time.Now().Format(time.DateOnly)})); err != nil {
		t.Fatal(err)
	}
	a, err = c.GetAssignment(ctx, sbCompany, res.AssignmentID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Paid.Cmp(events.MustDecimal("0.3")) != 0 {
		t.Errorf("paid = %s, want exactly 0.3", a.Paid)
	}

	// The agency sends a reminder; the company sees it through GET /v1/events.
	if _, err := sb.AddAgencyEvent(res.AssignmentID, "reminder_sent", nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	var reminder maventa.Event
	for ev, err := range c.Events(ctx, sbCompany, maventa.EventQuery{Type: maventa.EventReminderSent}, 0) {
		if err != nil {
			t.Fatal(err)
		}
		reminder = ev
	}
	if reminder.Type != maventa.EventReminderSent {
		t.Fatalf("reminder not listed: %+v", reminder)
	}
	if err := c.MarkEventSeen(ctx, sbCompany, res.AssignmentID, reminder.ID); err != nil {
		t.Fatal(err)
	}
	evs, err := c.ListAssignmentEvents(ctx, sbCompany, res.AssignmentID)
	if err != nil || len(evs) < 3 {
		t.Errorf("assignment events = %d, %v", len(evs), err)
	}
	if _, err := c.AssignmentsOverview(ctx, sbCompany); err != nil {
		t.Error(err)
	}

	// Another company's assignment is forbidden: typed, permanent.
	_, err = c.GetAssignment(ctx, sbOther, res.AssignmentID)
	if !maventa.IsAuth(err) || !maventa.IsPermanent(err) {
		t.Errorf("other company's assignment err = %v", err)
	}
	_, err = c.GetAssignment(ctx, sbCompany, "00000000-0000-0000-0000-000000000000")
	if !maventa.IsNotFound(err) {
		t.Errorf("missing assignment err = %v", err)
	}
}

func TestSandboxResilience(t *testing.T) {
	sb, c := startSandbox(t)
	ctx := context.Background()
	res := sendInvoice(t, sb, sbCompany, "3001", "5.00")
	if _, err := c.GetAssignment(ctx, sbCompany, res.AssignmentID); err != nil {
		t.Fatal(err)
	}

	// Maventa forgets every token: the client fetches a new one once and carries on.
	sb.ExpireTokens()
	if _, err := c.GetAssignment(ctx, sbCompany, res.AssignmentID); err != nil {
		t.Fatalf("after token expiry: %v", err)
	}

	// Two 503s on the receivables host are retried.
	sb.SetFault(sandbox.Fault{Listener: "receivables", Path: "/v1/assignments/*", Status: http.StatusServiceUnavailable, Count: 2})
	if _, err := c.GetAssignment(ctx, sbCompany, res.AssignmentID); err != nil {
		t.Fatalf("after transient 503s: %v", err)
	}
	sb.ClearFaults()

	// Company-only rules are enforced locally.
	if _, err := c.AddEvent(ctx, sbCompany, res.AssignmentID, maventa.NewEvent{Type: maventa.EventClose}); err == nil {
		t.Error("company created a close event")
	}
}

func TestSandboxAXAndWebhooks(t *testing.T) {
	sb, c := startSandbox(t)
	ctx := context.Background()

	var mu sync.Mutex
	var hooks []events.Webhook
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		env, err := maventa.ParseWebhookEnvelope(body)
		wh := env.Input(body)
		if err != nil {
			t.Errorf("webhook %s: %v", body, err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		hooks = append(hooks, wh)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	n, err := c.CreateNotification(ctx, sbCompany, maventa.NewNotification{Destination: receiver.URL + "/hook", Events: []string{"DOCUMENTS.*.*"}})
	if err != nil {
		t.Fatal(err)
	}
	list, err := c.ListNotifications(ctx, sbCompany)
	if err != nil || len(list) != 1 || list[0].ID != n.ID {
		t.Errorf("notifications = %+v, %v", list, err)
	}
	if _, err := c.GetNotification(ctx, sbCompany, n.ID); err != nil {
		t.Error(err)
	}

	res := sendInvoice(t, sb, sbCompany, "4001", "99.99")
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sb.WaitWebhooks(wctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	var delivered *events.Webhook
	for i := range hooks {
		if hooks[i].Name == "DOCUMENTS.INVOICE.DELIVERED" {
			delivered = &hooks[i]
		}
	}
	mu.Unlock()
	if delivered == nil {
		t.Fatalf("no DOCUMENTS.INVOICE.DELIVERED webhook among %+v", hooks)
	}
	if doc := delivered.Document; doc.InvoiceID != res.InvoiceID || delivered.CompanyID != sbCompany {
		t.Errorf("document event = %+v", doc)
	}
	if err := c.DeleteNotification(ctx, sbCompany, n.ID); err != nil {
		t.Error(err)
	}

	// Services: activation request, then Maventa/Amili activates.
	if _, err := c.ActivateReceivablesService(ctx, sbCompany, maventa.ProviderAmili, maventa.ServiceActivation{
		IBAN: "FI4900000000000000", BIC: "DABAFIHH", ContactPerson: "John Doe", ContactEmail: "john@acme.example",
	}); err != nil {
		t.Fatal(err)
	}
	if err := sb.ActivateService(sbCompany, "amili"); err != nil {
		t.Fatal(err)
	}
	st, err := c.GetReceivablesService(ctx, sbCompany, maventa.ProviderAmili)
	if err != nil || st.Status == "" {
		t.Errorf("service = %+v, %v", st, err)
	}
	if _, err := c.GetLegacyReceivablesService(ctx, sbCompany); err != nil {
		t.Error(err)
	}

	// Invoices changed since a time, and the transfer state of one.
	var found bool
	for inv, err := range c.Invoices(ctx, sbCompany, maventa.InvoiceQuery{UpdatedAfter: time.Now().Add(-time.Hour)}, 0) {
		if err != nil {
			t.Fatal(err)
		}
		found = found || inv.ID == res.InvoiceID
	}
	if !found {
		t.Errorf("invoice %s not listed", res.InvoiceID)
	}
	if _, err := c.GetInvoiceAssignment(ctx, sbCompany, res.InvoiceID); err != nil {
		var ae *maventa.APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
			t.Errorf("invoice assignment: %v", err)
		}
	}
}
