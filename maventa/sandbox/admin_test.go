package sandbox

import (
	"context"
	"net/http"
	"testing"
)

func TestAdminAPI(t *testing.T) {
	e := newEnv(t, Config{})
	a := e.admin.URL + "/admin"
	var c Company
	resp := e.do(http.MethodPost, a+"/companies", "", Company{Name: "New Oy"}, &c)
	expect(t, resp.StatusCode == 201 && c.ID != "" && c.APIKey != "" && c.VendorAPIKey != "", "company %d %+v", resp.StatusCode, c)

	var res InvoiceResult
	spec := e.validSpec("A1", "99.90")
	resp = e.do(http.MethodPost, a+"/companies/"+c.ID+"/invoices", "", spec, &res)
	expect(t, resp.StatusCode == 201 && res.AssignmentID != "", "invoice %d %+v", resp.StatusCode, res)

	var ev Event
	resp = e.do(http.MethodPost, a+"/assignments/"+res.AssignmentID+"/events", "", map[string]any{
		"type": "paid", "data": map[string]any{"sum_paid": Amt("99.90")}, "happened_at": "2026-03-05"}, &ev)
	expect(t, resp.StatusCode == 201 && ev.PartyID == AgencyPartyID, "event %d %+v", resp.StatusCode, ev)
	var asg Assignment
	e.do(http.MethodGet, a+"/assignments/"+res.AssignmentID, "", nil, &asg)
	expect(t, asg.Status == "closed", "status %s", asg.Status)

	resp = e.do(http.MethodPost, a+"/assignments/"+res.AssignmentID+"/events", "", map[string]any{"type": "paid", "data": map[string]any{}, "party": "company"}, nil)
	expect(t, resp.StatusCode == 422, "company event on closed %d", resp.StatusCode)
	resp = e.do(http.MethodPost, a+"/assignments/nope/events", "", map[string]any{"type": "paid"}, nil)
	expect(t, resp.StatusCode == 404, "missing assignment %d", resp.StatusCode)

	resp = e.do(http.MethodPost, a+"/companies/"+c.ID+"/services/amili/activate", "", nil, nil)
	expect(t, resp.StatusCode == 200, "activate %d", resp.StatusCode)
	resp = e.do(http.MethodPost, a+"/companies/"+c.ID+"/services/ropo/reject", "", map[string]any{"reason": "no"}, nil)
	expect(t, resp.StatusCode == 200, "reject %d", resp.StatusCode)
	resp = e.do(http.MethodPost, a+"/companies/"+c.ID+"/networks", "", map[string]any{"network": "PEPPOL", "action": "CREATED"}, nil)
	expect(t, resp.StatusCode == 204, "network %d", resp.StatusCode)
	resp = e.do(http.MethodPost, a+"/companies/"+c.ID+"/networks", "", map[string]any{"network": "PEPPOL", "action": "EXPLODED"}, nil)
	expect(t, resp.StatusCode == 422, "bad network action %d", resp.StatusCode)
	resp = e.do(http.MethodPost, a+"/companies/"+c.ID+"/authorization", "", map[string]any{"state": "VERIFIED"}, nil)
	expect(t, resp.StatusCode == 204, "authorization %d", resp.StatusCode)

	var f map[string]string
	resp = e.do(http.MethodPost, a+"/faults", "", map[string]any{"path": "/v1/events", "status": 429, "retry_after": 3, "latency": "1ms"}, &f)
	expect(t, resp.StatusCode == 201 && f["id"] != "", "fault %d %v", resp.StatusCode, f)
	faults := e.sb.Faults()
	expect(t, len(faults) == 1 && faults[0].Latency.Milliseconds() == 1 && faults[0].RetryAfter == 3, "faults %+v", faults)
	resp = e.do(http.MethodDelete, a+"/faults/"+f["id"], "", nil, nil)
	expect(t, resp.StatusCode == 204 && len(e.sb.Faults()) == 0, "clear %d", resp.StatusCode)

	tok := e.defaultToken()
	resp = e.do(http.MethodPost, a+"/tokens/expire", "", nil, nil)
	expect(t, resp.StatusCode == 204, "expire %d", resp.StatusCode)
	resp = e.do(http.MethodGet, e.rec.URL+"/v1/assignments", tok, nil, nil)
	expect(t, resp.StatusCode == 401, "after expire %d", resp.StatusCode)

	var sum ScenarioSummary
	resp = e.do(http.MethodPost, a+"/scenario", "", map[string]any{"companies": 1, "invoices_per_company": 5}, &sum)
	expect(t, resp.StatusCode == 200 && sum.Invoices == 5, "scenario %d %+v", resp.StatusCode, sum)
	resp = e.do(http.MethodPost, a+"/webhooks/wait", "", nil, nil)
	expect(t, resp.StatusCode == 204, "wait %d", resp.StatusCode)
	var attempts []WebhookAttempt
	resp = e.do(http.MethodGet, a+"/webhooks/attempts", "", nil, &attempts)
	expect(t, resp.StatusCode == 200, "attempts %d", resp.StatusCode)

	resp = e.do(http.MethodPost, a+"/reset", "", nil, nil)
	expect(t, resp.StatusCode == 204 && len(e.sb.Companies()) == 0, "reset %d", resp.StatusCode)
}

func TestStartServesThreeListeners(t *testing.T) {
	sb := New(Config{})
	srv, err := Start(sb)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, u := range []string{srv.AdminURL + "/admin/healthz", srv.ReceivablesURL + "/v1/assignments", srv.AXURL + "/v1/company/notifications"} {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := 401
		if u == srv.AdminURL+"/admin/healthz" {
			want = 200
		}
		expect(t, resp.StatusCode == want, "%s: %d", u, resp.StatusCode)
	}
}
