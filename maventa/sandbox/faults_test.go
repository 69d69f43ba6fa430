package sandbox

import (
	"fmt"
	"net/http"
	"testing"
)

func TestFaults(t *testing.T) {
	cases := []struct {
		name       string
		fault      Fault
		url        func(e *env) string
		calls      int
		wantStatus []int
		retryAfter string
	}{
		{"429 with Retry-After for the next two calls", Fault{Method: "GET", Path: "/v1/assignments*", Status: 429, RetryAfter: 7, Count: 2},
			func(e *env) string { return e.rec.URL + "/v1/assignments" }, 3, []int{429, 429, 200}, "7"},
		{"503 on every matching call", Fault{Listener: "receivables", Path: "/v1/events", Status: 503},
			func(e *env) string { return e.rec.URL + "/v1/events" }, 2, []int{503, 503}, ""},
		{"path that does not match is untouched", Fault{Path: "/v1/events", Status: 500},
			func(e *env) string { return e.rec.URL + "/v1/assignments" }, 1, []int{200}, ""},
		{"listener that does not match is untouched", Fault{Listener: "ax", Status: 500},
			func(e *env) string { return e.rec.URL + "/v1/assignments" }, 1, []int{200}, ""},
		{"method that does not match is untouched", Fault{Method: "POST", Status: 500},
			func(e *env) string { return e.rec.URL + "/v1/assignments" }, 1, []int{200}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			tok := e.defaultToken()
			e.sb.SetFault(tc.fault)
			for i := range tc.calls {
				var body map[string]any
				resp := e.do(http.MethodGet, tc.url(e), tok, nil, nil)
				if resp.StatusCode != tc.wantStatus[i] {
					t.Fatalf("call %d: status %d, want %d (%v)", i+1, resp.StatusCode, tc.wantStatus[i], body)
				}
				if tc.wantStatus[i] == 429 && resp.Header.Get("Retry-After") != tc.retryAfter {
					t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
				}
			}
		})
	}
}

func TestFaultErrorRateIsDeterministic(t *testing.T) {
	run := func(seed uint64) string {
		e := newEnv(t, Config{Seed: seed})
		tok := e.defaultToken()
		e.sb.SetFault(Fault{Path: "/v1/assignments", ErrorRate: 0.3, Status: 502})
		var out []int
		for range 30 {
			out = append(out, e.do(http.MethodGet, e.rec.URL+"/v1/assignments", tok, nil, nil).StatusCode)
		}
		return fmt.Sprint(out)
	}
	a, b := run(3), run(3)
	expect(t, a == b, "same seed, different errors:\n%s\n%s", a, b)
}

func TestTokenEndpointFault(t *testing.T) {
	e := newEnv(t, Config{})
	id := e.sb.SetFault(Fault{Path: "/oauth2/token", Status: 503, Count: 1})
	resp := e.do(http.MethodPost, e.ax.URL+"/oauth2/token", "", nil, nil)
	expect(t, resp.StatusCode == 503, "status %d", resp.StatusCode)
	e.sb.ClearFault(id)
	_ = e.defaultToken()
	expect(t, len(e.sb.Faults()) == 0, "count-limited fault not removed")
}
