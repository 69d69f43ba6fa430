package sandbox

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// AXHandler serves the AX API subset: the token endpoint, webhook registrations,
// receivables services and sent invoices.
func (s *Sandbox) AXHandler() http.Handler {
	r := chi.NewRouter()
	r.Use(s.countMiddleware("ax"), s.faultMiddleware("ax"))
	r.Post("/oauth2/token", s.handleToken)
	r.Group(func(r chi.Router) {
		r.Use(s.requireScope(ScopeCompanyRead, ScopeCompanyWrite))
		r.Get("/v1/company/notifications", s.handleListNotifications)
		r.Get("/v1/company/notifications/{id}", s.handleGetNotification)
		r.Get("/v2/services/{provider:amili|ropo}/receivables", s.handleGetService)
		r.Get("/v1/services/receivables", s.handleGetLegacyService)
	})
	r.Group(func(r chi.Router) {
		r.Use(s.requireScope(ScopeCompanyWrite))
		r.Post("/v1/company/notifications", s.handleCreateNotification)
		r.Delete("/v1/company/notifications/{id}", s.handleDeleteNotification)
		r.Put("/v2/services/{provider:amili|ropo}/receivables", s.handlePutService)
		r.Patch("/v2/services/{provider:amili}/receivables", s.handlePatchService)
		r.Delete("/v2/services/{provider:amili|ropo}/receivables", s.handleDeleteService)
		r.Put("/v1/services/receivables", s.handlePutLegacyService)
	})
	r.Group(func(r chi.Router) {
		// Operator registrations (ASSUMED semantics, see "Operator tokens" in token.go).
		r.Use(s.requireScope(ScopeOperatorNotifications))
		r.Get("/v1/operator/notifications", s.handleListNotifications)
		r.Get("/v1/operator/notifications/{id}", s.handleGetNotification)
		r.Post("/v1/operator/notifications", s.handleCreateNotification)
		r.Delete("/v1/operator/notifications/{id}", s.handleDeleteNotification)
	})
	r.Group(func(r chi.Router) {
		r.Use(s.requireScope(ScopeInvoices, "invoice:receive"))
		r.Get("/v1/invoices", s.handleListInvoices)
		r.Get("/v2/invoices/{id}/assignment", s.handleInvoiceAssignment)
		r.Get("/v1/invoices/{id}", s.handleGetInvoice)
		r.Post("/v2/invoices/{id}/assignment/{provider:ropo|amili}", s.handleTransfer)
	})
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such route")
	})
	return r
}

// --- notifications ---

type notificationRequest struct {
	DestinationType string   `json:"destination_type"`
	Destination     string   `json:"destination"`
	Events          []string `json:"events"`
	VendorKey       string   `json:"vendor_key"`
}

// RegisterWebhook registers a notification for a company as POST
// /v1/company/notifications does, and returns it.
func (s *Sandbox) RegisterWebhook(companyID, destinationType, destination string, events []string, vendorKey string) (Notification, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.company(companyID); err != nil {
		return Notification{}, err
	}
	n, err := s.registerLocked(companyID, notificationRequest{destinationType, destination, events, vendorKey})
	if err != nil {
		return Notification{}, err
	}
	return *n, nil
}

func (s *Sandbox) registerLocked(companyID string, req notificationRequest) (*Notification, error) {
	if req.DestinationType == "" {
		req.DestinationType = "WEBHOOK"
	}
	if req.DestinationType != "WEBHOOK" && req.DestinationType != "VENDOR_WEBHOOK" {
		return nil, errInvalidf("destination_type must be WEBHOOK or VENDOR_WEBHOOK")
	}
	u, err := url.Parse(req.Destination)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errInvalidf("destination must be an http(s) URL")
	}
	if len(req.Events) == 0 {
		return nil, errInvalidf("events must not be empty")
	}
	if req.VendorKey != "" && req.DestinationType != "VENDOR_WEBHOOK" {
		return nil, errInvalidf("vendor_key needs destination_type VENDOR_WEBHOOK")
	}
	n := &Notification{ID: s.newIDLocked(), DestinationType: req.DestinationType, Destination: req.Destination,
		Events: append([]string(nil), req.Events...), VendorKey: req.VendorKey, companyID: companyID, seq: s.st.nextSeq()}
	s.st.notifications[n.ID] = n
	return n, nil
}

