package sandbox

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

func TestInvoiceSendErrors(t *testing.T) {
	cases := []struct {
		name    string
		mutate  func(e *env, s *InvoiceSpec)
		prior   bool // send the valid invoice once first
		wantErr string
	}{
		{"missing postal code is code #5", func(_ *env, s *InvoiceSpec) { s.PostalCode = "" },
			false, "SEND ERROR (REASON: RECEIVABLES-SERVICE: Postal code for HELSINKI  not found (code #5))."},
		{"bad postal code is code #5", func(_ *env, s *InvoiceSpec) { s.PostalCode = "123" },
			false, "SEND ERROR (REASON: RECEIVABLES-SERVICE: Postal code for HELSINKI 123 not found (code #5))."},
		{"missing street is code #5", func(_ *env, s *InvoiceSpec) { s.Street = "" },
			false, "SEND ERROR (REASON: RECEIVABLES-SERVICE: Postal code for HELSINKI 00100 not found (code #5))."},
		{"due date within three days is code #13", func(e *env, s *InvoiceSpec) { s.DueDate = e.clock.Now().AddDate(0, 0, 2).Format(time.DateOnly) },
			false, "SEND ERROR (REASON: RECEIVABLES-SERVICE: The due date for the invoice is within three (3) days or has already passed (code #13))."},
		{"past due date is code #13", func(e *env, s *InvoiceSpec) { s.DueDate = e.clock.Now().AddDate(0, 0, -1).Format(time.DateOnly) },
			false, "SEND ERROR (REASON: RECEIVABLES-SERVICE: The due date for the invoice is within three (3) days or has already passed (code #13))."},
		{"due date exactly three days away passes", func(e *env, s *InvoiceSpec) { s.DueDate = e.clock.Now().AddDate(0, 0, 3).Format(time.DateOnly) },
			false, ""},
		{"duplicate open number is code #6", func(*env, *InvoiceSpec) {},
			true, "SEND ERROR (REASON: RECEIVABLES-SERVICE: An assignment for this invoice number 5001 already exists and is still open. If you want to open a new assignment for this invoice number, you must first cancel the existing one (code #6 ...))."},
		{"same number with another invoice date is allowed", func(e *env, s *InvoiceSpec) { s.Date = e.clock.Now().AddDate(0, 0, -1).Format(time.DateOnly) },
			true, ""},
		{"non-EUR invoice bypasses the service", func(_ *env, s *InvoiceSpec) { s.Currency = "SEK"; s.PostalCode = "" },
			false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			if tc.prior {
				e.assignment("5001", "10")
			}
			spec := e.validSpec("5001", "10")
			tc.mutate(e, &spec)
			res, err := e.sb.SendInvoice(testCompany, spec)
			if err != nil {
				t.Fatal(err)
			}
			if res.ErrorMessage != tc.wantErr {
				t.Fatalf("error\n got %q\nwant %q", res.ErrorMessage, tc.wantErr)
			}
			if tc.wantErr != "" {
				expect(t, res.Status == InvoiceFailed && res.AssignmentID == "", "result %+v", res)
				var st map[string]any
				resp := e.do(http.MethodGet, e.ax.URL+"/v2/invoices/"+res.InvoiceID+"/assignment", e.defaultToken(), nil, &st)
				expect(t, resp.StatusCode == 200 && st["status"] == "error" && st["error_message"] == tc.wantErr, "status %d %v", resp.StatusCode, st)
			} else {
				expect(t, res.Status == InvoiceSent, "result %+v", res)
			}
		})
	}
}

func TestDuplicateAllowedAfterCancelWithoutPayments(t *testing.T) {
	e := newEnv(t, Config{})
	id := e.assignment("7", "10")
	if _, err := e.sb.AddCompanyEvent(id, "cancel", nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	res, err := e.sb.SendInvoice(testCompany, e.validSpec("7", "10"))
	expect(t, err == nil && res.AssignmentID != "" && res.AssignmentID != id, "resend %+v %v", res, err)
}

func TestSentInvoiceCreatesAssignmentAndListsInvoices(t *testing.T) {
	e := newEnv(t, Config{})
	res, err := e.sb.SendInvoice(testCompany, e.validSpec("64488", "12.3"))
	if err != nil {
		t.Fatal(err)
	}
	a := e.get(res.AssignmentID)
	expect(t, a.Status == "open" && a.CollectionStatus == "unknown" && a.ServiceLevel == "default" && a.Currency == "EUR", "%+v", a)
	refs := map[string]string{}
	for _, r := range a.ReferenceIDs {
		refs[r.Type] = r.Value
	}
	expect(t, refs["invoice_id"] == res.InvoiceID && refs["agency_id"] != "" && refs["number"] != "", "refs %v", refs)
	expect(t, len(a.Events) == 1 && a.Events[0].Type == "delivery_status" && a.Events[0].Data["status"] == "DELIVERED" &&
		a.Events[0].PartyID == MaventaPartyID, "events %+v", a.Events)

	tok := e.defaultToken()
	var raw []map[string]any
	e.do(http.MethodGet, e.rec.URL+"/v1/assignments", tok, nil, &raw)
	expect(t, len(raw) == 1 && fmt.Sprint(raw[0]["sum"]) == "12.3", "sum on the wire %v", raw[0]["sum"])
	var invs []Invoice
	e.do(http.MethodGet, e.ax.URL+"/v1/invoices?updated_at_start="+e.clock.Now().Format(time.RFC3339), tok, nil, &invs)
	expect(t, len(invs) == 1 && invs[0].ID == res.InvoiceID && invs[0].Status == "SENT", "invoices %+v", invs)
	var st map[string]any
	e.do(http.MethodGet, e.ax.URL+"/v2/invoices/"+res.InvoiceID+"/assignment", tok, nil, &st)
	expect(t, st["status"] == "sent" && st["assignment_id"] == res.AssignmentID, "assignment status %v", st)
}
