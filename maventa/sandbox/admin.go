package sandbox

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
)

// AdminHandler serves the admin API (routes listed in the package doc). It plays
// the agency, Maventa's back office and the test harness; it has no auth.
func (s *Sandbox) AdminHandler() http.Handler {
	r := chi.NewRouter()
	s.commandAdminRoutes(r)
	r.Get("/admin/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Post("/admin/companies", func(w http.ResponseWriter, r *http.Request) {
		var c Company
		if err := decodeBody(r, &c); err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, s.AddCompany(c))
	})
	r.Get("/admin/companies", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Companies())
	})
	r.Post("/admin/companies/{id}/invoices", func(w http.ResponseWriter, r *http.Request) {
		var spec InvoiceSpec
		if err := decodeBody(r, &spec); err != nil {
			writeErr(w, err)
			return
		}
		res, err := s.SendInvoice(chi.URLParam(r, "id"), spec)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, res)
	})
	r.Post("/admin/companies/{id}/received_invoices", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Number     string `json:"invoice_number"`
			SenderName string `json:"sender_name"`
			SenderBID  string `json:"sender_bid"`
			Origin     string `json:"origin"`
		}
		if err := decodeBody(r, &req); err != nil {
			writeErr(w, err)
			return
		}
		id, err := s.ReceiveInvoice(chi.URLParam(r, "id"), req.Number, req.SenderName, req.SenderBID, req.Origin)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, map[string]string{"invoice_id": id})
	})
	r.Post("/admin/invoices/{id}/fail", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ErrorMessage string `json:"error_message"`
		}
		if err := decodeBody(r, &req); err != nil {
			writeErr(w, err)
			return
		}
		if err := s.FailDelivery(chi.URLParam(r, "id"), req.ErrorMessage); err != nil {
			writeErr(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	r.Get("/admin/assignments/{id}", func(w http.ResponseWriter, r *http.Request) {
		a, err := s.Assignment(chi.URLParam(r, "id"))
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, a)
	})
	r.Post("/admin/assignments/{id}/events", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Type       string         `json:"type"`
			Data       map[string]any `json:"data"`
			HappenedAt string         `json:"happened_at"`
			Party      Party          `json:"party"`
		}
		if err := decodeBody(r, &req); err != nil {
			writeErr(w, err)
			return
		}
		var happened time.Time
		if req.HappenedAt != "" {
			t, err := parseTime(req.HappenedAt)
			if err != nil {
				writeErr(w, err)
				return
			}
			happened = t
		}
		id := chi.URLParam(r, "id")
		var ev *Event
		var err error
		switch req.Party {
		case PartyCompany:
			ev, err = s.AddCompanyEvent(id, req.Type, req.Data, happened)
		case PartyMaventa:
			ev, err = s.addEvent(id, PartyMaventa, req.Type, req.Data, happened)
		default:
			ev, err = s.AddAgencyEvent(id, req.Type, req.Data, happened)
		}
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, ev)
	})
	r.Post("/admin/assignments/{id}/messages", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Message string `json:"message"`
		}
		if err := decodeBody(r, &req); err != nil {
			writeErr(w, err)
			return
		}
		m, err := s.AddAgencyMessage(chi.URLParam(r, "id"), req.Message)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, m)
	})
	r.Post("/admin/companies/{id}/services/{provider}/{action:activate|reject}", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Reason string `json:"reason"`
		}
		if r.ContentLength != 0 {
			if err := decodeBody(r, &req); err != nil {
				writeErr(w, err)
				return
			}
		}
		id, provider := chi.URLParam(r, "id"), chi.URLParam(r, "provider")
		var err error
		if chi.URLParam(r, "action") == "activate" {
			err = s.ActivateService(id, provider)
		} else {
			err = s.RejectService(id, provider, req.Reason)
		}
		if err != nil {
			writeErr(w, err)
			return
		}
		sv, err := s.Service(id, provider)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, sv)
	})
	r.Post("/admin/companies/{id}/networks", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Network  string   `json:"network"`
			Action   string   `json:"action"`
			Profiles []string `json:"profiles"`
		}
		if err := decodeBody(r, &req); err != nil {
			writeErr(w, err)
			return
		}
		if err := s.NetworkEvent(chi.URLParam(r, "id"), req.Network, req.Action, req.Profiles); err != nil {
			writeErr(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	r.Post("/admin/companies/{id}/authorization", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			State string `json:"state"`
		}
		if err := decodeBody(r, &req); err != nil {
			writeErr(w, err)
			return
		}
		if err := s.AuthorizationEvent(chi.URLParam(r, "id"), req.State); err != nil {
			writeErr(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	r.Post("/admin/faults", func(w http.ResponseWriter, r *http.Request) {
		// latency is a Go duration string ("250ms") on the wire.
		var req struct {
			Fault
			Latency string `json:"latency"`
		}
		if err := decodeBody(r, &req); err != nil {
			writeErr(w, err)
			return
		}
		f := req.Fault
		if req.Latency != "" {
			d, err := time.ParseDuration(req.Latency)
			if err != nil {
				writeErr(w, errInvalidf("latency %q", req.Latency))
				return
			}
			f.Latency = d
		}
		writeJSON(w, http.StatusCreated, map[string]string{"id": s.SetFault(f)})
	})
	r.Get("/admin/faults", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Faults())
	})
	r.Delete("/admin/faults", func(w http.ResponseWriter, _ *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	r.Delete("/admin/faults/{id}", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFault(chi.URLParam(r, "id"))
		w.WriteHeader(http.StatusNoContent)
	})
	r.Post("/admin/tokens/expire", func(w http.ResponseWriter, _ *http.Request) {
		s.ExpireTokens()
		w.WriteHeader(http.StatusNoContent)
	})
	r.Put("/admin/tokens/lifetime", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Seconds int `json:"seconds"`
		}
		if err := decodeBody(r, &req); err != nil {
			writeErr(w, err)
			return
		}
		s.SetTokenLifetime(time.Duration(req.Seconds) * time.Second)
		w.WriteHeader(http.StatusNoContent)
	})
	r.Post("/admin/scenario", func(w http.ResponseWriter, r *http.Request) {
		var cfg ScenarioConfig
		if r.ContentLength != 0 {
			if err := decodeBody(r, &cfg); err != nil {
				writeErr(w, err)
				return
			}
		}
		sum, err := s.RunScenario(r.Context(), cfg)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, sum)
	})
	r.Get("/admin/webhooks/attempts", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.WebhookAttempts())
	})
	r.Get("/admin/webhooks/deliveries", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.WebhookDeliveries())
	})
	r.Post("/admin/webhooks/wait", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Minute)
		defer cancel()
		if err := s.WaitWebhooks(ctx); err != nil {
			writeError(w, http.StatusGatewayTimeout, "timeout", err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	r.Post("/admin/reset", func(w http.ResponseWriter, _ *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such route")
	})
	return r
}