func (s *Sandbox) handleCreateNotification(w http.ResponseWriter, r *http.Request) {
	var req notificationRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := principalFrom(r.Context())
	if p.operator != "" && req.DestinationType == "VENDOR_WEBHOOK" && req.VendorKey == "" {
		writeError(w, http.StatusUnprocessableEntity, "invalid_parameter", "an operator's VENDOR_WEBHOOK needs vendor_key", "vendor_key")
		return
	}
	n, err := s.registerLocked(p.company, req)
	if err != nil {
		writeErr(w, err)
		return
	}
	n.operatorID = p.operator
	writeJSON(w, http.StatusCreated, n)
}

func (s *Sandbox) handleListNotifications(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*Notification
	for _, n := range s.st.notifications {
		if ownsNotification(p, n) {
			c := *n
			list = append(list, &c)
		}
	}
	slices.SortFunc(list, func(a, b *Notification) int { return int(b.seq - a.seq) })
	if page, ok := paginate(w, r, list); ok {
		writeJSON(w, http.StatusOK, page)
	}
}

func (s *Sandbox) ownedNotificationLocked(w http.ResponseWriter, r *http.Request) *Notification {
	n, ok := s.st.notifications[chi.URLParam(r, "id")]
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "notification not found")
		return nil
	}
	if !ownsNotification(principalFrom(r.Context()), n) {
		writeError(w, http.StatusForbidden, "forbidden", "notification belongs to another company")
		return nil
	}
	return n
}

// ownsNotification reports whether p registered n: a company its own
// /v1/company/notifications, an operator its /v1/operator/notifications.
func ownsNotification(p principal, n *Notification) bool {
	if p.operator != "" {
		return n.operatorID == p.operator
	}
	return n.operatorID == "" && n.companyID == p.company
}

func (s *Sandbox) handleGetNotification(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.ownedNotificationLocked(w, r); n != nil {
		writeJSON(w, http.StatusOK, n)
	}
}

func (s *Sandbox) handleDeleteNotification(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.ownedNotificationLocked(w, r); n != nil {
		delete(s.st.notifications, n.ID)
		w.WriteHeader(http.StatusNoContent)
	}
}

// --- receivables services ---

func (s *Sandbox) handleGetService(w http.ResponseWriter, r *http.Request) {
	company, provider := companyFrom(r.Context()), chi.URLParam(r, "provider")
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.st.services[company][provider]
	if sv == nil {
		writeError(w, http.StatusNotFound, "not_found", "receivables service not activated")
		return
	}
	writeJSON(w, http.StatusOK, sv.view(company))
}

