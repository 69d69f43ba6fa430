package sandbox

import (
	"net/url"
	"strings"
	"time"
)

// Query filter names of list endpoints. Maventa has not published the filter
// names of GET /v1/assignments, GET /v1/events or GET /v1/invoices: these are
// ASSUMED, following the AX house style (created_at_start/_end, ...), and kept
// in these tables so that a rename is a one-line change. Unknown query
// parameters are ignored, as Maventa's APIs do.
var (
	AssignmentFilters = map[string]func(a *Assignment, v string) bool{
		"status":            func(a *Assignment, v string) bool { return a.Status == v },
		"collection_status": func(a *Assignment, v string) bool { return a.CollectionStatus == v },
		"service_level":     func(a *Assignment, v string) bool { return a.ServiceLevel == v },
		"number":            func(a *Assignment, v string) bool { return a.Number == v },
		"invoice_id":        func(a *Assignment, v string) bool { return a.invoiceID == v },
		"debtor_name": func(a *Assignment, v string) bool {
			return strings.Contains(strings.ToLower(a.Debtor.Name), strings.ToLower(v))
		},
		"debtor_bid":       func(a *Assignment, v string) bool { return a.Debtor.BID == v },
		"created_at_start": timeFrom(func(a *Assignment) *time.Time { return &a.CreatedAt }),
		"created_at_end":   timeTo(func(a *Assignment) *time.Time { return &a.CreatedAt }),
		"updated_at_start": timeFrom(func(a *Assignment) *time.Time { return &a.UpdatedAt }),
		"updated_at_end":   timeTo(func(a *Assignment) *time.Time { return &a.UpdatedAt }),
		"closed_at_start":  timeFrom(func(a *Assignment) *time.Time { return a.ClosedAt }),
		"closed_at_end":    timeTo(func(a *Assignment) *time.Time { return a.ClosedAt }),
		"due_date_start":   func(a *Assignment, v string) bool { return a.DueDate >= v },
		"due_date_end":     func(a *Assignment, v string) bool { return a.DueDate <= v },
	}
	EventFilters = map[string]func(e *Event, v string) bool{
		"created_at_start": timeFrom(func(e *Event) *time.Time { return &e.CreatedAt }),
		"created_at_end":   timeTo(func(e *Event) *time.Time { return &e.CreatedAt }),
		"type":             func(e *Event, v string) bool { return e.Type == v },
		"assignment_id":    func(e *Event, v string) bool { return e.AssignmentID == v },
	}
	InvoiceFilters = map[string]func(i *Invoice, v string) bool{
		"status":           func(i *Invoice, v string) bool { return strings.EqualFold(i.Status, v) },
		"number":           func(i *Invoice, v string) bool { return i.Number == v },
		"direction":        func(i *Invoice, v string) bool { return strings.EqualFold(v, "SENT") },
		"created_at_start": timeFrom(func(i *Invoice) *time.Time { return &i.CreatedAt }),
		"created_at_end":   timeTo(func(i *Invoice) *time.Time { return &i.CreatedAt }),
		"updated_at_start": timeFrom(func(i *Invoice) *time.Time { return &i.UpdatedAt }),
		"updated_at_end":   timeTo(func(i *Invoice) *time.Time { return &i.UpdatedAt }),
	}
)

// timeFrom builds an inclusive lower-bound filter; an unparsable value matches nothing.
func timeFrom[T any](field func(T) *time.Time) func(T, string) bool {
	return func(x T, v string) bool {
		t, err := parseTime(v)
		f := field(x)
		return err == nil && f != nil && !f.Before(t)
	}
}

// timeTo builds an inclusive upper-bound filter.
func timeTo[T any](field func(T) *time.Time) func(T, string) bool {
	return func(x T, v string) bool {
		t, err := parseTime(v)
		f := field(x)
		return err == nil && f != nil && !f.After(t)
	}
}

// matches reports whether x passes every filter present in q.
func matches[T any](filters map[string]func(T, string) bool, q url.Values, x T) bool {
	for name, f := range filters {
		if v := q.Get(name); v != "" && !f(x, v) {
			return false
		}
	}
	return true
}
