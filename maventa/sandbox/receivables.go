package sandbox

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// ReceivablesHandler serves the Receivables API. Every route needs a company token
// with scope receivables:assignments or an operator token with
// operator:receivables:assignments (ASSUMED, see "Operator tokens" in token.go).
func (s *Sandbox) ReceivablesHandler() http.Handler {
	r := chi.NewRouter()
	r.Use(s.countMiddleware("receivables"), s.faultMiddleware("receivables"))
	r.Group(func(r chi.Router) {
		r.Use(s.requireScope(ScopeReceivables, ScopeOperatorReceivables), s.receivablesServiceGate)
		r.Get("/v1/assignments", s.handleListAssignments)
		r.Get("/v1/assignments/overview", s.handleOverview)
		r.Get("/v1/assignments/{id}", s.handleGetAssignment)
		r.Get("/v1/assignments/{id}/events", s.handleAssignmentEvents)
		r.Post("/v1/assignments/{id}/events", s.handlePostEvent)
		r.Post("/v1/assignments/{id}/events/{event_id}/seen", s.handleSeen)
		r.Get("/v1/events", s.handleListEvents)
		r.Get("/v1/service_levels", s.handleListServiceLevels)
		r.Get("/v1/service_levels/{bid}", s.handleGetServiceLevel)
		r.Patch("/v1/service_levels/{bid}", s.handlePatchServiceLevel)
		r.Get("/v1/message_threads", s.handleListThreads)
		r.Get("/v1/message_threads/{id}", s.handleGetThread)
		r.Patch("/v1/message_threads/{id}", s.handlePatchThread)
		r.Get("/v1/message_threads/{id}/messages", s.handleThreadMessages)
		r.Post("/v1/message_threads/{id}/messages", s.handlePostThreadMessage)
		r.Get("/v1/assignments/{id}/messages", s.handleAssignmentMessages)
		r.Post("/v1/assignments/{id}/messages", s.handlePostAssignmentMessage)
		r.Put("/v1/messages/{id}/seen", s.handleMessageSeen)
	})
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such route")
	})
	return r
}

// ownedAssignmentLocked finds an assignment and checks that the company owns it:
// missing -> 404, another company's -> 403.
func (s *Sandbox) ownedAssignmentLocked(w http.ResponseWriter, r *http.Request) *Assignment {
	a, ok := s.st.assignments[chi.URLParam(r, "id")]
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "assignment not found")
		return nil
	}
	if !s.actsForLocked(r.Context(), a.companyID) {
		writeError(w, http.StatusForbidden, "forbidden", "assignment belongs to another company")
		return nil
	}
	return a
}

// newestFirst sorts by created_at descending, ties by creation sequence descending.
func newestFirst[T any](items []T, created func(T) time.Time, seq func(T) int64) {
	slices.SortStableFunc(items, func(a, b T) int {
		if c := created(b).Compare(created(a)); c != 0 {
			return c
		}
		return int(seq(b) - seq(a))
	})
}

