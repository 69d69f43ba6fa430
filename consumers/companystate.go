package consumers

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// CompanyState is one company's reconciliation progress as `status` shows
// it: its assignment-event cursor and its lease.
type CompanyState struct {
	CompanyID       string     `json:"company_id"`
	Cursor          *time.Time `json:"cursor"`            // changes up to here are polled
	CursorUpdatedAt *time.Time `json:"cursor_updated_at"` // when the poller last moved it
	LagSeconds      *float64   `json:"lag_seconds"`       // now - cursor
	LeaseHolder     string     `json:"lease_holder"`
	LeaseExpires    *time.Time `json:"lease_expires"`
	LeaseExpired    bool       `json:"lease_expired"`
	Problem         string     `json:"problem,omitempty"` // a value that could not be read
}

// ReadCompanyStates reads every company's cursor and lease from st, by
// company id; lags are measured from now. A value that does not decode is
// reported in its company's Problem, not as an error.
func ReadCompanyStates(ctx context.Context, st PollStore, now time.Time) ([]CompanyState, error) {
	byCompany := map[string]*CompanyState{}
	row := func(key, prefix string) *CompanyState {
		k := strings.TrimPrefix(key, prefix)
		id, err := companyOfKey(k)
		if err != nil {
			id = k // a hashed id: shown as its key
		}
		if r, ok := byCompany[id]; ok {
			return r
		}
		r := &CompanyState{CompanyID: id}
		byCompany[id] = r
		return r
	}
	problem := func(r *CompanyState, p string) {
		if r.Problem != "" {
			r.Problem += "; "
		}
		r.Problem += p
	}
	err := st.List(ctx, "cursor.", func(key string, value []byte) {
		r := row(key, "cursor.")
		var c Cursor
		if err := json.Unmarshal(value, &c); err != nil {
			problem(r, "cursor unreadable: "+err.Error())
			return
		}
		if !c.After.IsZero() {
			after := c.After.UTC()
			lag := now.Sub(after).Seconds()
			r.Cursor, r.LagSeconds = &after, &lag
		}
		if !c.UpdatedAt.IsZero() {
			upd := c.UpdatedAt.UTC()
			r.CursorUpdatedAt = &upd
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read cursors: %w", err)
	}
	err = st.List(ctx, "lease.", func(key string, value []byte) {
		r := row(key, "lease.")
		var l Lease
		if err := json.Unmarshal(value, &l); err != nil {
			problem(r, "lease unreadable: "+err.Error())
			return
		}
		r.LeaseHolder = l.Holder
		r.LeaseExpired = !l.Expires.After(now) // a released lease has the zero time
		if !l.Expires.IsZero() {
			exp := l.Expires.UTC()
			r.LeaseExpires = &exp
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read leases: %w", err)
	}
	out := make([]CompanyState, 0, len(byCompany))
	for _, r := range byCompany {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b CompanyState) int { return strings.Compare(a.CompanyID, b.CompanyID) })
	return out, nil
}