func (s *Sandbox) handlePutService(w http.ResponseWriter, r *http.Request) {
	company, provider := companyFrom(r.Context()), chi.URLParam(r, "provider")
	params := map[string]any{}
	if err := decodeBody(r, &params); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	if provider == ProviderAmili {
		if v, ok := params["accountable_party"]; ok && v != "vfsfi" && v != "company" {
			writeError(w, http.StatusUnprocessableEntity, "invalid_parameter", "accountable_party must be vfsfi or company", "accountable_party")
			return
		}
		if v, ok := params["service_type"]; ok && v != "full" && v != "express" {
			writeError(w, http.StatusUnprocessableEntity, "invalid_parameter", "service_type must be full or express", "service_type")
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.putServiceLocked(company, provider, params)
	writeJSON(w, http.StatusOK, sv.view(company))
}

func (s *Sandbox) handlePatchService(w http.ResponseWriter, r *http.Request) {
	company, provider := companyFrom(r.Context()), chi.URLParam(r, "provider")
	params := map[string]any{}
	if err := decodeBody(r, &params); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	if v, ok := params["accountable_party"]; ok && v != "vfsfi" && v != "company" {
		writeError(w, http.StatusUnprocessableEntity, "invalid_parameter", "accountable_party must be vfsfi or company", "accountable_party")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.st.services[company][provider]
	if sv == nil {
		writeError(w, http.StatusNotFound, "not_found", "receivables service not activated")
		return
	}
	for k, v := range params {
		if k != "status" && k != "vfsfi" {
			sv.params[k] = v
		}
	}
	sv.updatedAt = s.now()
	writeJSON(w, http.StatusOK, sv.view(company))
}

func (s *Sandbox) handleDeleteService(w http.ResponseWriter, r *http.Request) {
	company, provider := companyFrom(r.Context()), chi.URLParam(r, "provider")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.services[company][provider] == nil {
		writeError(w, http.StatusNotFound, "not_found", "receivables service not activated")
		return
	}
	delete(s.st.services[company], provider)
	w.WriteHeader(http.StatusNoContent)
}

// legacyStatus maps the v2 state of Amili to v1's DISABLED / PENDING / ACTIVE.
func legacyStatus(sv *service) string {
	switch {
	case sv == nil || sv.status == ServiceRejected:
		return "DISABLED"
	case sv.status == ServicePending:
		return "PENDING"
	default:
		return "ACTIVE"
	}
}

func (s *Sandbox) legacyView(company string) map[string]any {
	sv := s.st.services[company][ProviderAmili]
	out := map[string]any{}
	if sv != nil {
		for k, v := range sv.view(company) {
			out[k] = v
		}
		delete(out, "activation_url")
	}
	out["status"] = legacyStatus(sv)
	return out
}

func (s *Sandbox) handleGetLegacyService(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.legacyView(companyFrom(r.Context())))
}

func (s *Sandbox) handlePutLegacyService(w http.ResponseWriter, r *http.Request) {
	params := map[string]any{}
	if err := decodeBody(r, &params); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	company := companyFrom(r.Context())
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putServiceLocked(company, ProviderAmili, params)
	writeJSON(w, http.StatusOK, s.legacyView(company))
}

// --- invoices ---

func (s *Sandbox) handleListInvoices(w http.ResponseWriter, r *http.Request) {
	if !checkTimeParams(w, r, "created_at_start", "created_at_end", "updated_at_start", "updated_at_end") {
		return
	}
	company := companyFrom(r.Context())
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*Invoice
	for _, inv := range s.st.invoices {
		if inv.companyID == company && matches(InvoiceFilters, q, inv) {
			c := *inv
			list = append(list, &c)
		}
	}
	newestFirst(list, func(i *Invoice) time.Time { return i.CreatedAt }, func(i *Invoice) int64 { return i.seq })
	if page, ok := paginate(w, r, list); ok {
		writeJSON(w, http.StatusOK, page)
	}
}

// handleInvoiceAssignment is GET /v2/invoices/{id}/assignment: the transfer status
// (pending / sent / error) of an invoice's assignment.
func (s *Sandbox) handleInvoiceAssignment(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, ok := s.st.invoices[chi.URLParam(r, "id")]
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "invoice not found")
		return
	}
	if inv.companyID != companyFrom(r.Context()) {
		writeError(w, http.StatusForbidden, "forbidden", "invoice belongs to another company")
		return
	}
	if s.writeTransferLocked(w, inv) {
		return
	}
	out := map[string]any{"invoice_id": inv.ID, "assignment_id": nil, "error_message": nil}
	switch {
	case inv.assignmentID != "":
		out["status"] = "sent"
		out["assignment_id"] = inv.assignmentID
		out["provider"] = s.st.assignments[inv.assignmentID].provider
	case inv.Status == InvoiceFailed && strings.HasPrefix(inv.ErrorMessage, "SEND ERROR (REASON: RECEIVABLES-SERVICE"):
		out["status"] = "error"
		out["error_message"] = inv.ErrorMessage
	default:
		writeError(w, http.StatusNotFound, "not_found", "invoice has no assignment")
		return
	}
	writeJSON(w, http.StatusOK, out)
}