func (s *Sandbox) handleListAssignments(w http.ResponseWriter, r *http.Request) {
	if !checkTimeParams(w, r, "created_at_start", "created_at_end", "updated_at_start", "updated_at_end", "closed_at_start", "closed_at_end") {
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	// An invoice has at most one assignment (createAssignmentLocked): the lookup
	// by invoice, the service's per-webhook call, need not scan every assignment,
	// which made the fake the bottleneck of end-to-end load runs.
	candidates := s.st.assignments
	if v := q.Get("invoice_id"); v != "" {
		candidates = map[string]*Assignment{}
		if inv, ok := s.st.invoices[v]; ok && inv.assignmentID != "" {
			if a, ok := s.st.assignments[inv.assignmentID]; ok {
				candidates[a.ID] = a
			}
		}
	}
	var list []*Assignment
	for _, a := range candidates {
		if s.actsForLocked(r.Context(), a.companyID) && matches(AssignmentFilters, q, a) {
			list = append(list, a)
		}
	}
	newestFirst(list, func(a *Assignment) time.Time { return a.CreatedAt }, func(a *Assignment) int64 { return a.seq })
	page, ok := paginate(w, r, list)
	out := make([]*Assignment, 0, len(page))
	for _, a := range page {
		out = append(out, copyAssignment(a, true))
	}
	s.mu.Unlock()
	if ok {
		writeJSON(w, http.StatusOK, out)
	}
}

// checkTimeParams answers 422 when a date filter is not a timestamp or date.
func checkTimeParams(w http.ResponseWriter, r *http.Request, names ...string) bool {
	q := r.URL.Query()
	for _, n := range names {
		if v := q.Get(n); v != "" {
			if _, err := parseTime(v); err != nil {
				writeError(w, http.StatusUnprocessableEntity, "invalid_parameter", err.Error(), n)
				return false
			}
		}
	}
	return true
}

// Overview is GET /v1/assignments/overview (shape ASSUMED: counts and sums of
// open assignments, those due within 7 days, and overdue ones).
type Overview struct {
	Open       int    `json:"open"`
	OpenSum    Amount `json:"open_sum"`
	DueSoon    int    `json:"due_soon"`
	DueSoonSum Amount `json:"due_soon_sum"`
	Overdue    int    `json:"overdue"`
	OverdueSum Amount `json:"overdue_sum"`
}

func (s *Sandbox) handleOverview(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	today := s.now().Format(time.DateOnly)
	soon := s.now().AddDate(0, 0, 7).Format(time.DateOnly)
	var o Overview
	for _, a := range s.st.assignments {
		if !s.actsForLocked(r.Context(), a.companyID) || a.Status != StatusOpen {
			continue
		}
		open := Amount{a.Sum.Sub(a.Paid.Decimal)}
		o.Open++
		o.OpenSum = Amount{o.OpenSum.Add(open.Decimal)}
		switch {
		case a.DueDate < today:
			o.Overdue++
			o.OverdueSum = Amount{o.OverdueSum.Add(open.Decimal)}
		case a.DueDate <= soon:
			o.DueSoon++
			o.DueSoonSum = Amount{o.DueSoonSum.Add(open.Decimal)}
		}
	}
	writeJSON(w, http.StatusOK, o)
}

func (s *Sandbox) handleGetAssignment(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.ownedAssignmentLocked(w, r); a != nil {
		writeJSON(w, http.StatusOK, copyAssignment(a, true))
	}
}

func (s *Sandbox) handleAssignmentEvents(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.ownedAssignmentLocked(w, r)
	if a == nil {
		return
	}
	evs := copyAssignment(a, true).Events
	if page, ok := paginate(w, r, evs); ok {
		writeJSON(w, http.StatusOK, page)
	}
}

// eventRequest is the body of POST /v1/assignments/{id}/events.
type eventRequest struct {
	Type       string         `json:"type"`
	Data       map[string]any `json:"data"`
	HappenedAt string         `json:"happened_at"`
}

func (s *Sandbox) handlePostEvent(w http.ResponseWriter, r *http.Request) {
	var req eventRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	var happened time.Time
	if req.HappenedAt != "" {
		t, err := parseTime(req.HappenedAt)
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, "invalid_parameter", err.Error(), "happened_at")
			return
		}
		happened = t
	}
	s.mu.Lock()
	a := s.ownedAssignmentLocked(w, r)
	if a == nil {
		s.mu.Unlock()
		return
	}
	ev, err := s.addEventLocked(a, PartyCompany, req.Type, req.Data, happened)
	var out *Event
	if err == nil {
		out = copyEvent(ev)
	}
	s.mu.Unlock()
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (s *Sandbox) handleSeen(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.ownedAssignmentLocked(w, r)
	if a == nil {
		return
	}
	ev, ok := s.st.eventByID[chi.URLParam(r, "event_id")]
	if !ok || ev.AssignmentID != a.ID {
		writeError(w, http.StatusNotFound, "not_found", "event not found")
		return
	}
	ev.Seens = append(ev.Seens, Seen{SeenAt: s.now(), SeenBy: s.st.companies[a.companyID].Name})
	writeJSON(w, http.StatusOK, copyEvent(ev))
}

