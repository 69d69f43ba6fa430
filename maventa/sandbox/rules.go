package sandbox

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/maventa-bridge/maventa-events/events"
)

// Parties that create events. The agency and Maventa party ids are fixed UUIDs so
// that a client can tell them apart; a company's events carry its company id.
const (
	AgencyPartyID  = "938fc79f-9c00-47af-8507-cdf15838aa96" // Visma Amili (from seed 003's example)
	MaventaPartyID = "5a1d7b8e-0c2f-4c59-9a57-7e6f0d6c1a01" // ASSUMED
	AgencyName     = "Visma Amili FI"
)

// Party says who creates an event: the catalog's parties.
type Party = events.Party

// Parties.
const (
	PartyCompany = events.PartyCompany
	PartyAgency  = events.PartyAgency
	PartyMaventa = events.PartyMaventa
)

// Data field names of event types whose payload Maventa has not published
// (ASSUMED). paid's sum_paid/booked_at/archive_number and freeze's frozen/end_date
// are from seed 003.
const (
	FieldSumPaid          = "sum_paid"
	FieldCreditNoteNumber = "credit_note_number" // credit_note (ASSUMED)
	FieldCreditSum        = "sum"                // credit_note, cash_discount (ASSUMED)
	FieldDueDate          = "due_date"           // due_date_change_request, due_date_changed (ASSUMED)
	FieldComment          = "comment"            // comment (ASSUMED)
	FieldServiceLevel     = "service_level"      // service_level_changed (ASSUMED)
	FieldDeliveryStatus   = "status"             // delivery_status: DELIVERED / FAILED (ASSUMED)
	FieldFrozen           = "frozen"
	FieldEndDate          = "end_date"
)

// ServiceLevels accepted by PATCH /v1/service_levels/{bid}.
var ServiceLevels = map[string]bool{"default": true, "premium": true, "vip": true, "service_bypass": true}

func amountField(data map[string]any, key string) (events.Decimal, error) {
	v, ok := data[key]
	if !ok {
		return events.Decimal{}, fmt.Errorf("data.%s is required: %w", key, ErrInvalid)
	}
	var txt string
	switch x := v.(type) {
	case json.Number:
		txt = x.String()
	case string:
		txt = x
	case Amount:
		return x.Decimal, nil
	case events.Decimal:
		return x, nil
	case int:
		txt = fmt.Sprint(x)
	default:
		return events.Decimal{}, fmt.Errorf("data.%s must be a number: %w", key, ErrInvalid)
	}
	d, err := events.ParseDecimal(txt)
	if err != nil {
		return events.Decimal{}, fmt.Errorf("data.%s: %w: %w", key, ErrInvalid, err)
	}
	return d, nil
}

// validateCompanyEvent checks a company-created event before it is stored.
func validateCompanyEvent(a *Assignment, typ string, data map[string]any) error {
	if !events.CompanyMayCreate(typ) {
		return fmt.Errorf("event type %q cannot be created by the company: %w", typ, ErrInvalid)
	}
	if a.Status == StatusClosed && typ != "comment" && typ != "credit_loss" {
		return fmt.Errorf("assignment %s is closed: %w", a.ID, ErrInvalid)
	}
	switch typ {
	case "paid":
		_, err := amountField(data, FieldSumPaid)
		return err
	case "credit_note":
		d, err := amountField(data, FieldCreditSum)
		if err != nil {
			return err
		}
		if d.Sign() <= 0 {
			return fmt.Errorf("credit sum must be positive: %w", ErrInvalid)
		}
	case "due_date_change_request":
		v, _ := data[FieldDueDate].(string)
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			return fmt.Errorf("data.%s must be a YYYY-MM-DD date: %w", FieldDueDate, ErrInvalid)
		}
	case "freeze":
		if _, ok := data[FieldFrozen].(bool); !ok {
			return fmt.Errorf("data.%s must be a boolean: %w", FieldFrozen, ErrInvalid)
		}
		if v, ok := data[FieldEndDate].(string); ok {
			if _, err := time.Parse(time.DateOnly, v); err != nil {
				return fmt.Errorf("data.%s must be a YYYY-MM-DD date: %w", FieldEndDate, ErrInvalid)
			}
		}
	}
	return nil
}

// addEventLocked stores an event on a and applies its rules, including the
// agency's answers (close, freeze_confirmed, due_date_changed, comment).
func (s *Sandbox) addEventLocked(a *Assignment, party Party, typ string, data map[string]any, happened time.Time) (*Event, error) {
	if party == PartyCompany {
		if err := validateCompanyEvent(a, typ, data); err != nil {
			return nil, err
		}
	}
	ev := s.appendEventLocked(a, party, typ, data, happened)
	if err := s.applyLocked(a, ev); err != nil {
		return nil, err
	}
	return ev, nil
}

func (s *Sandbox) appendEventLocked(a *Assignment, party Party, typ string, data map[string]any, happened time.Time) *Event {
	now := s.now()
	data = normalizeData(data)
	if happened.IsZero() {
		happened = now
	}
	ev := &Event{
		ID: s.newIDLocked(), AssignmentID: a.ID, Type: typ, Data: data,
		Seens: []Seen{}, CreatedAt: now, HappenedAt: happened.UTC(), seq: s.st.nextSeq(),
	}
	switch party {
	case PartyAgency:
		ev.PartyID = AgencyPartyID
	case PartyMaventa:
		ev.PartyID = MaventaPartyID
	default:
		ev.PartyID = a.companyID
	}
	a.Events = append(a.Events, ev)
	a.UpdatedAt = now
	s.st.events = append(s.st.events, ev)
	s.st.eventByID[ev.ID] = ev
	return ev
}

