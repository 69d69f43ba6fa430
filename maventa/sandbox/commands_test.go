package sandbox

import (
	"net/http"
	"testing"
	"time"
)

// TestAfterApplyFault: the call is applied, then answered with the fault's status.
func TestAfterApplyFault(t *testing.T) {
	e := newEnv(t, Config{})
	a := e.assignment("AF1", "10.00")
	tok := e.defaultToken()
	e.sb.SetFault(Fault{Method: "POST", Path: "/v1/assignments/*/events", Status: 504, AfterApply: true, Count: 1})
	resp := e.do(http.MethodPost, e.rec.URL+"/v1/assignments/"+a+"/events", tok, map[string]any{"type": "comment", "data": map[string]any{"comment": "x"}}, nil)
	expect(t, resp.StatusCode == 504, "status %d", resp.StatusCode)
	expect(t, e.sb.CompanyEvents(a, "comment") == 1, "applied %d times", e.sb.CompanyEvents(a, "comment"))
	e.sb.SetFault(Fault{Method: "POST", Path: "/v1/assignments/*/events", Status: 504, Count: 1})
	resp = e.do(http.MethodPost, e.rec.URL+"/v1/assignments/"+a+"/events", tok, map[string]any{"type": "comment", "data": map[string]any{"comment": "y"}}, nil)
	expect(t, resp.StatusCode == 504 && e.sb.CompanyEvents(a, "comment") == 1, "a plain fault applied: %d", e.sb.CompanyEvents(a, "comment"))
}

// TestFreezeRunsOut: freeze -> freeze_confirmed; once the end date has passed,
// /admin/freezes/end adds unfreezed.
func TestFreezeRunsOut(t *testing.T) {
	e := newEnv(t, Config{})
	a := e.assignment("FR1", "10.00")
	end := e.clock.Now().AddDate(0, 0, 3).Format(time.DateOnly)
	if _, err := e.sb.AddCompanyEvent(a, "freeze", map[string]any{"frozen": true, "end_date": end}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	var out map[string]int
	e.do(http.MethodPost, e.admin.URL+"/admin/freezes/end", "", nil, &out)
	expect(t, out["ended"] == 0, "ended %v before the end date", out)
	e.clock.Advance(4 * 24 * time.Hour)
	e.do(http.MethodPost, e.admin.URL+"/admin/freezes/end", "", nil, &out)
	expect(t, out["ended"] == 1, "ended %v", out)
	sa, _ := e.sb.Assignment(a)
	expect(t, sa.Events[0].Type == "unfreezed", "newest event %s", sa.Events[0].Type)
}

// TestTransferLifecycle: a transfer is pending when first read, then sent with
// a new assignment; a second transfer is refused; a failed one ends in error.
func TestTransferLifecycle(t *testing.T) {
	e := newEnv(t, Config{StrictActivation: true})
	tok := e.token(testCompany, "key-1", "vendor-1", ScopeInvoices)
	res, err := e.sb.SendInvoice(testCompany, e.validSpec("TR1", "100.00"))
	if err != nil || res.AssignmentID != "" {
		t.Fatalf("%+v %v", res, err)
	}
	u := e.ax.URL + "/v2/invoices/" + res.InvoiceID + "/assignment"
	resp := e.do(http.MethodGet, u, tok, nil, nil)
	expect(t, resp.StatusCode == 404, "before: %d", resp.StatusCode)
	resp = e.do(http.MethodPost, u+"/ropo", tok, nil, nil)
	expect(t, resp.StatusCode == 201, "transfer %d", resp.StatusCode)
	resp = e.do(http.MethodPost, u+"/ropo", tok, nil, nil)
	expect(t, resp.StatusCode == 409, "second transfer %d", resp.StatusCode)
	var st map[string]any
	e.do(http.MethodGet, u, tok, nil, &st)
	expect(t, st["status"] == "pending", "first read %v", st)
	e.do(http.MethodGet, u, tok, nil, &st)
	expect(t, st["status"] == "sent" && st["assignment_id"] != nil && st["provider"] == "ropo", "second read %v", st)

	res2, _ := e.sb.SendInvoice(testCompany, e.validSpec("TR2", "100.00"))
	u2 := e.ax.URL + "/v2/invoices/" + res2.InvoiceID + "/assignment"
	resp = e.do(http.MethodPost, u2+"/amili", tok, map[string]any{"receivables_type": "b2z"}, nil)
	expect(t, resp.StatusCode == 422, "invalid amili body %d", resp.StatusCode)
	resp = e.do(http.MethodPost, u2+"/amili", tok, map[string]any{"collection_type": "normal", "receivables_type": "b2c",
		"amounts": map[string]any{"capital_amount": 100}, "payers": []map[string]any{{"type": "main_debtor", "name": "M",
			"address": map[string]any{"street": "K 1", "postal_code": "00100", "city": "Helsinki"}}}}, nil)
	expect(t, resp.StatusCode == 201, "amili %d", resp.StatusCode)
	resp = e.do(http.MethodPost, e.admin.URL+"/admin/invoices/"+res2.InvoiceID+"/transfer/fail", "", map[string]any{"error_message": "paid already"}, nil)
	expect(t, resp.StatusCode == 204, "fail %d", resp.StatusCode)
	e.do(http.MethodGet, u2, tok, nil, &st)
	e.do(http.MethodGet, u2, tok, nil, &st)
	expect(t, st["status"] == "error" && st["error_message"] == "paid already", "failed transfer %v", st)
}
