package events

import (
	"strings"
	"testing"
)

const testCompany = "0d5c2a77-6c1f-4a55-9b36-3f5f1e2d9a10"

func cmdBody(typ, data string) []byte {
	return []byte(`{"specversion":"1.0","id":"cmd-1","source":"erp://payments","type":"` + typ +
		`","subject":"a-1","companyid":"` + testCompany + `","data":` + data + `}`)
}

func TestParseCommand(t *testing.T) {
	open := CommandTarget{ID: "a-1", Status: StatusOpen, CollectionStatus: CollectionUnknown, Currency: "EUR", EventIDs: []string{"e-1"}}
	tests := []struct {
		name  string
		def   CommandDef
		data  string
		facts CommandTarget
		want  []string // substrings of the problems, in order; none: valid
	}{
		{"paid with a string amount and a date is valid", CommandPaid, `{"amount":"200.50","booked_at":"2019-01-04","archive_number":"12345"}`, open, nil},
		{"paid with a JSON number with cents is valid", CommandPaid, `{"amount":200.5,"booked_at":"2019-01-04"}`, open, nil},
		{"paid with a negative amount marks a credit note used", CommandPaid, `{"amount":-2.30,"booked_at":"2019-01-04"}`, open, nil},
		{"paid with a float more precise than cents is rejected", CommandPaid, `{"amount":200.505,"booked_at":"2019-01-04"}`, open, []string{"data.amount: 200.505 has more decimals than cents"}},
		{"paid by Visma Amili is not a direct payment", CommandPaid, `{"amount":"10","booked_at":"2019-01-04","payer_name":"Visma Amili Finland Oy"}`, open, []string{"data.payer_name:"}},
		{"paid by VISMA FINANC is not a direct payment", CommandPaid, `{"amount":"10","booked_at":"2019-01-04","payer_name":"VISMA FINANC"}`, open, []string{"data.payer_name:"}},
		{"every problem is listed", CommandPaid, `{"amount":"abc","booked_at":"2019-02-30","ammount":1}`, open, []string{"data.ammount: is not a field", "data.amount: is not a decimal", "data.booked_at: \"2019-02-30\" is not a date"}},
		{"paid in another currency is rejected", CommandPaid, `{"amount":"10","currency":"SEK","booked_at":"2019-01-04"}`, open, []string{"data.currency:"}},
		{"paid on a closed assignment is rejected", CommandPaid, `{"amount":"10","booked_at":"2019-01-04"}`, CommandTarget{ID: "a-1", Status: StatusClosed}, []string{"subject: assignment a-1 is closed"}},
		{"credit note sum must be positive", CommandCreditNote, `{"credit_note_number":"64502","amount":"-2.30"}`, open, []string{"data.amount: -2.30: the credit sum must be positive"}},
		{"credit note needs a number", CommandCreditNote, `{"amount":"2.30"}`, open, []string{"data.credit_note_number: is required"}},
		{"amount as a boolean is named", CommandCreditNote, `{"credit_note_number":"1","amount":true}`, open, []string{"data.amount: must be a decimal string"}},
		{"due date must be a date", CommandDueDateChangeRequest, `{"due_date":"15.5.2020"}`, open, []string{"data.due_date:"}},
		{"freeze after legal collection started is refused", CommandFreeze, `{"frozen":true,"end_date":"2019-01-04"}`, CommandTarget{ID: "a-1", Status: StatusOpen, CollectionStatus: CollectionLegalCollection}, []string{"subject: assignment a-1 is in collection status legal_collection"}},
		{"freeze of an insolvent debtor is refused", CommandFreeze, `{"end_date":"2019-01-04"}`, CommandTarget{ID: "a-1", Status: StatusOpen, CollectionStatus: CollectionLackOfMeans}, []string{"lack_of_means"}},
		{"freeze needs an end date", CommandFreeze, `{"frozen":true}`, open, []string{"data.end_date: is required"}},
		{"ending a freeze needs no end date", CommandFreeze, `{"frozen":false}`, open, nil},
		{"frozen must be a boolean", CommandFreeze, `{"frozen":"yes","end_date":"2019-01-04"}`, open, []string{"data.frozen: must be a bool"}},
		{"comment needs text", CommandComment, `{"text":"  "}`, open, []string{"data.text: is required"}},
		{"comment on a closed assignment is accepted", CommandComment, `{"text":"hello"}`, CommandTarget{ID: "a-1", Status: StatusClosed}, nil},
		{"cancel without data is valid", CommandCancel, `null`, open, nil},
		{"credit loss without data is valid", CommandCreditLoss, `{}`, open, nil},
		{"mark seen of another assignment's event is named", CommandMarkEventSeen, `{"event_id":"e-9"}`, open, []string{"data.event_id: event e-9 is not an event of assignment a-1"}},
		{"data that is not an object is rejected", CommandCancel, `[1]`, open, []string{"data: must be a JSON object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, def, data, p, err := ParseCommand(cmdBody(tt.def.Type(), tt.data), tt.def.Subject(testCompany))
			if err != nil {
				t.Fatal(err)
			}
			if def.Name != tt.def.Name || cmd.ID != "cmd-1" {
				t.Fatalf("parsed %s %q", def.Name, cmd.ID)
			}
			if ad, ok := data.(AssignmentCommandData); ok && len(p) == 0 {
				ad.CheckAgainst(tt.facts, &p)
			}
			if len(p) != len(tt.want) {
				t.Fatalf("problems %v, want %d like %q", p, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if got := p[i].Field + ": " + p[i].Problem; !strings.Contains(got, w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got, w)
				}
			}
		})
	}
}

