package sandbox

import (
	"cmp"
	"net/http"
	"slices"
	"time"
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
