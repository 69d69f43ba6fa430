package sandbox

import (
	"net/http"
	"sync"
)

// Request counting and companies without the receivables service, for load
// simulations: how many requests each host served, its busiest second (on the
// sandbox clock, so a time-scaled run counts simulated seconds), and how many
// Receivables requests each company cost.

// HostRequests is what one host served since the sandbox started.
type HostRequests struct {
	Total int64
	// PeakSecond is the most requests in one second of the sandbox clock.
	PeakSecond int64
	// PerCompany counts requests made with a company's token (Receivables
	// routes only, where the company is known after authentication).
	PerCompany map[string]int64
}

type counter struct {
	mu      sync.Mutex
	total   int64
	second  int64 // current second (Unix) and its count
	inSec   int64
	peak    int64
	company map[string]int64
}

type counters struct {
	mu     sync.Mutex
	byHost map[string]*counter
}

func (s *Sandbox) counter(host string) *counter {
	s.counts.mu.Lock()
	defer s.counts.mu.Unlock()
	if s.counts.byHost == nil {
		s.counts.byHost = map[string]*counter{}
	}
	c, ok := s.counts.byHost[host]
	if !ok {
		c = &counter{company: map[string]int64{}}
		s.counts.byHost[host] = c
	}
	return c
}

// countMiddleware counts every request to host.
func (s *Sandbox) countMiddleware(host string) func(http.Handler) http.Handler {
	c := s.counter(host)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sec := s.cfg.Clock().Unix()
			c.mu.Lock()
			c.total++
			if sec != c.second {
				c.second, c.inSec = sec, 0
			}
			c.inSec++
			c.peak = max(c.peak, c.inSec)
			c.mu.Unlock()
			next.ServeHTTP(w, r)
		})
	}
}

// receivablesServiceGate counts the request against the company whose token
// made it and refuses it with 403, as Maventa does, when the company has no
// receivables service (Company.NoReceivables). Runs after authentication.
func (s *Sandbox) receivablesServiceGate(next http.Handler) http.Handler {
	c := s.counter("receivables")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := principalFrom(r.Context())
		if p.company != "" {
			c.mu.Lock()
			c.company[p.company]++
			c.mu.Unlock()
			s.mu.Lock()
			co, ok := s.st.companies[p.company]
			no := ok && co.NoReceivables
			s.mu.Unlock()
			if no {
				writeError(w, http.StatusForbidden, "forbidden", "the company has no active receivables service")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Requests reports what each host ("ax", "receivables") served.
func (s *Sandbox) Requests() map[string]HostRequests {
	s.counts.mu.Lock()
	hosts := make(map[string]*counter, len(s.counts.byHost))
	for h, c := range s.counts.byHost {
		hosts[h] = c
	}
	s.counts.mu.Unlock()
	out := map[string]HostRequests{}
	for h, c := range hosts {
		c.mu.Lock()
		per := make(map[string]int64, len(c.company))
		for k, v := range c.company {
			per[k] = v
		}
		out[h] = HostRequests{Total: c.total, PeakSecond: c.peak, PerCompany: per}
		c.mu.Unlock()
	}
	return out
}
