package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
)

// created is what Maventa made for a write.
type created struct {
	EventID, MessageID, TransferID string
}

// op is how one kind of command is applied: read the target (validation and
// the baseline to read back against), send the one write, and find its effect
// after an ambiguous answer.
type op interface {
	// prepare returns the problems that reject the command (none: apply it) and
	// what the target holds before the write.
	prepare(ctx context.Context, api Maventa, cmd events.Command, data events.CommandData) (events.Problems, []string, error)
	// send makes the write.
	send(ctx context.Context, api Maventa, cmd events.Command, data events.CommandData) (created, error)
	// find looks for the write's effect: found, or what was seen instead.
	find(ctx context.Context, api Maventa, cmd events.Command, data events.CommandData, baseline []string) (created, bool, string, error)
}

func opFor(data events.CommandData) op {
	switch data.(type) {
	case events.AssignmentCommandData:
		return assignmentOp{}
	case events.AddMessageCommand:
		return messageOp{}
	case events.FlagThreadCommand:
		return flagOp{}
	case events.MarkMessageSeenCommand:
		return messageSeenOp{}
	case events.SetServiceLevelCommand:
		return serviceLevelOp{}
	case events.TransferToRopoCommand, events.AmiliTransferCommand:
		return transferOp{}
	case events.ActivateServiceCommand, events.ChangeAccountablePartyCommand, events.CloseServiceCommand:
		return serviceOp{}
	}
	return nil
}

// assignmentOp: the assignment event commands and mark_event_seen.
type assignmentOp struct{}

func (assignmentOp) prepare(ctx context.Context, api Maventa, cmd events.Command, data events.CommandData) (events.Problems, []string, error) {
	a, err := api.GetAssignment(ctx, cmd.CompanyID, cmd.Subject)
	if err != nil {
		return nil, nil, err
	}
	var p events.Problems
	data.(events.AssignmentCommandData).CheckAgainst(assignmentFacts(a), &p)
	return p, baseline(data, a), nil
}

func (assignmentOp) send(ctx context.Context, api Maventa, cmd events.Command, data events.CommandData) (created, error) {
	if s, ok := data.(events.MarkEventSeenCommand); ok {
		return created{}, api.MarkEventSeen(ctx, cmd.CompanyID, cmd.Subject, s.EventID)
	}
	ev, err := MaventaEvent(data)
	if err != nil {
		return created{}, err
	}
	out, err := api.AddEvent(ctx, cmd.CompanyID, cmd.Subject, ev)
	return created{EventID: out.ID}, err
}

func (assignmentOp) find(ctx context.Context, api Maventa, cmd events.Command, data events.CommandData, base []string) (created, bool, string, error) {
	a, err := api.GetAssignment(ctx, cmd.CompanyID, cmd.Subject)
	if err != nil {
		return created{}, false, "", err
	}
	id, seen := match(data, base, a)
	if id == nil {
		return created{}, false, seen, nil
	}
	return created{EventID: *id}, true, "", nil
}

// messageOp: a message about an assignment or in a thread.
type messageOp struct{}

func (messageOp) list(ctx context.Context, api Maventa, cmd events.Command) ([]maventa.Message, error) {
	if cmd.Type == events.CommandAddThreadMessage.Type() {
		return api.ListThreadMessages(ctx, cmd.CompanyID, cmd.Subject)
	}
	return api.ListAssignmentMessages(ctx, cmd.CompanyID, cmd.Subject)
}

