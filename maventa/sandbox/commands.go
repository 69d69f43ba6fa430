package sandbox

import (
	"cmp"
	"net/http"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"
)

// discardWriter swallows a handled call's answer (Fault.AfterApply).
type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}

// CompanyEvents counts the events of type typ that the owning company created on
// an assignment ("" counts every company event): how many of the company's
// POSTs Maventa applied, so a test can assert that a command was applied once.
func (s *Sandbox) CompanyEvents(assignmentID, typ string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.st.assignments[assignmentID]
	if !ok {
		return 0
	}
	n := 0
	for _, ev := range a.Events {
		if ev.PartyID == a.companyID && (typ == "" || ev.Type == typ) {
			n++
		}
	}
	return n
}

// EndFreezes ends every suspension whose end_date is before the sandbox's
// today, as Visma Amili does when a suspension runs out: unfreezed is added
// and collection resumes. It returns how many ended. The sandbox has no timer
// of its own; a test moves Config.Clock and calls this.
func (s *Sandbox) EndFreezes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	today := s.now().Format(time.DateOnly)
	n := 0
	for _, a := range s.sortedAssignmentsAllLocked() {
		if !a.frozen || a.Status == StatusClosed {
			continue
		}
		end := ""
		for _, ev := range a.Events {
			if ev.Type == "freeze_confirmed" {
				end, _ = ev.Data[FieldEndDate].(string)
			}
		}
		if end != "" && end < today {
			s.agencyLocked(a, "unfreezed", map[string]any{"happened_at": today}, time.Time{})
			n++
		}
	}
	return n
}

// sortedAssignmentsAllLocked lists every assignment in creation order.
func (s *Sandbox) sortedAssignmentsAllLocked() []*Assignment {
	out := make([]*Assignment, 0, len(s.st.assignments))
	for _, a := range s.st.assignments {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b *Assignment) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

// commandAdminRoutes are the admin calls the command side's tests and demos need:
// end the suspensions that ran out, and make a pending transfer fail.
func (s *Sandbox) commandAdminRoutes(r chi.Router) {
	r.Post("/admin/freezes/end", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int{"ended": s.EndFreezes()})
	})
	r.Post("/admin/invoices/{id}/transfer/fail", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ErrorMessage string `json:"error_message"`
		}
		if err := decodeBody(r, &req); err != nil {
			writeErr(w, err)
			return
		}
		if err := s.FailTransfer(chi.URLParam(r, "id"), req.ErrorMessage); err != nil {
			writeErr(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
