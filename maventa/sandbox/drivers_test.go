package sandbox

import (
	"net/http"
	"strings"
	"testing"
)

// TestTheGoDriversActAsTheirHTTPCounterparts: the sandbox's Go API that
// doc.go lists for driving Maventa's side does what the HTTP call it stands
// for does, as seen through Maventa's API.
func TestTheGoDriversActAsTheirHTTPCounterparts(t *testing.T) {
	e := newEnv(t, Config{})
	tok := e.defaultToken()

	t.Run("SetServiceLevel is PATCH /v1/service_levels/{bid}", func(t *testing.T) {
		id := e.assignment("D1", "100")
		if err := e.sb.SetServiceLevel(testCompany, "2000001-1", "vip"); err != nil {
			t.Fatal(err)
		}
		var sl ServiceLevel
		e.do(http.MethodGet, e.rec.URL+"/v1/service_levels/2000001-1", tok, nil, &sl)
		expect(t, sl.ServiceLevel == "vip", "level %v", sl)
		a := e.get(id)
		expect(t, a.ServiceLevel == "vip" && a.Events[0].Type == "service_level_changed", "assignment %s %v", a.ServiceLevel, eventTypes(a))
		if err := e.sb.SetServiceLevel(testCompany, "2000001-1", "gold"); err == nil {
			t.Error("level gold accepted, want the 422's error")
		}
	})

	t.Run("RequestService is PUT /v2/services/{provider}/receivables", func(t *testing.T) {
		if err := e.sb.RequestService(testCompany, ProviderAmili, nil); err != nil {
			t.Fatal(err)
		}
		var sv map[string]any
		resp := e.do(http.MethodGet, e.ax.URL+"/v2/services/amili/receivables", tok, nil, &sv)
		expect(t, resp.StatusCode == 200 && sv["status"] == "pending", "after the request %d %v", resp.StatusCode, sv)
		if err := e.sb.RequestService("no-such-company", ProviderAmili, nil); err == nil {
			t.Error("an unknown company's request accepted")
		}
	})

	t.Run("Invoice and TransferBody show what was sent", func(t *testing.T) {
		e := newEnv(t, Config{StrictActivation: true}) // no Kassavirta assignment at sending: the invoice may be transferred
		axTok := e.token(testCompany, "key-1", "vendor-1", ScopeInvoices)
		res, err := e.sb.SendInvoice(testCompany, e.validSpec("D2", "100.00"))
		if err != nil {
			t.Fatal(err)
		}
		inv, err := e.sb.Invoice(res.InvoiceID)
		expect(t, err == nil && inv.Number == "D2", "invoice %+v %v", inv, err)
		if _, err := e.sb.Invoice("no-such-invoice"); err == nil {
			t.Error("an unknown invoice found")
		}
		expect(t, e.sb.TransferBody(res.InvoiceID) == nil, "a transfer body before any transfer")
		resp := e.do(http.MethodPost, e.ax.URL+"/v2/invoices/"+res.InvoiceID+"/assignment/amili", axTok, map[string]any{
			"collection_type": "normal", "receivables_type": "b2c", "amounts": map[string]any{"capital_amount": 100},
			"payers": []map[string]any{{"type": "main_debtor", "name": "M",
				"address": map[string]any{"street": "K 1", "postal_code": "00100", "city": "Helsinki"}}}}, nil)
		expect(t, resp.StatusCode == 201, "amili transfer %d", resp.StatusCode)
		body := string(e.sb.TransferBody(res.InvoiceID))
		for _, want := range []string{`"receivables_type":"b2c"`, `"capital_amount":100`, `"postal_code":"00100"`} {
			expect(t, strings.Contains(body, want), "transfer body %s lacks %s", body, want)
		}
	})
}
