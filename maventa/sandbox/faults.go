package sandbox

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Fault makes matching API calls misbehave. Zero fields do nothing; decisions
// that involve chance are deterministic for a given Config.Seed.
type Fault struct {
	// ID is assigned by SetFault.
	ID string `json:"id"`
	// Listener limits the fault to "ax" or "receivables"; "" means both.
	Listener string `json:"listener,omitempty"`
	// Method limits the fault to one HTTP method; "" means any.
	Method string `json:"method,omitempty"`
	// Path is a glob over the request path; "*" matches any characters including
	// "/" ("/v1/assignments*"). "" matches every path.
	Path string `json:"path,omitempty"`
	// Latency is added before the call is handled (or failed).
	Latency time.Duration `json:"latency,omitempty"`
	// ErrorRate is the fraction (0..1] of matching calls answered with Status
	// instead of being handled. 0 with a Status set means every call.
	ErrorRate float64 `json:"error_rate,omitempty"`
	// Status is the error status (default 503 when ErrorRate > 0; 429 sets Retry-After).
	Status int `json:"status,omitempty"`
	// RetryAfter is the Retry-After header value in seconds (sent when > 0).
	RetryAfter int `json:"retry_after,omitempty"`
	// Count limits the fault to the next N matching calls; 0 means unlimited.
	Count int `json:"count,omitempty"`
	// AfterApply makes a failing call be handled first (its effect applied) and
	// then answered with Status as if the answer were lost on the way back: a
	// gateway timeout after the upstream applied a POST. Use 502 or 504.
	AfterApply bool `json:"after_apply,omitempty"`
	// WebhookDropRate is the fraction (0..1] of webhook deliveries silently dropped
	// (never sent) while the fault is set. Request fields do not apply to it.
	WebhookDropRate float64 `json:"webhook_drop_rate,omitempty"`
	// Used is how many calls the fault has matched so far (reported by Faults;
	// ignored by SetFault). A Count fault is removed once used up.
	Used int `json:"used,omitempty"`
}

type faultState struct {
	Fault
	re   *regexp.Regexp
	seq  int64
	used int
}

// SetFault installs f and returns its id.
func (s *Sandbox) SetFault(f Fault) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	f.ID = s.newIDLocked()
	f.Used = 0
	fs := &faultState{Fault: f, seq: s.st.nextSeq()}
	if f.Path != "" {
		parts := strings.Split(f.Path, "*")
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		fs.re = regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
	}
	s.st.faults = append(s.st.faults, fs)
	return f.ID
}

// ClearFault removes one fault.
func (s *Sandbox) ClearFault(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.st.faults {
		if f.ID == id {
			s.st.faults = append(s.st.faults[:i], s.st.faults[i+1:]...)
			return
		}
	}
}

// ClearFaults removes every fault.
func (s *Sandbox) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.faults = nil
}

// Faults lists the installed faults.
func (s *Sandbox) Faults() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Fault, len(s.st.faults))
	for i, f := range s.st.faults {
		out[i] = f.Fault
		out[i].Used = f.used
	}
	return out
}

func (s *Sandbox) webhookDropRateLocked() float64 {
	var r float64
	for _, f := range s.st.faults {
		r = max(r, f.WebhookDropRate)
	}
	return r
}

// faultMiddleware applies the first matching request fault.
func (s *Sandbox) faultMiddleware(listener string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var latency time.Duration
			var fail, afterApply bool
			var status, retryAfter int
			s.mu.Lock()
			for i := 0; i < len(s.st.faults); i++ {
				f := s.st.faults[i]
				if f.WebhookDropRate > 0 && f.Latency == 0 && f.ErrorRate == 0 && f.Status == 0 {
					continue // webhook-only fault
				}
				if (f.Listener != "" && f.Listener != listener) ||
					(f.Method != "" && !strings.EqualFold(f.Method, r.Method)) ||
					(f.re != nil && !f.re.MatchString(r.URL.Path)) {
					continue
				}
				f.used++
				latency = f.Latency
				status, retryAfter, afterApply = f.Status, f.RetryAfter, f.AfterApply
				switch {
				case f.ErrorRate > 0:
					fail = unitFloat(s.cfg.Seed, f.seq, int64(f.used)) < f.ErrorRate
				case f.Status != 0:
					fail = true
				}
				if f.Count > 0 && f.used >= f.Count {
					s.st.faults = append(s.st.faults[:i], s.st.faults[i+1:]...)
				}
				break
			}
			s.mu.Unlock()
			if latency > 0 {
				t := time.NewTimer(latency)
				select {
				case <-t.C:
				case <-r.Context().Done():
					t.Stop()
					return
				}
			}
			if fail {
				if status == 0 {
					status = http.StatusServiceUnavailable
				}
				if retryAfter > 0 {
					w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
				}
				if afterApply {
					next.ServeHTTP(discardWriter{h: http.Header{}}, r)
				}
				code := "service_unavailable"
				if status == http.StatusTooManyRequests {
					code = "rate_limited"
				}
				writeError(w, status, code, "injected fault")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
