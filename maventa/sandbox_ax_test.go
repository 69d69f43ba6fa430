package maventa_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

// hookReceiver collects the webhooks the sandbox delivers.
type hookReceiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	hooks map[string][]events.Webhook // by request path
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	h := &hookReceiver{hooks: map[string][]events.Webhook{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		env, err := maventa.ParseWebhookEnvelope(body)
		wh := env.Input(body)
		if err != nil {
			t.Errorf("webhook %s: %v", body, err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.hooks[r.URL.Path] = append(h.hooks[r.URL.Path], wh)
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) at(path string) []events.Webhook {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]events.Webhook(nil), h.hooks[path]...)
}

func waitHooks(t *testing.T, sb *sandbox.Sandbox) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sb.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSandboxNotifications(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rcv := newHookReceiver(t)

	own, err := e.c.CreateNotification(ctx, sbCompany, maventa.NewNotification{
		Destination: rcv.srv.URL + "/own?secret=s3cret", Events: []string{"DOCUMENTS.INVOICE.DELIVERED"}})
	if err != nil {
		t.Fatal(err)
	}
	if own.ID == "" || own.DestinationType != maventa.DestinationWebhook || own.Destination != rcv.srv.URL+"/own?secret=s3cret" ||
		!slices.Equal(own.Events, []string{"DOCUMENTS.INVOICE.DELIVERED"}) {
		t.Errorf("webhook = %+v", own)
	}
	vendor, err := e.c.CreateNotification(ctx, sbCompany, maventa.NewNotification{
		DestinationType: maventa.DestinationVendorWebhook, Destination: rcv.srv.URL + "/vendor",
		Events: []string{"DOCUMENTS.*.*"}, VendorKey: sbVendor})
	if err != nil {
		t.Fatal(err)
	}
	if vendor.DestinationType != maventa.DestinationVendorWebhook || !slices.Equal(vendor.Events, []string{"DOCUMENTS.*.*"}) {
		t.Errorf("vendor webhook = %+v", vendor)
	}
	if raw := vendor.Extra["vendor_key"]; string(raw) != `"`+sbVendor+`"` {
		t.Errorf("vendor_key echoed as %s", raw)
	}

	list, err := e.c.ListNotifications(ctx, sbCompany)
	if err != nil || len(list) != 2 {
		t.Fatalf("notifications = %+v, %v", list, err)
	}
	ids := []string{list[0].ID, list[1].ID}
	if !slices.Contains(ids, own.ID) || !slices.Contains(ids, vendor.ID) {
		t.Errorf("listed %v, want %s and %s", ids, own.ID, vendor.ID)
	}
	if n, err := e.c.GetNotification(ctx, sbCompany, vendor.ID); err != nil || n.ID != vendor.ID || n.Destination != rcv.srv.URL+"/vendor" {
		t.Errorf("get = %+v, %v", n, err)
	}
	if others, err := e.c.ListNotifications(ctx, sbOther); err != nil || len(others) != 0 {
		t.Errorf("other company's notifications = %+v, %v", others, err)
	}
	if _, err := e.c.GetNotification(ctx, sbOther, own.ID); !maventa.IsAuth(err) {
		t.Errorf("other company's notification: %v", err)
	}

	// The company's WEBHOOK hears its own invoice; the VENDOR_WEBHOOK hears both companies'.
	mine := e.invoice(t, sbCompany, "N1", "10.00", "Debtor Oy", "1111111-1")
	theirs := e.invoice(t, sbOther, "N2", "10.00", "Debtor Oy", "1111111-1")
	waitHooks(t, e.sb)
	ownHooks := rcv.at("/own")
	if len(ownHooks) != 1 || ownHooks[0].Name != "DOCUMENTS.INVOICE.DELIVERED" || ownHooks[0].CompanyID != sbCompany {
		t.Fatalf("own hooks = %+v", ownHooks)
	}
	if d := ownHooks[0].Document; d.InvoiceID != mine.InvoiceID || d.InvoiceNumber != "N1" {
		t.Errorf("own document event = %+v", d)
	}
	companies := map[string]bool{}
	for _, h := range rcv.at("/vendor") {
		companies[h.CompanyID] = true
		if d := h.Document; d.InvoiceID != mine.InvoiceID && d.InvoiceID != theirs.InvoiceID {
			t.Errorf("vendor document event = %+v", d)
		}
	}
	if !companies[sbCompany] || !companies[sbOther] {
		t.Errorf("vendor webhook heard companies %v", companies)
	}

	// Registrations the sandbox refuses, and one the client refuses itself.
	_, err = e.c.CreateNotification(ctx, sbCompany, maventa.NewNotification{Destination: rcv.srv.URL, Events: []string{"X.*"}, VendorKey: sbVendor})
	var ae *maventa.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusUnprocessableEntity || !maventa.IsPermanent(err) {
		t.Errorf("vendor_key on a WEBHOOK: %v", err)
	}
	var ve *maventa.ValidationError
	if _, err := e.c.CreateNotification(ctx, sbCompany, maventa.NewNotification{Destination: rcv.srv.URL}); !errors.As(err, &ve) {
		t.Errorf("no events: %v", err)
	}

	for _, id := range []string{own.ID, vendor.ID} {
		if err := e.c.DeleteNotification(ctx, sbCompany, id); err != nil {
			t.Error(err)
		}
	}
	if list, err := e.c.ListNotifications(ctx, sbCompany); err != nil || len(list) != 0 {
		t.Errorf("after delete: %+v, %v", list, err)
	}
	if _, err := e.c.GetNotification(ctx, sbCompany, own.ID); !maventa.IsNotFound(err) {
		t.Errorf("deleted notification: %v", err)
	}
	if err := e.c.DeleteNotification(ctx, sbCompany, own.ID); !maventa.IsNotFound(err) {
		t.Errorf("second delete: %v", err)
	}
}

func TestSandboxReceivablesServices(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rcv := newHookReceiver(t)
	if _, err := e.c.CreateNotification(ctx, sbCompany, maventa.NewNotification{Destination: rcv.srv.URL + "/svc", Events: []string{"SERVICES.*"}}); err != nil {
		t.Fatal(err)
	}

	if _, err := e.c.GetReceivablesService(ctx, sbCompany, maventa.ProviderAmili); !maventa.IsNotFound(err) {
		t.Errorf("amili before activation: %v", err)
	}
	if st, err := e.c.GetLegacyReceivablesService(ctx, sbCompany); err != nil || st.Status != maventa.ServiceDisabled {
		t.Errorf("legacy before activation = %+v, %v", st, err)
	}

	act := maventa.ServiceActivation{
		IBAN: "FI4900000000000000", BIC: "DABAFIHH", Bank: "Danske Bank", ContactPerson: "John Doe",
		ContactEmail: "john.doe@company.fi", ContactPhoneNumber: "04040404",
		CustomerServiceEmail: "customer_service@company.fi", CustomerServicePhoneNumber: "05050505",
		BillingAddress: &maventa.Address{Country: "FI", Streets: []string{"Street 1"}, City: "Helsinki", ZipCode: "00100"},
		PostalAddress:  &maventa.Address{Country: "FI", Streets: []string{"Street 2"}, City: "Helsinki", ZipCode: "00100"},
	}
	st, err := e.c.ActivateReceivablesService(ctx, sbCompany, maventa.ProviderAmili, act)
	if err != nil {
		t.Fatal(err)
	}
	var iban string
	_ = json.Unmarshal(st.Extra["iban"], &iban)
	if st.Status != "pending" || st.ActivationURL == "" || st.VFSFI != nil || iban != act.IBAN {
		t.Errorf("amili after PUT = %+v", st)
	}
	var billing maventa.Address
	if err := json.Unmarshal(st.Extra["billing_address"], &billing); err != nil || billing.ZipCode != "00100" || billing.Streets[0] != "Street 1" {
		t.Errorf("billing_address = %s (%v)", st.Extra["billing_address"], err)
	}
	if legacy, err := e.c.GetLegacyReceivablesService(ctx, sbCompany); err != nil || legacy.Status != maventa.ServicePending {
		t.Errorf("legacy pending = %+v, %v", legacy, err)
	}

	// Visma Amili verifies the KYC: active with its payment details.
	if err := e.sb.ActivateService(sbCompany, "amili"); err != nil {
		t.Fatal(err)
	}
	st, err = e.c.GetReceivablesService(ctx, sbCompany, maventa.ProviderAmili)
	if err != nil || st.Status != "active" || st.ActivationURL != "" || st.VFSFI == nil {
		t.Fatalf("amili active = %+v, %v", st, err)
	}
	if st.VFSFI.IBAN != "FI2357169020052929" || st.VFSFI.BIC != "OKOYFIHH" || st.VFSFI.AccountNumber != "571690-20052929" || len(st.VFSFI.Notes) != 3 || st.VFSFI.Notes[0].Code != "FI" {
		t.Errorf("vfsfi = %+v", st.VFSFI)
	}
	legacy, err := e.c.GetLegacyReceivablesService(ctx, sbCompany)
	if err != nil || legacy.Status != maventa.ServiceActive || legacy.VFSFI == nil || legacy.VFSFI.IBAN != "FI2357169020052929" {
		t.Errorf("legacy active = %+v, %v", legacy, err)
	}
	waitHooks(t, e.sb)
	if hooks := rcv.at("/svc"); len(hooks) != 1 || hooks[0].CompanyID != sbCompany {
		t.Errorf("activation webhooks = %+v", hooks)
	}

	// PATCH changes one field and keeps the rest.
	st, err = e.c.UpdateReceivablesService(ctx, sbCompany, maventa.ProviderAmili, maventa.ServiceActivation{AccountableParty: "company"})
	var party string
	_ = json.Unmarshal(st.Extra["accountable_party"], &party)
	iban = ""
	_ = json.Unmarshal(st.Extra["iban"], &iban)
	if err != nil || party != "company" || iban != act.IBAN || st.Status != "active" {
		t.Errorf("after PATCH = %+v, %v", st, err)
	}
	_, err = e.c.UpdateReceivablesService(ctx, sbCompany, maventa.ProviderAmili, maventa.ServiceActivation{AccountableParty: "nobody"})
	var ae *maventa.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusUnprocessableEntity {
		t.Errorf("invalid accountable_party: %v", err)
	}

	// service_type (seed 003): "express" is Amili Perintä; other values are refused.
	_, err = e.c.ActivateReceivablesService(ctx, sbOther, maventa.ProviderAmili, maventa.ServiceActivation{ServiceType: "cheap"})
	if !errors.As(err, &ae) || ae.Status != http.StatusUnprocessableEntity {
		t.Errorf("invalid service_type: %v", err)
	}
	st, err = e.c.ActivateReceivablesService(ctx, sbOther, maventa.ProviderAmili, maventa.ServiceActivation{ServiceType: "express", AccountableParty: "vfsfi"})
	var stype string
	if err == nil {
		_ = json.Unmarshal(st.Extra["service_type"], &stype)
	}
	if err != nil || stype != "express" || st.Status != "pending" {
		t.Errorf("express activation = %+v, %v", st, err)
	}
	if def, err := e.c.GetReceivablesService(ctx, sbCompany, maventa.ProviderAmili); err == nil {
		stype = ""
		_ = json.Unmarshal(def.Extra["service_type"], &stype)
		if stype != "full" {
			t.Errorf("default service_type = %q", stype)
		}
	}

	// Ropo: activation, then Maventa/Ropo rejects; PATCH is Amili only.
	st, err = e.c.ActivateReceivablesService(ctx, sbCompany, maventa.ProviderRopo, maventa.ServiceActivation{ContactPerson: "John Doe", ContactEmail: "john.doe@company.fi"})
	if err != nil || st.Status != "pending" || st.VFSFI != nil {
		t.Errorf("ropo after PUT = %+v, %v", st, err)
	}
	if _, err := e.c.UpdateReceivablesService(ctx, sbCompany, maventa.ProviderRopo, act); err == nil || !maventa.IsPermanent(err) {
		t.Errorf("ropo PATCH: %v", err)
	}
	if err := e.sb.RejectService(sbCompany, "ropo", "KYC not completed"); err != nil {
		t.Fatal(err)
	}
	if st, err := e.c.GetReceivablesService(ctx, sbCompany, maventa.ProviderRopo); err != nil || st.Status != "rejected" {
		t.Errorf("ropo rejected = %+v, %v", st, err)
	}

	// Closing: the services are gone, the legacy view is DISABLED.
	for _, p := range []string{maventa.ProviderAmili, maventa.ProviderRopo} {
		if err := e.c.CloseReceivablesService(ctx, sbCompany, p); err != nil {
			t.Errorf("close %s: %v", p, err)
		}
		if _, err := e.c.GetReceivablesService(ctx, sbCompany, p); !maventa.IsNotFound(err) {
			t.Errorf("%s after close: %v", p, err)
		}
	}
	if legacy, err := e.c.GetLegacyReceivablesService(ctx, sbCompany); err != nil || legacy.Status != maventa.ServiceDisabled {
		t.Errorf("legacy after close = %+v, %v", legacy, err)
	}
}

func TestSandboxInvoices(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.invoice(t, sbCompany, "I1", "10.00", "Debtor Oy", "1111111-1")
	e.invoice(t, sbCompany, "I2", "10.00", "Debtor Oy", "1111111-1")
	t1 := e.clock.Advance(time.Hour)
	i3 := e.invoice(t, sbCompany, "I3", "30.00", "Debtor Oy", "1111111-1")
	// Due in two days: Amili refuses it (code #13), the invoice fails without assignment.
	failed, err := e.sb.SendInvoice(sbCompany, sandbox.InvoiceSpec{
		Number: "I4", Sum: sandbox.Amt("5.00"), RecipientName: "Debtor Oy", Street: "Katu 1", PostalCode: "00100", City: "Helsinki",
		DueDate: e.clock.Now().AddDate(0, 0, 2).Format(time.DateOnly),
	})
	if err != nil || failed.AssignmentID != "" || failed.Status != "FAILED" {
		t.Fatalf("failed invoice = %+v, %v", failed, err)
	}
	// Not in EUR: bypasses Amili, no assignment at all.
	sek, err := e.sb.SendInvoice(sbCompany, sandbox.InvoiceSpec{
		Number: "I5", Sum: sandbox.Amt("5.00"), Currency: "SEK", RecipientName: "Debtor Ab", Street: "Gatan 1", PostalCode: "00100", City: "Helsinki",
		DueDate: e.clock.Now().AddDate(0, 0, 30).Format(time.DateOnly),
	})
	if err != nil || sek.AssignmentID != "" {
		t.Fatalf("SEK invoice = %+v, %v", sek, err)
	}

	// Changed since t1, one per page.
	pg, err := e.c.ListInvoices(ctx, sbCompany, maventa.InvoiceQuery{UpdatedAfter: t1}, maventa.PageOptions{PerPage: 1})
	if err != nil || len(pg.Items) != 1 || pg.Total != 3 || pg.NextPage != 2 || pg.Items[0].ID != sek.InvoiceID {
		t.Fatalf("first page = %+v, %v", pg, err)
	}
	e.rt.reset()
	byNumber := map[string]maventa.Invoice{}
	for inv, err := range e.c.Invoices(ctx, sbCompany, maventa.InvoiceQuery{UpdatedAfter: t1}, 2) {
		if err != nil {
			t.Fatal(err)
		}
		byNumber[inv.InvoiceNumber] = inv
	}
	if len(byNumber) != 3 || e.rt.count("GET /v1/invoices") != 2 {
		t.Fatalf("changed since t1 = %v in %d requests", byNumber, e.rt.count("GET /v1/invoices"))
	}
	if inv := byNumber["I3"]; inv.ID != i3.InvoiceID || inv.Status != "SENT" {
		t.Errorf("I3 = %+v", inv)
	}
	if inv := byNumber["I4"]; inv.ID != failed.InvoiceID || inv.Status != "FAILED" {
		t.Errorf("I4 = %+v", inv)
	}
	var n int
	for _, err := range e.c.Invoices(ctx, sbCompany, maventa.InvoiceQuery{}, 0) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 5 {
		t.Errorf("all invoices = %d, want 5", n)
	}
	if pg, err := e.c.ListInvoices(ctx, sbCompany, maventa.InvoiceQuery{UpdatedBefore: t1.Add(-time.Second)}, maventa.PageOptions{}); err != nil || pg.Total != 2 {
		t.Errorf("changed before t1 = %+v, %v", pg, err)
	}

	// Transfer states: sent with the assignment, error with Amili's message, none.
	ia, err := e.c.GetInvoiceAssignment(ctx, sbCompany, i3.InvoiceID)
	var aid string
	_ = json.Unmarshal(ia.Extra["assignment_id"], &aid)
	if err != nil || ia.Status != maventa.TransferSent || aid != i3.AssignmentID {
		t.Errorf("I3 transfer = %+v, %v", ia, err)
	}
	ia, err = e.c.GetInvoiceAssignment(ctx, sbCompany, failed.InvoiceID)
	if err != nil || ia.Status != maventa.TransferError {
		t.Errorf("I4 transfer = %+v, %v", ia, err)
	}
	if _, err := e.c.GetInvoiceAssignment(ctx, sbCompany, sek.InvoiceID); !maventa.IsNotFound(err) {
		t.Errorf("SEK transfer: %v", err)
	}
	if _, err := e.c.GetInvoiceAssignment(ctx, sbOther, i3.InvoiceID); !maventa.IsAuth(err) {
		t.Errorf("other company's invoice: %v", err)
	}
}
