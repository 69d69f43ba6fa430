package sandbox

import (
	"encoding/json"
	"fmt"
	"time"
)

// Receivables service providers.
const (
	ProviderAmili = "amili"
	ProviderRopo  = "ropo"
)

// Service statuses of the v2 endpoints (lower case, ASSUMED) and the legacy v1
// endpoint (published: DISABLED, ACTIVE, PENDING).
const (
	ServicePending  = "pending"
	ServiceActive   = "active"
	ServiceRejected = "rejected"
)

// service is one company's activation of one provider. params keeps the PUT body
// as sent, so GET echoes it back like Maventa's example.
type service struct {
	provider  string
	status    string
	params    map[string]any
	reason    string
	createdAt time.Time
	updatedAt time.Time
}

// VFSFI is Visma Amili's payment details block returned for an active Amili
// service (values from seed 004's example).
func VFSFI() map[string]any {
	return map[string]any{
		"iban":           "FI2357169020052929",
		"bic":            "OKOYFIHH",
		"account_number": "571690-20052929",
		"notes": []map[string]any{
			{"code": "FI", "phrase": "Olemme siirtäneet laskujen lähettämisen sekä saataviemme eräpäivän jälkeisen seurannan ja sitä koskevat toimenpiteet Visma Financial Solutions Oy:n laskutuspalveluun."},
			{"code": "SV", "phrase": "Vi har externaliserat övervakningen av fordringar till Visma Financial Solutions Oy:s faktureringstjänst."},
			{"code": "EN", "phrase": "We have transferred the sending of invoices and follow-up of our claims after the due date and measures related thereto to the invoicing service of Visma Financial Solutions Oy."},
		},
	}
}

func (s *Sandbox) serviceActiveLocked(company, provider string) bool {
	sv := s.st.services[company][provider]
	return sv != nil && sv.status == ServiceActive
}

// view renders a service as GET /v2/services/{provider}/receivables answers.
func (sv *service) view(companyID string) map[string]any {
	out := map[string]any{}
	for k, v := range sv.params {
		out[k] = v
	}
	out["status"] = sv.status
	out["activation_url"] = nil
	if sv.status == ServicePending {
		out["activation_url"] = "https://kyc.sandbox.invalid/activate/" + sv.provider + "/" + companyID
	}
	if sv.provider == ProviderAmili {
		if _, ok := out["accountable_party"]; !ok {
			out["accountable_party"] = "vfsfi"
		}
		if _, ok := out["service_type"]; !ok {
			out["service_type"] = "full"
		}
		if sv.status == ServiceActive {
			out["vfsfi"] = VFSFI()
		}
	}
	if sv.status == ServiceRejected && sv.reason != "" {
		out["rejection_reason"] = sv.reason
	}
	return out
}

// putServiceLocked starts (or restarts) an activation: status pending.
func (s *Sandbox) putServiceLocked(company, provider string, params map[string]any) *service {
	m := s.st.services[company]
	if m == nil {
		m = map[string]*service{}
		s.st.services[company] = m
	}
	now := s.now()
	sv := m[provider]
	if sv == nil || sv.status == ServiceRejected {
		sv = &service{provider: provider, status: ServicePending, createdAt: now}
		m[provider] = sv
	}
	delete(params, "status")
	delete(params, "vfsfi")
	sv.params = params
	sv.updatedAt = now
	return sv
}

// Service returns the view of a company's service (as the GET endpoint answers).
func (s *Sandbox) Service(companyID, provider string) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.st.services[companyID][provider]
	if sv == nil {
		return nil, fmt.Errorf("%s service of %s: %w", provider, companyID, ErrNotFound)
	}
	return sv.view(companyID), nil
}

// RequestService starts an activation as PUT /v2/services/{provider}/receivables would.
func (s *Sandbox) RequestService(companyID, provider string, params map[string]any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.company(companyID); err != nil {
		return err
	}
	if params == nil {
		params = map[string]any{}
	}
	s.putServiceLocked(companyID, provider, params)
	return nil
}

// ActivateService completes a pending activation (KYC signed, agency verified):
// status active and the ASSUMED SERVICES.RECEIVABLES.ACTIVATED webhook, whose
// event_data carries the provider, the status and, for Amili, the vfsfi block.
// A company without a pending request is activated directly.
func (s *Sandbox) ActivateService(companyID, provider string) error {
	return s.decideService(companyID, provider, ServiceActive, "")
}

// RejectService rejects a pending activation and fires SERVICES.RECEIVABLES.REJECTED (ASSUMED).
func (s *Sandbox) RejectService(companyID, provider, reason string) error {
	return s.decideService(companyID, provider, ServiceRejected, reason)
}

func (s *Sandbox) decideService(companyID, provider, status, reason string) error {
	if provider != ProviderAmili && provider != ProviderRopo {
		return fmt.Errorf("provider %q: %w", provider, ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.company(companyID); err != nil {
		return err
	}
	sv := s.st.services[companyID][provider]
	if sv == nil {
		sv = s.putServiceLocked(companyID, provider, map[string]any{})
	}
	sv.status, sv.reason, sv.updatedAt = status, reason, s.now()
	data := map[string]any{"service": "RECEIVABLES", "provider": provider, "status": status}
	event := EventReceivablesActivated
	if status == ServiceRejected {
		event = EventReceivablesRejected
		data["reason"] = reason
	} else if provider == ProviderAmili {
		data["vfsfi"] = VFSFI()
	}
	// Round-trip through JSON so the payload holds plain JSON values.
	b, _ := json.Marshal(data)
	var clean map[string]any
	_ = json.Unmarshal(b, &clean)
	s.emitLocked(event, companyID, clean)
	return nil
}

// NetworkEvent fires NETWORKS.<network>.<action> (CREATED, ENABLED, DISABLED)
// with seed 004's payload {network, profiles, id}.
func (s *Sandbox) NetworkEvent(companyID, network, action string, profiles []string) error {
	switch action {
	case "CREATED", "ENABLED", "DISABLED":
	default:
		return fmt.Errorf("network action %q: %w", action, ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.company(companyID); err != nil {
		return err
	}
	if profiles == nil {
		profiles = []string{"INVOICE_AND_CREDIT_NOTE"}
	}
	s.emitLocked("NETWORKS."+network+"."+action, companyID, map[string]any{
		"network": network, "profiles": profiles, "id": s.newIDLocked(),
	})
	return nil
}

// AuthorizationEvent fires COMPANIES.AUTHORIZATION.<state> (VERIFIED, UNVERIFIED, UNKNOWN).
func (s *Sandbox) AuthorizationEvent(companyID, state string) error {
	switch state {
	case "VERIFIED", "UNVERIFIED", "UNKNOWN":
	default:
		return fmt.Errorf("authorization state %q: %w", state, ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.company(companyID); err != nil {
		return err
	}
	s.emitLocked("COMPANIES.AUTHORIZATION."+state, companyID, map[string]any{"state": state})
	return nil
}