func TestParseCommandEnvelope(t *testing.T) {
	tests := []struct {
		name, body, subject string
		want                []string
	}{
		{"unknown type lists the known ones", `{"specversion":"1.0","id":"x","source":"s","type":"pay","subject":"a","companyid":"c"}`, "", []string{"type: \"pay\" is not a command; known: " + CommandPaid.Type()}},
		{"missing id, source, company and subject", `{"specversion":"1.0","type":"` + CommandCancel.Type() + `"}`, "", []string{"id: is required", "source: is required", "companyid: is required", "subject: is required"}},
		{"wrong subject for the company", `{"specversion":"1.0","id":"x","source":"s","type":"` + CommandCancel.Type() + `","subject":"a","companyid":"c"}`, "receivables.commands.other.assignment.cancel", []string{"belongs on \"receivables.commands.c.assignment.cancel\""}},
		{"wrong spec version", `{"specversion":"0.3","id":"x","source":"s","type":"` + CommandCancel.Type() + `","subject":"a","companyid":"c"}`, "", []string{"specversion:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, p, err := ParseCommand([]byte(tt.body), tt.subject)
			if err != nil {
				t.Fatal(err)
			}
			if len(p) != len(tt.want) {
				t.Fatalf("problems %v, want %q", p, tt.want)
			}
			for i, w := range tt.want {
				if got := p[i].Field + ": " + p[i].Problem; !strings.Contains(got, w) {
					t.Errorf("problem %d = %q, want %q", i, got, w)
				}
			}
		})
	}
	if _, _, _, _, err := ParseCommand([]byte(`not json`), ""); err == nil {
		t.Error("a payload that is not JSON must be an error")
	}
}

func TestAmountDecimal(t *testing.T) {
	for _, tt := range []struct{ in, want, err string }{
		{`"200.50"`, "200.50", ""}, {`200.5`, "200.5", ""}, {`-1`, "-1", ""}, {`"1e2"`, "100", ""},
		{`0.001`, "", "more decimals than cents"}, {`"NaN"`, "", "not a decimal"}, {`null`, "", "is required"}, {`{}`, "", "must be a decimal string"},
	} {
		var a Amount
		_ = a.UnmarshalJSON([]byte(tt.in))
		d, err := a.Decimal()
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || d.String() != tt.want {
			t.Errorf("%s: %v %v, want %s", tt.in, d, err, tt.want)
		}
	}
}
