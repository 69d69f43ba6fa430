package events

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Invoice transfers to collection (seed 001: Ropo and Amili Perintä; seed 002:
// the Amili Perintä v2 fields). The deprecated v1 Amili transfer is not offered.
var (
	CommandTransferToRopo = commandDef[TransferToRopoCommand]("invoice.transfer_to_ropo",
		"Transfer a sent, unpaid invoice to Ropo's reminder and collection service. The transfer is followed (GET /v2/invoices/{id}/assignment) until it is sent or fails, published as invoice.transfer_sent or invoice.transfer_failed.",
		"invoice id", "POST /v2/invoices/{id}/assignment/ropo (no body documented; none sent)",
		"the invoice's transfer state (GET /v2/invoices/{id}/assignment)", `{}`, "")
	CommandTransferToAmili = commandDef[AmiliTransferCommand]("invoice.transfer_to_amili",
		"Transfer a sent, unpaid invoice to Amili Perintä (v2 endpoint; the v1 transfer is deprecated and not offered). Followed like invoice.transfer_to_ropo.",
		"invoice id", "POST /v2/invoices/{id}/assignment/amili with seed 002's fields (`collection_type`, `receivables_type`, `amounts.capital_amount`/`reminder_amount`, `payers` with addresses, `assignment_summary`, `reminder_date`; nesting of payers ASSUMED)",
		"the invoice's transfer state (GET /v2/invoices/{id}/assignment)",
		`{"collection_type":"normal","receivables_type":"b2b","amounts":{"capital_amount":"1250.00","reminder_amount":"5.00"},"payers":[{"type":"main_debtor","name":"Asiakas Oy","business_id":"1234567-1","address":{"street":"Katu 1","postal_code":"00100","city":"Helsinki","country":"FI"}}],"assignment_summary":"Consulting, March 2026","reminder_date":"2026-04-15"}`, "")
)

// TransferToRopoCommand is the data of invoice.transfer_to_ropo (none).
type TransferToRopoCommand struct{}

// Check implements CommandData.
func (TransferToRopoCommand) Check(*Problems) {}

// ReceivablesTypes are the receivables_type values of the Amili Perintä v2 transfer (seed 002).
var ReceivablesTypes = []string{"b2b", "b2c", "b2b_rental", "b2c_rental"}

// AmiliTransferCommand is the data of invoice.transfer_to_amili (seed 002's fields).
type AmiliTransferCommand struct {
	// CollectionType is Amili's collection type (values not published).
	CollectionType string `json:"collection_type"`
	// ReceivablesType is b2b, b2c, b2b_rental or b2c_rental.
	ReceivablesType string `json:"receivables_type"`
	// Amounts are the capital (positive) and reminder (not negative) amounts.
	Amounts TransferAmounts `json:"amounts"`
	// Payers are exactly one main debtor and any co-debtors, with full addresses.
	Payers []TransferPayer `json:"payers"`
	// AssignmentSummary says what the claim is about.
	AssignmentSummary string `json:"assignment_summary,omitempty"`
	// ReminderDate is when the debtor was last reminded, YYYY-MM-DD.
	ReminderDate CommandDate `json:"reminder_date,omitempty"`
}

// TransferAmounts are the amounts of an Amili transfer.
type TransferAmounts struct {
	// CapitalAmount is the claim's capital.
	CapitalAmount Amount `json:"capital_amount"`
	// ReminderAmount is the reminder fees so far, if any.
	ReminderAmount Amount `json:"reminder_amount,omitempty"`
}

// TransferPayer is a debtor of an Amili transfer.
type TransferPayer struct {
	// Type is main_debtor or co_debtor.
	Type string `json:"type"`
	// Name is the person's or company's name.
	Name string `json:"name"`
	// BusinessID is a company debtor's business id (required for the main debtor of b2b claims).
	BusinessID string `json:"business_id,omitempty"`
	// Email and Phone reach the debtor, when known.
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
	// Address is the full postal address.
	Address TransferAddress `json:"address"`
}

// TransferAddress is a debtor's postal address (all of it: seed 003's code #5 is a missing postal code).
type TransferAddress struct {
	// Street is the street address.
	Street string `json:"street"`
	// PostalCode is five digits in Finland.
	PostalCode string `json:"postal_code"`
	// City is the post office.
	City string `json:"city"`
	// Country is the ISO 3166 code; empty means FI.
	Country string `json:"country,omitempty"`
}

var finnishPostalCode = regexp.MustCompile(`^[0-9]{5}$`)

// Check implements CommandData.
func (c AmiliTransferCommand) Check(p *Problems) {
	if strings.TrimSpace(c.CollectionType) == "" {
		p.Add("data.collection_type", "is required")
	}
	if !slices.Contains(ReceivablesTypes, c.ReceivablesType) {
		p.Add("data.receivables_type", fmt.Sprintf("%q is not one of %s", c.ReceivablesType, strings.Join(ReceivablesTypes, ", ")))
	}
	if d, err := c.Amounts.CapitalAmount.Decimal(); err != nil {
		p.Add("data.amounts.capital_amount", err.Error())
	} else if d.Sign() <= 0 {
		p.Add("data.amounts.capital_amount", "must be positive")
	}
	if c.Amounts.ReminderAmount.IsSet() {
		if d, err := c.Amounts.ReminderAmount.Decimal(); err != nil {
			p.Add("data.amounts.reminder_amount", err.Error())
		} else if d.Sign() < 0 {
			p.Add("data.amounts.reminder_amount", "must not be negative")
		}
	}
	main := 0
	for i, py := range c.Payers {
		f := fmt.Sprintf("data.payers[%d]", i)
		switch py.Type {
		case "main_debtor":
			main++
			if strings.HasPrefix(c.ReceivablesType, "b2b") && py.BusinessID == "" {
				p.Add(f+".business_id", "is required for the main debtor of a b2b claim")
			}
		case "co_debtor":
		default:
			p.Add(f+".type", fmt.Sprintf("%q is not main_debtor or co_debtor", py.Type))
		}
		if strings.TrimSpace(py.Name) == "" {
			p.Add(f+".name", "is required")
		}
		a := py.Address
		if strings.TrimSpace(a.Street) == "" || strings.TrimSpace(a.City) == "" || strings.TrimSpace(a.PostalCode) == "" {
			p.Add(f+".address", "needs street, postal_code and city (an incomplete address stops collection)")
		} else if (a.Country == "" || strings.EqualFold(a.Country, "FI")) && !finnishPostalCode.MatchString(a.PostalCode) {
			p.Add(f+".address.postal_code", fmt.Sprintf("%q is not a Finnish postal code (five digits)", a.PostalCode))
		}
	}
	if main != 1 {
		p.Add("data.payers", fmt.Sprintf("needs exactly one main_debtor, has %d", main))
	}
	c.ReminderDate.check(p, "data.reminder_date", false)
}

// InvoiceTransferSent is the data of invoice.transfer_sent.
type InvoiceTransferSent struct {
	// CommandID is the transfer command's id.
	CommandID string `json:"command_id"`
	// InvoiceID is the transferred invoice.
	InvoiceID string `json:"invoice_id"`
	// Provider is ropo or amili.
	Provider string `json:"provider"`
	// AssignmentID is the assignment the transfer created, when Maventa says.
	AssignmentID string `json:"assignment_id,omitempty"`
}

// InvoiceTransferFailed is the data of invoice.transfer_failed.
type InvoiceTransferFailed struct {
	// CommandID is the transfer command's id.
	CommandID string `json:"command_id"`
	// InvoiceID is the invoice.
	InvoiceID string `json:"invoice_id"`
	// Provider is ropo or amili.
	Provider string `json:"provider"`
	// ErrorMessage is Maventa's reason.
	ErrorMessage string `json:"error_message"`
}

func transferResultType[T any](name, desc string) TypeDef {
	agg, ev := split(name)
	return TypeDef{Name: name, Aggregate: agg, Event: ev, Version: 1, DataType: typeOf[T](), Description: desc,
		From:      "following `GET /v2/invoices/{id}/assignment` after an invoice.transfer_to_* command",
		SubjectIs: "invoice id", IDKey: "the transfer command's id"}
}

// The results of an invoice transfer.
var (
	TypeInvoiceTransferSent = transferResultType[InvoiceTransferSent]("invoice.transfer_sent",
		"An invoice's transfer to collection (Ropo or Amili Perintä) was sent: the provider has it and an assignment exists.")
	TypeInvoiceTransferFailed = transferResultType[InvoiceTransferFailed]("invoice.transfer_failed",
		"An invoice's transfer to collection ended in error.")
)
