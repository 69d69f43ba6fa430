package commandstream

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

const amiliData = `{"collection_type":"normal","receivables_type":"b2b","amounts":{"capital_amount":"1250.00","reminder_amount":5},
"payers":[{"type":"main_debtor","name":"Asiakas Oy","business_id":"1234567-1","address":{"street":"Katu 1","postal_code":"00100","city":"Helsinki"}},
{"type":"co_debtor","name":"Matti Meikäläinen","address":{"street":"Tie 2","postal_code":"33100","city":"Tampere","country":"FI"}}],
"assignment_summary":"Consulting, March 2026","reminder_date":"2026-04-15"}`

// TestInvoiceTransfers: Ropo and Amili Perintä v2 transfers from NATS through
// the sandbox, followed from pending to their end.
func TestInvoiceTransfers(t *testing.T) {
	e := newEnvWith(t, true)
	e.run(e.handler("h1"), e.sc)

	t.Run("ropo transfer is followed until sent", func(t *testing.T) {
		inv := e.invoice("T-R1")
		e.publish(events.CommandTransferToRopo, "tr-1", company, inv, `{}`)
		if d := succeeded(t, e.outcome("tr-1")); d.MaventaTransferID == "" {
			t.Errorf("outcome %+v without the transfer id", d)
		}
		res := e.result("tr-1")
		var d events.InvoiceTransferSent
		_ = json.Unmarshal(res.Data, &d)
		if res.Type != events.TypeInvoiceTransferSent.Type() || d.Provider != "ropo" || d.AssignmentID == "" || d.InvoiceID != inv {
			t.Fatalf("result %s %s", res.Type, res.Data)
		}
		if a, err := e.sb.Assignment(d.AssignmentID); err != nil || a.Status != "open" {
			t.Errorf("assignment %+v %v", a, err)
		}
	})

	t.Run("amili v2 transfer sends seed 002's fields", func(t *testing.T) {
		inv := e.invoice("T-A1")
		e.publish(events.CommandTransferToAmili, "tr-2", company, inv, amiliData)
		succeeded(t, e.outcome("tr-2"))
		if res := e.result("tr-2"); res.Type != events.TypeInvoiceTransferSent.Type() {
			t.Fatalf("result %s %s", res.Type, res.Data)
		}
		var body string
		for _, w := range e.rec.writes() {
			if w.Path == "/v2/invoices/"+inv+"/assignment/amili" {
				body = string(w.Body)
			}
		}
		jsonEqual(t, []byte(body), `{"collection_type":"normal","receivables_type":"b2b","amounts":{"capital_amount":1250.00,"reminder_amount":5},
"payers":[{"type":"main_debtor","name":"Asiakas Oy","business_id":"1234567-1","address":{"street":"Katu 1","postal_code":"00100","city":"Helsinki","country":"FI"}},
{"type":"co_debtor","name":"Matti Meikäläinen","address":{"street":"Tie 2","postal_code":"33100","city":"Tampere","country":"FI"}}],
"assignment_summary":"Consulting, March 2026","reminder_date":"2026-04-15"}`)
		if strings.Contains(body, "/v1/") {
			t.Error("v1 transfer used")
		}
	})

	t.Run("a transfer that ends in error is published as failed", func(t *testing.T) {
		inv := e.invoice("T-F1")
		e.sb.SetFault(sandbox.Fault{Listener: "ax", Method: "GET", Path: "/v2/invoices/*/assignment", Status: 503, Count: 1})
		e.publish(events.CommandTransferToRopo, "tr-3", company, inv, `{}`)
		succeeded(t, e.outcome("tr-3"))
		if err := e.sb.FailTransfer(inv, "The invoice is already paid"); err != nil {
			t.Fatal(err)
		}
		res := e.result("tr-3")
		var d events.InvoiceTransferFailed
		_ = json.Unmarshal(res.Data, &d)
		if res.Type != events.TypeInvoiceTransferFailed.Type() || d.ErrorMessage != "The invoice is already paid" {
			t.Fatalf("result %s %s", res.Type, res.Data)
		}
	})

	t.Run("a transfer whose answer was lost is found by reading back", func(t *testing.T) {
		inv := e.invoice("T-L1")
		e.sb.SetFault(sandbox.Fault{Listener: "ax", Method: "POST", Path: "/v2/invoices/*/assignment/ropo", Status: 504, AfterApply: true, Count: 1})
		e.publish(events.CommandTransferToRopo, "tr-4", company, inv, `{}`)
		if d := succeeded(t, e.outcome("tr-4")); !d.ReadBack {
			t.Errorf("outcome %+v", d)
		}
		e.result("tr-4")
		n := 0
		for _, w := range e.rec.writes() {
			if w.Path == "/v2/invoices/"+inv+"/assignment/ropo" {
				n++
			}
		}
		if n != 1 || e.sb.Transfers(inv) != 1 {
			t.Errorf("%d transfer requests", n)
		}
	})

	t.Run("rejections", func(t *testing.T) {
		transferred := e.invoice("T-X1")
		e.publish(events.CommandTransferToRopo, "tr-x0", company, transferred, `{}`)
		e.result("tr-x0")
		for _, c := range []struct {
			id, subject, data string
			def               events.CommandDef
			want              []string
		}{
			{"tr-x1", transferred, `{}`, events.CommandTransferToRopo, []string{"subject"}},
			{"tr-x2", "no-such-invoice", `{}`, events.CommandTransferToRopo, []string{"subject"}},
			{"tr-x3", e.invoice("T-X3"), strings.Replace(strings.Replace(amiliData, `"co_debtor"`, `"main_debtor"`, 1), `"00100"`, `"001"`, 1),
				events.CommandTransferToAmili, []string{"data.payers[0].address.postal_code", "data.payers[1].business_id", "data.payers"}},
			{"tr-x4", e.invoice("T-X4"), `{"collection_type":"","receivables_type":"b2x","amounts":{"capital_amount":"0"},"payers":[]}`,
				events.CommandTransferToAmili, []string{"data.collection_type", "data.receivables_type", "data.amounts.capital_amount", "data.payers"}},
		} {
			e.publish(c.def, c.id, company, c.subject, c.data)
			out := e.outcome(c.id)
			var r events.CommandRejected
			_ = json.Unmarshal(out.Data, &r)
			var fields []string
			for _, p := range r.Problems {
				fields = append(fields, p.Field)
			}
			if out.Type != events.TypeCommandRejected.Type() || strings.Join(fields, ",") != strings.Join(c.want, ",") {
				t.Errorf("%s: %s %s", c.id, out.Type, out.Data)
			}
		}
	})
}