func (s *Sandbox) handleListEvents(w http.ResponseWriter, r *http.Request) {
	if !checkTimeParams(w, r, "created_at_start", "created_at_end") {
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*Event
	for i := len(s.st.events) - 1; i >= 0; i-- { // creation order reversed = newest first
		e := s.st.events[i]
		if s.actsForLocked(r.Context(), s.st.assignments[e.AssignmentID].companyID) && matches(EventFilters, q, e) {
			list = append(list, e)
		}
	}
	page, ok := paginate(w, r, list)
	if !ok {
		return
	}
	out := make([]*Event, len(page))
	for i, e := range page {
		out[i] = copyEvent(e)
	}
	writeJSON(w, http.StatusOK, out)
}

// ServiceLevel is one customer's service level.
type ServiceLevel struct {
	CustomerBID  string `json:"customer_bid"`
	ServiceLevel string `json:"service_level"`
}

// serviceLevelCompanyLocked is the company whose service levels a request
// addresses; "" (after a 403) for an operator of several companies.
func (s *Sandbox) serviceLevelCompanyLocked(w http.ResponseWriter, r *http.Request) string {
	company := s.companyFromLocked(r.Context())
	if company == "" {
		writeError(w, http.StatusForbidden, "forbidden", "service levels need a token of exactly one company")
	}
	return company
}

func (s *Sandbox) handleListServiceLevels(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	company := s.serviceLevelCompanyLocked(w, r)
	if company == "" {
		return
	}
	list := []ServiceLevel{}
	for bid, lvl := range s.st.serviceLevels[company] {
		list = append(list, ServiceLevel{bid, lvl})
	}
	slices.SortFunc(list, func(a, b ServiceLevel) int { return strings.Compare(a.CustomerBID, b.CustomerBID) })
	if page, ok := paginate(w, r, list); ok {
		writeJSON(w, http.StatusOK, page)
	}
}

func (s *Sandbox) handleGetServiceLevel(w http.ResponseWriter, r *http.Request) {
	bid := chi.URLParam(r, "bid")
	s.mu.Lock()
	defer s.mu.Unlock()
	company := s.serviceLevelCompanyLocked(w, r)
	if company == "" {
		return
	}
	lvl := s.st.serviceLevels[company][bid]
	if lvl == "" {
		lvl = "default"
	}
	writeJSON(w, http.StatusOK, ServiceLevel{bid, lvl})
}

func (s *Sandbox) handlePatchServiceLevel(w http.ResponseWriter, r *http.Request) {
	bid := chi.URLParam(r, "bid")
	var req struct {
		ServiceLevel string `json:"service_level"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	company := s.serviceLevelCompanyLocked(w, r)
	if company == "" {
		return
	}
	if err := s.setServiceLevelLocked(company, bid, req.ServiceLevel); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ServiceLevel{bid, strings.ToLower(req.ServiceLevel)})
}

// setServiceLevelLocked stores a customer's level and, as Visma Amili does, logs
// service_level_changed on the customer's assignments that are not closed.
func (s *Sandbox) setServiceLevelLocked(company, bid, level string) error {
	level = strings.ToLower(level)
	if !ServiceLevels[level] {
		return fmt.Errorf("service_level %q is not one of default, premium, vip, service_bypass: %w", level, ErrInvalid)
	}
	m := s.st.serviceLevels[company]
	if m == nil {
		m = map[string]string{}
		s.st.serviceLevels[company] = m
	}
	if level == "default" {
		delete(m, bid)
	} else {
		m[bid] = level
	}
	for _, a := range s.sortedAssignmentsLocked(company) {
		if a.Debtor.BID == bid && a.Status != StatusClosed && a.ServiceLevel != level {
			s.agencyLocked(a, "service_level_changed", map[string]any{FieldServiceLevel: level}, time.Time{})
		}
	}
	return nil
}

// sortedAssignmentsLocked lists a company's assignments in creation order.
func (s *Sandbox) sortedAssignmentsLocked(company string) []*Assignment {
	var list []*Assignment
	for _, a := range s.st.assignments {
		if a.companyID == company {
			list = append(list, a)
		}
	}
	slices.SortFunc(list, func(a, b *Assignment) int { return int(a.seq - b.seq) })
	return list
}