func (o messageOp) prepare(ctx context.Context, api Maventa, cmd events.Command, _ events.CommandData) (events.Problems, []string, error) {
	if cmd.Type == events.CommandAddThreadMessage.Type() {
		if _, err := api.GetMessageThread(ctx, cmd.CompanyID, cmd.Subject); err != nil {
			return nil, nil, err
		}
	} else if _, err := api.GetAssignment(ctx, cmd.CompanyID, cmd.Subject); err != nil {
		return nil, nil, err
	}
	ms, err := o.list(ctx, api, cmd)
	if err != nil {
		return nil, nil, err
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return nil, ids, nil
}

func (messageOp) send(ctx context.Context, api Maventa, cmd events.Command, data events.CommandData) (created, error) {
	m := maventa.NewMessage{Message: data.(events.AddMessageCommand).Text}
	var out maventa.Message
	var err error
	if cmd.Type == events.CommandAddThreadMessage.Type() {
		out, err = api.AddThreadMessage(ctx, cmd.CompanyID, cmd.Subject, m)
	} else {
		out, err = api.AddAssignmentMessage(ctx, cmd.CompanyID, cmd.Subject, m)
	}
	return created{MessageID: out.ID}, err
}

func (o messageOp) find(ctx context.Context, api Maventa, cmd events.Command, data events.CommandData, base []string) (created, bool, string, error) {
	ms, err := o.list(ctx, api, cmd)
	if err != nil {
		return created{}, false, "", err
	}
	text := data.(events.AddMessageCommand).Text
	var ids []string
	fresh := 0
	for _, m := range ms {
		if slices.Contains(base, m.ID) {
			continue
		}
		fresh++
		if m.Message == text {
			ids = append(ids, m.ID)
		}
	}
	if len(ids) == 1 {
		return created{MessageID: ids[0]}, true, "", nil
	}
	return created{}, false, fmt.Sprintf("%d messages before the request, %d now; %d new, %d with this command's text", len(base), len(ms), fresh, len(ids)), nil
}

// flagOp: flag or unflag a thread. Setting a state is harmless to repeat, but
// the client does not resend a PATCH: reading back settles it.
type flagOp struct{}

func (flagOp) prepare(ctx context.Context, api Maventa, cmd events.Command, _ events.CommandData) (events.Problems, []string, error) {
	t, err := api.GetMessageThread(ctx, cmd.CompanyID, cmd.Subject)
	if err != nil {
		return nil, nil, err
	}
	return nil, []string{fmt.Sprintf("flagged:%t", t.Flagged)}, nil
}

func (flagOp) send(ctx context.Context, api Maventa, cmd events.Command, data events.CommandData) (created, error) {
	_, err := api.FlagMessageThread(ctx, cmd.CompanyID, cmd.Subject, data.(events.FlagThreadCommand).IsFlagged())
	return created{}, err
}

func (flagOp) find(ctx context.Context, api Maventa, cmd events.Command, data events.CommandData, _ []string) (created, bool, string, error) {
	t, err := api.GetMessageThread(ctx, cmd.CompanyID, cmd.Subject)
	if err != nil {
		return created{}, false, "", err
	}
	want := data.(events.FlagThreadCommand).IsFlagged()
	if t.Flagged == want {
		return created{}, true, "", nil
	}
	return created{}, false, fmt.Sprintf("thread %s has flagged=%t", t.ID, t.Flagged), nil
}

// messageSeenOp: PUT, idempotent: the client resends it itself, so an
// ambiguous answer that survives its retries is unknown.
type messageSeenOp struct{}

func (messageSeenOp) prepare(context.Context, Maventa, events.Command, events.CommandData) (events.Problems, []string, error) {
	return nil, nil, nil
}

func (messageSeenOp) send(ctx context.Context, api Maventa, cmd events.Command, _ events.CommandData) (created, error) {
	return created{MessageID: cmd.Subject}, api.MarkMessageSeen(ctx, cmd.CompanyID, cmd.Subject)
}

func (messageSeenOp) find(context.Context, Maventa, events.Command, events.CommandData, []string) (created, bool, string, error) {
	return created{}, false, "Maventa has no way to read one message's seen state", nil
}

// serviceLevelOp: set a customer's service level.
type serviceLevelOp struct{}

func (serviceLevelOp) prepare(ctx context.Context, api Maventa, cmd events.Command, _ events.CommandData) (events.Problems, []string, error) {
	if err := events.CheckBusinessID(cmd.Subject); err != nil {
		return events.Problems{{Field: "subject", Problem: err.Error()}}, nil, nil
	}
	l, err := api.GetServiceLevel(ctx, cmd.CompanyID, cmd.Subject)
	if err != nil {
		return nil, nil, err
	}
	return nil, []string{"level:" + l.ServiceLevel}, nil
}

func (serviceLevelOp) send(ctx context.Context, api Maventa, cmd events.Command, data events.CommandData) (created, error) {
	_, err := api.SetServiceLevel(ctx, cmd.CompanyID, cmd.Subject, strings.ToLower(data.(events.SetServiceLevelCommand).ServiceLevel))
	return created{}, err
}

func (serviceLevelOp) find(ctx context.Context, api Maventa, cmd events.Command, data events.CommandData, _ []string) (created, bool, string, error) {
	l, err := api.GetServiceLevel(ctx, cmd.CompanyID, cmd.Subject)
	if err != nil {
		return created{}, false, "", err
	}
	if strings.EqualFold(l.ServiceLevel, data.(events.SetServiceLevelCommand).ServiceLevel) {
		return created{}, true, "", nil
	}
	return created{}, false, fmt.Sprintf("customer %s has service level %q", cmd.Subject, l.ServiceLevel), nil
}

// transferOp: an invoice's transfer to collection (Ropo or Amili Perintä v2).
type transferOp struct{}

func (transferOp) provider(data events.CommandData) string {
	if _, ok := data.(events.AmiliTransferCommand); ok {
		return maventa.ProviderAmili
	}
	return maventa.ProviderRopo
}

func (o transferOp) prepare(ctx context.Context, api Maventa, cmd events.Command, data events.CommandData) (events.Problems, []string, error) {
	inv, err := api.GetInvoice(ctx, cmd.CompanyID, cmd.Subject)
	if err != nil {
		return nil, nil, err
	}
	var p events.Problems
	if inv.Status != "" && !strings.EqualFold(inv.Status, "SENT") {
		p.Add("subject", fmt.Sprintf("invoice %s is %s: only a sent invoice can be transferred to collection", cmd.Subject, inv.Status))
	}
	st, err := api.GetInvoiceAssignment(ctx, cmd.CompanyID, cmd.Subject)
	switch {
	case err == nil:
		p.Add("subject", fmt.Sprintf("invoice %s already has a transfer or an assignment (status %s)", cmd.Subject, st.Status))
	case !maventa.IsNotFound(err):
		return nil, nil, err
	}
	return p, []string{"transfer:none"}, nil
}

func (o transferOp) send(ctx context.Context, api Maventa, cmd events.Command, data events.CommandData) (created, error) {
	if c, ok := data.(events.AmiliTransferCommand); ok {
		t, err := AmiliTransfer(c)
		if err != nil {
			return created{}, err
		}
		st, err := api.TransferToAmili(ctx, cmd.CompanyID, cmd.Subject, t)
		return created{TransferID: extraString(st.Extra, "id")}, err
	}
	st, err := api.TransferToRopo(ctx, cmd.CompanyID, cmd.Subject)
	return created{TransferID: extraString(st.Extra, "id")}, err
}

func (o transferOp) find(ctx context.Context, api Maventa, cmd events.Command, data events.CommandData, _ []string) (created, bool, string, error) {
	st, err := api.GetInvoiceAssignment(ctx, cmd.CompanyID, cmd.Subject)
	if maventa.IsNotFound(err) {
		return created{}, false, fmt.Sprintf("invoice %s has no transfer", cmd.Subject), nil
	}
	if err != nil {
		return created{}, false, "", err
	}
	if p := extraString(st.Extra, "provider"); p != "" && p != o.provider(data) {
		return created{}, false, fmt.Sprintf("invoice %s has a transfer to %s, not %s", cmd.Subject, p, o.provider(data)), nil
	}
	return created{TransferID: extraString(st.Extra, "id")}, true, "", nil
}

// extraString reads a string field Maventa sent beyond the declared ones.
func extraString(extra map[string]json.RawMessage, key string) string {
	var s string
	_ = json.Unmarshal(extra[key], &s)
	return s
}

// AmiliTransfer is the Amili Perintä v2 request body of a transfer command.
func AmiliTransfer(c events.AmiliTransferCommand) (maventa.AmiliTransfer, error) {
	capital, err := c.Amounts.CapitalAmount.Decimal()
	if err != nil {
		return maventa.AmiliTransfer{}, err
	}
	t := maventa.AmiliTransfer{CollectionType: c.CollectionType, ReceivablesType: c.ReceivablesType,
		Amounts:           maventa.TransferAmounts{CapitalAmount: capital.JSONNumber()},
		AssignmentSummary: c.AssignmentSummary, ReminderDate: string(c.ReminderDate)}
	if c.Amounts.ReminderAmount.IsSet() {
		r, err := c.Amounts.ReminderAmount.Decimal()
		if err != nil {
			return maventa.AmiliTransfer{}, err
		}
		t.Amounts.ReminderAmount = r.JSONNumber()
	}
	for _, p := range c.Payers {
		country := p.Address.Country
		if country == "" {
			country = "FI"
		}
		t.Payers = append(t.Payers, maventa.TransferPayer{Type: p.Type, Name: p.Name, BusinessID: p.BusinessID, Email: p.Email, Phone: p.Phone,
			Address: maventa.TransferAddress{Street: p.Address.Street, PostalCode: p.Address.PostalCode, City: p.Address.City, Country: country}})
	}
	return t, nil
}

// serviceOp: activate, change accountable_party, close a receivables service.
type serviceOp struct{}

func serviceState(ctx context.Context, api Maventa, cmd events.Command) (events.ReceivablesService, bool, error) {
	st, err := api.GetReceivablesService(ctx, cmd.CompanyID, cmd.Subject)
	if maventa.IsNotFound(err) {
		return events.ReceivablesService{}, false, nil
	}
	if err != nil {
		return events.ReceivablesService{}, false, err
	}
	s, err := st.State(cmd.Subject)
	return s, err == nil, err
}

func (serviceOp) prepare(ctx context.Context, api Maventa, cmd events.Command, data events.CommandData) (events.Problems, []string, error) {
	var p events.Problems
	if cmd.Subject != maventa.ProviderAmili && cmd.Subject != maventa.ProviderRopo {
		p.Add("subject", fmt.Sprintf("%q is not a provider: amili or ropo", cmd.Subject))
		return p, nil, nil
	}
	s, exists, err := serviceState(ctx, api, cmd)
	if err != nil {
		return nil, nil, err
	}
	status := strings.ToLower(s.Status)
	switch c := data.(type) {
	case events.ActivateServiceCommand:
		if cmd.Subject == maventa.ProviderRopo && (c.AccountableParty != "" || c.ServiceType != "") {
			p.Add("data", "accountable_party and service_type are Amili's parameters, not Ropo's")
		}
		if cmd.Subject == maventa.ProviderAmili && c.IBAN == "" {
			p.Add("data.iban", "is required for Amili: the account Visma Amili pays collected funds to")
		}
		if exists && (status == "pending" || status == "active") {
			p.Add("subject", fmt.Sprintf("the %s service is already %s", cmd.Subject, status))
		}
	case events.ChangeAccountablePartyCommand:
		if cmd.Subject != maventa.ProviderAmili {
			p.Add("subject", "only Amili has an accountable_party")
		} else if !exists {
			p.Add("subject", "the amili service is not activated")
		}
		return p, []string{"party:" + s.AccountableParty}, nil
	case events.CloseServiceCommand:
		if !exists {
			p.Add("subject", fmt.Sprintf("the %s service is not activated", cmd.Subject))
		}
	}
	return p, []string{"status:" + status}, nil
}

func (serviceOp) send(ctx context.Context, api Maventa, cmd events.Command, data events.CommandData) (created, error) {
	var err error
	switch c := data.(type) {
	case events.ActivateServiceCommand:
		_, err = api.ActivateReceivablesService(ctx, cmd.CompanyID, cmd.Subject, ServiceActivation(c))
	case events.ChangeAccountablePartyCommand:
		_, err = api.UpdateReceivablesService(ctx, cmd.CompanyID, cmd.Subject, maventa.ServiceActivation{AccountableParty: c.AccountableParty})
	case events.CloseServiceCommand:
		err = api.CloseReceivablesService(ctx, cmd.CompanyID, cmd.Subject)
	}
	return created{}, err
}

func (serviceOp) find(ctx context.Context, api Maventa, cmd events.Command, data events.CommandData, _ []string) (created, bool, string, error) {
	s, exists, err := serviceState(ctx, api, cmd)
	if err != nil {
		return created{}, false, "", err
	}
	status := strings.ToLower(s.Status)
	switch c := data.(type) {
	case events.ActivateServiceCommand:
		if exists && (status == "pending" || status == "active") {
			return created{}, true, "", nil
		}
	case events.ChangeAccountablePartyCommand:
		if s.AccountableParty == c.AccountableParty {
			return created{}, true, "", nil
		}
	case events.CloseServiceCommand:
		if !exists {
			return created{}, true, "", nil
		}
	}
	return created{}, false, fmt.Sprintf("the %s service: exists=%t status=%q accountable_party=%q", cmd.Subject, exists, s.Status, s.AccountableParty), nil
}

// ServiceActivation is the PUT /v2/services/{provider}/receivables body of an activation command.
func ServiceActivation(c events.ActivateServiceCommand) maventa.ServiceActivation {
	addr := func(a *events.Address) *maventa.Address {
		if a == nil {
			return nil
		}
		return &maventa.Address{Streets: a.Streets, ZipCode: a.ZipCode, City: a.City, Country: a.Country}
	}
	return maventa.ServiceActivation{IBAN: c.IBAN, BIC: c.BIC, Bank: c.Bank, ContactPerson: c.ContactPerson, ContactEmail: c.ContactEmail,
		ContactPhoneNumber: c.ContactPhoneNumber, AuthorizationEmail: c.AuthorizationEmail, AccountableParty: c.AccountableParty,
		ServiceType: c.ServiceType, CustomerServiceEmail: c.CustomerServiceEmail, CustomerServicePhoneNumber: c.CustomerServicePhoneNumber,
		BillingAddress: addr(c.BillingAddress), PostalAddress: addr(c.PostalAddress)}
}
