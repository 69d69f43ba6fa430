package maventa

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	testCompany   = "53a4e05d-42f0-4e76-acd6-968ab4558c6f"
	testAPIKey    = "user-api-key-SECRET-1"
	testVendorKey = "vendor-api-key-SECRET-2"
)

// fakeMaventa is a tiny AX + Receivables server: a token endpoint plus whatever
// API handlers a test registers.
type fakeMaventa struct {
	srv *httptest.Server
	mux *http.ServeMux

	tokenCalls atomic.Int32
	apiCalls   atomic.Int32

	mu         sync.Mutex
	tokenForms []url.Values
	tokenAuth  []string
	apiAuth    []string
	// tokenHandler replaces the default token answer when set.
	tokenHandler func(w http.ResponseWriter, r *http.Request, n int32)
	expiresIn    int
}

func newFake(t *testing.T) *fakeMaventa {
	t.Helper()
	f := &fakeMaventa{mux: http.NewServeMux(), expiresIn: 3600}
	f.mux.HandleFunc("POST /oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		n := f.tokenCalls.Add(1)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.tokenForms = append(f.tokenForms, r.PostForm)
		f.tokenAuth = append(f.tokenAuth, r.Header.Get("Authorization"))
		h := f.tokenHandler
		f.mu.Unlock()
		if h != nil {
			h(w, r, n)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"access_token": fmt.Sprintf("access-token-SECRET-%d", n),
			"token_type":   "bearer",
			"expires_in":   f.expiresIn,
			"scope":        r.PostForm.Get("scope"),
		})
	})
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth2/token" {
			f.apiCalls.Add(1)
			f.mu.Lock()
			f.apiAuth = append(f.apiAuth, r.Header.Get("Authorization"))
			f.mu.Unlock()
		}
		f.mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// handle registers an API handler, e.g. "GET /v1/assignments/{id}".
func (f *fakeMaventa) handle(pattern string, h http.HandlerFunc) { f.mux.HandleFunc(pattern, h) }

func (f *fakeMaventa) forms() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.tokenForms...)
}

func (f *fakeMaventa) bearers() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.apiAuth...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string, details ...string) {
	writeJSON(w, status, map[string]any{"code": code, "message": msg, "details": details})
}

// waits records the retry waits the client asked for, instead of sleeping.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	return ctx.Err()
}

func (w *waits) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.d...)
}

// testClient builds a Client against f with fast, recorded retries and a log buffer.
func testClient(t *testing.T, f *fakeMaventa, mod ...func(*Config)) (*Client, *waits, *syncBuffer) {
	t.Helper()
	cfg := Config{
		AXBaseURL:          f.srv.URL,
		ReceivablesBaseURL: f.srv.URL,
		VendorAPIKey:       NewSecret(testVendorKey),
		InitialBackoff:     time.Millisecond,
		MaxBackoff:         2 * time.Millisecond,
		MaxElapsed:         time.Hour,
		RequestsPerSecond:  -1,
		Timeout:            5 * time.Second,
	}
	for _, m := range mod {
		m(&cfg)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := New(cfg, StaticCredentials(map[string]string{testCompany: testAPIKey}), logger)
	if err != nil {
		t.Fatal(err)
	}
	w := &waits{}
	c.sleep = w.sleep
	return c, w, logs
}

// syncBuffer is a bytes.Buffer safe for concurrent log writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const assignmentJSON = `{
    "id": "fa9781ba-20d1-4677-a125-f04bff7bbac0",
    "status": "open",
    "collection_status": "unknown",
    "service_level": "default",
    "debtor": {"name": "Hanna's Test Company"},
    "due_date": "2020-04-20",
    "issued_at": "2020-04-01",
    "number": "64488",
    "sum": 12.30,
    "paid": 10,
    "currency": "EUR",
    "created_at": "2020-04-15T05:47:07Z",
    "partially_closed_at": null,
    "updated_at": "2020-04-15T21:01:18Z",
    "closed_at": null,
    "reference_ids": [
      {"type": "agency_id", "value": "078dbb88-ef8e-4115-8260-c8a542aaa87c"},
      {"type": "invoice_id", "value": "f6dcf18d-a1bd-4e72-bb8a-80908527b6c8"},
      {"type": "number", "value": "356241887794"}
    ],
    "events": [
      {
        "id": "c0c56722-a28b-49d1-aa87-1c4d7f3cf1af",
        "type": "paid",
        "data": {"sum_paid": 10, "booked_at": "2020-04-16", "archive_number": "12345"},
        "party_id": "938fc79f-9c00-47af-8507-cdf15838aa96",
        "seens": [{"seen_at": "2020-04-15T22:00:06Z", "seen_by": "Visma Amili FI"}],
        "created_at": "2020-04-15T21:01:18Z",
        "happened_at": "2020-04-16T00:00:00Z"
      }
    ]
}`

// decodeAssignment decodes one assignment JSON object as the client does.
func decodeAssignment(data []byte) (Assignment, error) {
	var a Assignment
	if err := Unmarshal(data, &a); err != nil {
		return Assignment{}, err
	}
	return a, nil
}
