package maventa_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
)

// TestSandboxOperatorMode runs the client in AuthOperator mode against the
// sandbox's ASSUMED operator semantics (sandbox token.go, "Operator tokens"):
// the operator token acts for the companies the operator operates.
func TestSandboxOperatorMode(t *testing.T) {
	const opID, opSecret = "operator-1", "operator-secret"
	e := newEnv(t)
	e.sb.AddOperator(opID, opSecret, sbCompany) // operates Acme only
	op, err := maventa.New(maventa.Config{
		AXBaseURL: e.srv.AXURL, ReceivablesBaseURL: e.srv.ReceivablesURL, VendorAPIKey: maventa.NewSecret(sbVendor),
		AuthMode: maventa.AuthOperator, OperatorID: opID, OperatorSecret: maventa.NewSecret(opSecret),
		Transport: e.rt, RequestsPerSecond: -1,
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mine := e.invoice(t, sbCompany, "O1", "10.00", "Debtor Oy", "1111111-1")
	theirs := e.invoice(t, sbOther, "O2", "10.00", "Debtor Oy", "1111111-1")

	// Receivables API with scope operator:receivables:assignments.
	var ids []string
	for a, err := range op.Assignments(ctx, sbCompany, maventa.AssignmentQuery{}, 0) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	if !slices.Equal(ids, []string{mine.AssignmentID}) {
		t.Errorf("operator assignments = %v, want only the operated company's", ids)
	}
	if _, err := op.AddEvent(ctx, sbCompany, mine.AssignmentID, maventa.NewPaidEvent(maventa.PaidData{SumPaid: events.MustDecimal("10")})); err != nil {
		t.Fatal(err)
	}
	a, err := op.GetAssignment(ctx, sbCompany, mine.AssignmentID)
	if err != nil || a.Status != "closed" {
		t.Errorf("operator's assignment = %+v, %v", a, err)
	}
	_, err = op.GetAssignment(ctx, sbOther, theirs.AssignmentID)
	var ae *maventa.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusForbidden {
		t.Errorf("non-operated company's assignment: %v", err)
	}
	if sl, err := op.SetServiceLevel(ctx, sbCompany, "1111111-1", "premium"); err != nil || sl.ServiceLevel != "premium" {
		t.Errorf("operator service level = %+v, %v", sl, err)
	}
	if list, err := e.c.ListServiceLevels(ctx, sbCompany); err != nil || len(list) != 1 || list[0].ServiceLevel != "premium" {
		t.Errorf("company sees operator's service level: %+v, %v", list, err)
	}
	if _, err := op.AddAssignmentMessage(ctx, sbCompany, mine.AssignmentID, maventa.NewMessage{Message: "operator here"}); err != nil {
		t.Error(err)
	}
	if msgs, err := e.c.ListAssignmentMessages(ctx, sbCompany, mine.AssignmentID); err != nil || len(msgs) != 1 {
		t.Errorf("company sees operator's message: %+v, %v", msgs, err)
	}

	// /v1/operator/notifications with scope operator:notifications.
	rcv := newHookReceiver(t)
	n, err := op.CreateNotification(ctx, sbCompany, maventa.NewNotification{Destination: rcv.srv.URL + "/op", Events: []string{"DOCUMENTS.*.*"}})
	if err != nil {
		t.Fatal(err)
	}
	if e.rt.count("POST /v1/operator/notifications") != 1 || e.rt.count("POST /v1/company/notifications") != 0 {
		t.Error("operator registration did not use /v1/operator/notifications")
	}
	if list, err := op.ListNotifications(ctx, sbCompany); err != nil || len(list) != 1 || list[0].ID != n.ID {
		t.Errorf("operator notifications = %+v, %v", list, err)
	}
	if got, err := op.GetNotification(ctx, sbCompany, n.ID); err != nil || got.Destination != rcv.srv.URL+"/op" {
		t.Errorf("operator notification = %+v, %v", got, err)
	}
	if list, err := e.c.ListNotifications(ctx, sbCompany); err != nil || len(list) != 0 {
		t.Errorf("company sees the operator's registration: %+v, %v", list, err)
	}
	again := e.invoice(t, sbCompany, "O3", "10.00", "Debtor Oy", "1111111-1")
	e.invoice(t, sbOther, "O4", "10.00", "Debtor Oy", "1111111-1")
	waitHooks(t, e.sb)
	hooks := rcv.at("/op")
	if len(hooks) != 1 || hooks[0].CompanyID != sbCompany {
		t.Fatalf("operator webhooks = %+v", hooks)
	}
	if d := hooks[0].Document; d.InvoiceID != again.InvoiceID {
		t.Errorf("operator webhook = %+v", d)
	}
	if err := op.DeleteNotification(ctx, sbCompany, n.ID); err != nil {
		t.Error(err)
	}
	if _, err := op.GetNotification(ctx, sbCompany, n.ID); !maventa.IsNotFound(err) {
		t.Errorf("deleted operator notification: %v", err)
	}

	// An operator of every company (AddOperator without a list) sees both
	// companies' assignments; service levels, keyed by one company, are refused.
	e.sb.AddOperator("operator-all", "secret-all")
	all, err := maventa.New(maventa.Config{
		AXBaseURL: e.srv.AXURL, ReceivablesBaseURL: e.srv.ReceivablesURL,
		AuthMode: maventa.AuthOperator, OperatorID: "operator-all", OperatorSecret: maventa.NewSecret("secret-all"),
		RequestsPerSecond: -1,
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pg, err := all.ListAssignments(ctx, sbCompany, maventa.AssignmentQuery{}, maventa.PageOptions{}); err != nil || pg.Total != 4 {
		t.Errorf("all-company operator assignments = %+v, %v", pg, err)
	}
	if _, err := all.ListServiceLevels(ctx, sbCompany); !errors.As(err, &ae) || ae.Status != http.StatusForbidden {
		t.Errorf("all-company operator service levels: %v", err)
	}

	// Services are company settings: the client asks the operator token for
	// company scopes, which the token endpoint refuses (permanent).
	_, err = op.GetReceivablesService(ctx, sbCompany, maventa.ProviderAmili)
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Code != "invalid_scope" || !maventa.IsPermanent(err) {
		t.Errorf("operator services: %v", err)
	}
}