// agencyLocked adds an agency answer and applies it.
// happened is the happened_at of the event being answered (zero: now).
func (s *Sandbox) agencyLocked(a *Assignment, typ string, data map[string]any, happened time.Time) {
	ev := s.appendEventLocked(a, PartyAgency, typ, data, happened)
	_ = s.applyLocked(a, ev)
}

func (s *Sandbox) closeIfCoveredLocked(a *Assignment, happened time.Time) {
	if a.Status == StatusClosed {
		return
	}
	covered := a.Paid.Add(a.discount.Decimal)
	full := (a.Sum.Sign() >= 0 && covered.Cmp(a.Sum.Decimal) >= 0) ||
		(a.Sum.Sign() < 0 && covered.Cmp(a.Sum.Decimal) <= 0)
	if full {
		s.agencyLocked(a, "close", map[string]any{}, happened)
	}
}

// applyLocked applies ev's effect on a (seed 003's event table).
func (s *Sandbox) applyLocked(a *Assignment, ev *Event) error {
	now := s.now()
	a.UpdatedAt = now
	if _, ok := events.CollectionStatusOf(ev.Type); ok {
		if next, changed := events.CollectionStatusAfter(ev.Type, a.CollectionStatus); changed {
			a.CollectionStatus = next
		}
		return nil
	}
	switch ev.Type {
	case "paid":
		d, err := amountField(ev.Data, FieldSumPaid)
		if err != nil {
			return err
		}
		a.Paid = Amount{a.Paid.Add(d)}
		s.closeIfCoveredLocked(a, ev.HappenedAt)
	case "credit_note":
		d, err := amountField(ev.Data, FieldCreditSum)
		if err != nil {
			return err
		}
		a.Paid = Amount{a.Paid.Add(d)}
		s.closeIfCoveredLocked(a, ev.HappenedAt)
	case "cash_discount":
		if d, err := amountField(ev.Data, FieldCreditSum); err == nil {
			a.discount = Amount{a.discount.Add(d)}
			s.closeIfCoveredLocked(a, ev.HappenedAt)
		}
	case "cancel":
		if a.Status != StatusClosed {
			s.agencyLocked(a, "close", map[string]any{}, ev.HappenedAt)
		}
	case "close":
		if a.Status != StatusClosed {
			a.Status = StatusClosed
			a.ClosedAt = &now
			a.frozen = false
		}
	case "partially_closed":
		if a.Status == StatusOpen {
			a.Status = StatusPartiallyClosed
			a.PartiallyClosedAt = &now
		}
	case "due_date_change_request":
		if events.CollectionStarted(a.CollectionStatus) {
			s.agencyLocked(a, "comment", map[string]any{
				FieldComment: "Due date change rejected: debt collection has already started.",
			}, ev.HappenedAt)
			return nil
		}
		s.agencyLocked(a, "due_date_changed", map[string]any{FieldDueDate: ev.Data[FieldDueDate]}, ev.HappenedAt)
	case "due_date_changed":
		if v, ok := ev.Data[FieldDueDate].(string); ok && v != "" {
			a.DueDate = v
		}
	case "freeze":
		switch a.CollectionStatus {
		case "legal_collection", "recovery_proceedings", "lack_of_means":
			s.agencyLocked(a, "comment", map[string]any{
				FieldComment: "Suspension rejected: legal collection has started or the debtor has been found insolvent.",
			}, ev.HappenedAt)
			return nil
		}
		frozen, _ := ev.Data[FieldFrozen].(bool)
		end, _ := ev.Data[FieldEndDate].(string)
		today := ev.HappenedAt.Format(time.DateOnly)
		if !frozen || (end != "" && end <= today) {
			if a.frozen {
				s.agencyLocked(a, "unfreezed", map[string]any{"happened_at": today}, ev.HappenedAt)
			}
			return nil
		}
		s.agencyLocked(a, "freeze_confirmed", map[string]any{"happened_at": today, FieldEndDate: end}, ev.HappenedAt)
	case "freeze_confirmed":
		a.frozen = true
	case "unfreezed":
		a.frozen = false
	case "service_level_changed":
		if v, ok := ev.Data[FieldServiceLevel].(string); ok && v != "" {
			a.ServiceLevel = strings.ToLower(v)
		}
	}
	// comment, credit_loss, interest_paid, delivery_status and unknown types only
	// bump updated_at.
	return nil
}

// normalizeData copies data, turning Go amounts into JSON numbers so that every
// stored event looks like one decoded from Maventa's JSON.
func normalizeData(data map[string]any) map[string]any {
	out := make(map[string]any, len(data))
	for k, v := range data {
		switch x := v.(type) {
		case Amount:
			v = x.JSONNumber()
		case events.Decimal:
			v = x.JSONNumber()
		case int:
			v = json.Number(fmt.Sprint(x))
		}
		out[k] = v
	}
	return out
}
