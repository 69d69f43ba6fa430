package events

import "testing"

// commandOutcomeExamples adds one example of each command outcome event: a
// direct payment of seed 003's assignment, reported by an ERP.
func commandOutcomeExamples(t testing.TB, add func(Event, error)) {
	t.Helper()
	const (
		assignment = "fa9781ba-20d1-4677-a125-f04bff7bbac0" // seed 003's assignment
		corr       = "erp-payment-run-2020-04-16"
	)
	at := mustTime("2020-04-16T09:30:00Z")
	add(NewCommandOutcome(TypeCommandSucceeded, exampleCompany, "0f3d8c52-6a7e-4b9f-8d21-9e6c5b4a3f10", assignment, corr, "",
		CommandSucceeded{CommandID: "0f3d8c52-6a7e-4b9f-8d21-9e6c5b4a3f10", Command: CommandPaid.Name, CommandSubject: assignment,
			MaventaEventID: "c0c56722-a28b-49d1-aa87-1c4d7f3cf1af"}, at))
	add(NewCommandOutcome(TypeCommandRejected, exampleCompany, "1a4e9d63-7b8f-4c0a-9e32-0f7d6c5b4a21", assignment, corr, "",
		CommandRejected{CommandID: "1a4e9d63-7b8f-4c0a-9e32-0f7d6c5b4a21", Command: CommandPaid.Name, CommandSubject: assignment,
			Problems: []Problem{
				{Field: "data.amount", Problem: "200.505 has more decimals than cents: send the exact amount with at most 2 decimals (amounts are never rounded)"},
				{Field: "data.payer_name", Problem: `"VISMA AMILI OY" is Visma Amili: payments by VISMA AMILI are reported by the agency itself and must not be reported as direct payments (seed 003)`},
			}}, at))
	add(NewCommandOutcome(TypeCommandFailed, exampleCompany, "2b5f0e74-8c9a-4d1b-8f43-1a8e7d6c5b32", assignment, corr, "",
		CommandFailed{CommandID: "2b5f0e74-8c9a-4d1b-8f43-1a8e7d6c5b32", Command: CommandCreditNote.Name, CommandSubject: assignment,
			Status: 422, Code: "invalid_parameter", Message: "assignment fa9781ba-20d1-4677-a125-f04bff7bbac0 is closed"}, at))
	add(NewCommandOutcome(TypeCommandOutcomeUnknown, exampleCompany, "3c6a1f85-9dab-4e2c-9a54-2b9f8e7d6c43", assignment, corr, "",
		CommandOutcomeUnknown{CommandID: "3c6a1f85-9dab-4e2c-9a54-2b9f8e7d6c43", Command: CommandPaid.Name, CommandSubject: assignment,
			Error: "maventa: POST /v1/assignments/{id}/events: 504 Gateway Timeout", Seen: "2 paid events by the company not seen before the request: cannot tell which is this command's"}, at))
	const invoice = "12f88354-5998-495b-8675-67bf05de60e5"
	add(New(TypeInvoiceTransferSent, Meta{CompanyID: exampleCompany, Subject: invoice, Time: at, Key: []string{"4d7b2a96-aebc-4f3d-8b65-3c0a9f8e7d54"}},
		InvoiceTransferSent{CommandID: "4d7b2a96-aebc-4f3d-8b65-3c0a9f8e7d54", InvoiceID: invoice, Provider: "amili", AssignmentID: assignment}))
	add(New(TypeInvoiceTransferFailed, Meta{CompanyID: exampleCompany, Subject: invoice, Time: at, Key: []string{"5e8c3ba7-bfcd-4a4e-9c76-4d1baf9f8e65"}},
		InvoiceTransferFailed{CommandID: "5e8c3ba7-bfcd-4a4e-9c76-4d1baf9f8e65", InvoiceID: invoice, Provider: "ropo", ErrorMessage: "The invoice is already paid"}))
}
