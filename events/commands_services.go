package events

import (
	"fmt"
	"math/big"
	"regexp"
	"strings"
)

// Receivables service commands (seed 001: activate, check, close with AX API
// v2; seed 003: Amili's activation parameters and accountable_party).
var (
	CommandActivateService = commandDef[ActivateServiceCommand]("service.activate",
		"Start activating a receivables service (KYC by the company's signer, then the agency's approval). While it is pending its state is polled, so service.pending, then service.activated or service.rejected arrive even without the (unpublished) webhook.",
		"provider: amili or ropo", "PUT /v2/services/{provider}/receivables with seed 003's parameters",
		"the service's state (GET /v2/services/{provider}/receivables): pending or active",
		`{"iban":"FI2112345600000785","bic":"NDEAFIHH","bank":"Nordea","contact_person":"Maija Meikäläinen","contact_email":"maija@example.com","contact_phone_number":"+358401234567","customer_service_email":"asiakaspalvelu@example.com","customer_service_phone_number":"+358201234567","accountable_party":"vfsfi","service_type":"full","postal_address":{"streets":["Katu 1"],"zip_code":"00100","city":"Helsinki","country":"FI"}}`, "")
	CommandChangeAccountableParty = commandDef[ChangeAccountablePartyCommand]("service.change_accountable_party",
		"Change who receives the payments of Amili Kassavirta: vfsfi (Visma Amili, default) or company (direct payments must then be reported with assignment.paid).",
		"provider: amili", "PATCH /v2/services/amili/receivables `{\"accountable_party\":\"company\"}`",
		"the service's accountable_party", `{"accountable_party":"company"}`, "")
	CommandCloseService = commandDef[CloseServiceCommand]("service.close",
		"Close a receivables service: new invoices are no longer routed; open assignments stay handled.",
		"provider: amili or ropo", "DELETE /v2/services/{provider}/receivables",
		"the service's state: gone", `{}`, "")
)

// Address is a postal address in a service activation (AX field names).
type Address struct {
	// Streets are the street lines.
	Streets []string `json:"streets,omitempty"`
	// ZipCode is the postal code.
	ZipCode string `json:"zip_code,omitempty"`
	// City is the post office.
	City string `json:"city,omitempty"`
	// Country is the ISO 3166 code, e.g. FI.
	Country string `json:"country,omitempty"`
}

// ActivateServiceCommand is the data of service.activate (seed 003's parameters).
type ActivateServiceCommand struct {
	// IBAN is the account Visma Amili pays the collected funds to (required for Amili).
	IBAN string `json:"iban,omitempty"`
	// BIC is the bank's identifier (required with an IBAN).
	BIC string `json:"bic,omitempty"`
	// Bank is the bank's name.
	Bank string `json:"bank,omitempty"`
	// ContactPerson is who the agency contacts.
	ContactPerson string `json:"contact_person"`
	// ContactEmail is the contact person's email.
	ContactEmail string `json:"contact_email"`
	// ContactPhoneNumber is the contact person's phone.
	ContactPhoneNumber string `json:"contact_phone_number,omitempty"`
	// AuthorizationEmail receives the KYC link; empty: use the activation_url of service.pending.
	AuthorizationEmail string `json:"authorization_email,omitempty"`
	// AccountableParty is vfsfi (default) or company (Amili only).
	AccountableParty string `json:"accountable_party,omitempty"`
	// ServiceType is full (Amili Kassavirta, default) or express (Amili Perintä); Amili only.
	ServiceType string `json:"service_type,omitempty"`
	// CustomerServiceEmail and CustomerServicePhoneNumber appear in Amili's factoring clause.
	CustomerServiceEmail       string `json:"customer_service_email,omitempty"`
	CustomerServicePhoneNumber string `json:"customer_service_phone_number,omitempty"`
	// BillingAddress is where costs of later collection stages are billed.
	BillingAddress *Address `json:"billing_address,omitempty"`
	// PostalAddress is the company's postal address.
	PostalAddress *Address `json:"postal_address,omitempty"`
}

var bicPattern = regexp.MustCompile(`^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$`)

// CheckIBAN checks an IBAN's form and its ISO 13616 check digits.
func CheckIBAN(s string) error {
	iban := strings.ToUpper(strings.ReplaceAll(s, " ", ""))
	if len(iban) < 15 || len(iban) > 34 || !regexp.MustCompile(`^[A-Z]{2}[0-9]{2}[A-Z0-9]+$`).MatchString(iban) {
		return fmt.Errorf("%q is not an IBAN", s)
	}
	var digits strings.Builder
	for _, r := range iban[4:] + iban[:4] {
		if r >= 'A' && r <= 'Z' {
			fmt.Fprintf(&digits, "%d", r-'A'+10)
		} else {
			digits.WriteRune(r)
		}
	}
	n, _ := new(big.Int).SetString(digits.String(), 10)
	if new(big.Int).Mod(n, big.NewInt(97)).Int64() != 1 {
		return fmt.Errorf("%q has wrong IBAN check digits", s)
	}
	return nil
}

// Check implements CommandData.
func (c ActivateServiceCommand) Check(p *Problems) {
	if c.IBAN != "" {
		if err := CheckIBAN(c.IBAN); err != nil {
			p.Add("data.iban", err.Error())
		}
		if !bicPattern.MatchString(c.BIC) {
			p.Add("data.bic", fmt.Sprintf("%q is not a BIC (like NDEAFIHH)", c.BIC))
		}
	}
	if strings.TrimSpace(c.ContactPerson) == "" {
		p.Add("data.contact_person", "is required")
	}
	for f, v := range map[string]string{"data.contact_email": c.ContactEmail, "data.authorization_email": c.AuthorizationEmail,
		"data.customer_service_email": c.CustomerServiceEmail} {
		if (v != "" || f == "data.contact_email") && !strings.Contains(v, "@") {
			p.Add(f, fmt.Sprintf("%q is not an email address", v))
		}
	}
	if c.AccountableParty != "" && c.AccountableParty != "vfsfi" && c.AccountableParty != "company" {
		p.Add("data.accountable_party", fmt.Sprintf("%q is not vfsfi or company", c.AccountableParty))
	}
	if c.ServiceType != "" && c.ServiceType != "full" && c.ServiceType != "express" {
		p.Add("data.service_type", fmt.Sprintf("%q is not full or express", c.ServiceType))
	}
}

// ChangeAccountablePartyCommand is the data of service.change_accountable_party.
type ChangeAccountablePartyCommand struct {
	// AccountableParty is vfsfi or company.
	AccountableParty string `json:"accountable_party"`
}

// Check implements CommandData.
func (c ChangeAccountablePartyCommand) Check(p *Problems) {
	if c.AccountableParty != "vfsfi" && c.AccountableParty != "company" {
		p.Add("data.accountable_party", fmt.Sprintf("%q is not vfsfi or company", c.AccountableParty))
	}
}

// CloseServiceCommand is the data of service.close (none).
type CloseServiceCommand struct{}

// Check implements CommandData.
func (CloseServiceCommand) Check(*Problems) {}
