package maventa

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func okAssignment(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, assignmentJSON)
}

func TestTokenRequest(t *testing.T) {
	tests := []struct {
		name      string
		call      func(*Client) error
		wantScope string
	}{
		{"receivables call asks receivables:assignments", func(c *Client) error {
			_, err := c.GetAssignment(context.Background(), testCompany, "a1")
			return err
		}, "receivables:assignments"},
		{"notifications call asks company:read company:write", func(c *Client) error {
			_, err := c.ListNotifications(context.Background(), testCompany)
			return err
		}, "company:read company:write"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.handle("GET /v1/assignments/{id}", okAssignment)
			f.handle("GET /v1/company/notifications", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 200, []any{})
			})
			c, _, _ := testClient(t, f)
			if err := tt.call(c); err != nil {
				t.Fatal(err)
			}
			forms := f.forms()
			if len(forms) != 1 {
				t.Fatalf("token requests = %d, want 1", len(forms))
			}
			form := forms[0]
			want := map[string]string{
				"grant_type":     "client_credentials",
				"client_id":      testCompany,
				"client_secret":  testAPIKey,
				"vendor_api_key": testVendorKey,
				"scope":          tt.wantScope,
			}
			for k, v := range want {
				if got := form.Get(k); got != v {
					t.Errorf("form %s = %q, want %q", k, got, v)
				}
			}
			if a := f.tokenAuth[0]; a != "" {
				t.Errorf("token request has Authorization header %q, want credentials only in the body", a)
			}
			if got := f.bearers(); len(got) != 1 || got[0] != "Bearer access-token-SECRET-1" {
				t.Errorf("API Authorization = %v", got)
			}
		})
	}
}

func TestOperatorCredentialsAreUsedInOperatorMode(t *testing.T) {
	f := newFake(t)
	f.handle("GET /v1/assignments/{id}", okAssignment)
	c, _, _ := testClient(t, f, func(cfg *Config) {
		cfg.AuthMode = AuthOperator
		cfg.OperatorID = "op-1"
		cfg.OperatorSecret = NewSecret("operator-SECRET")
	})
	if _, err := c.GetAssignment(context.Background(), "any-company", "a1"); err != nil {
		t.Fatal(err)
	}
	form := f.forms()[0]
	if form.Get("client_id") != "op-1" || form.Get("client_secret") != "operator-SECRET" ||
		form.Get("scope") != "operator:receivables:assignments" {
		t.Errorf("operator token form = %v", form)
	}
}

func TestTokenCachedUntilEarlyRefresh(t *testing.T) {
	f := newFake(t)
	f.handle("GET /v1/assignments/{id}", okAssignment)
	c, _, _ := testClient(t, f, func(cfg *Config) { cfg.TokenEarlyRefresh = time.Minute })
	var offset atomic.Int64
	c.now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	ctx := context.Background()

	steps := []struct {
		name       string
		advance    time.Duration
		wantTokens int32
	}{
		{"first call fetches a token", 0, 1},
		{"second call reuses it", 0, 1},
		{"well before expiry it is reused", 30 * time.Minute, 1},
		{"inside the early refresh window a new one is fetched", 59*time.Minute + 10*time.Second, 2},
		{"the new token is reused", 90 * time.Minute, 2},
		{"and replaced in its own early refresh window", 118*time.Minute + 30*time.Second, 3},
	}
	for _, s := range steps {
		offset.Store(int64(s.advance))
		if _, err := c.GetAssignment(ctx, testCompany, "a1"); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := f.tokenCalls.Load(); got != s.wantTokens {
			t.Fatalf("%s: token calls = %d, want %d", s.name, got, s.wantTokens)
		}
	}
}

func TestConcurrentCallersShareOneTokenFetch(t *testing.T) {
	f := newFake(t)
	f.handle("GET /v1/assignments/{id}", okAssignment)
	entered := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	f.tokenHandler = func(w http.ResponseWriter, r *http.Request, n int32) {
		once.Do(func() { close(entered) })
		<-release
		writeJSON(w, 200, map[string]any{"access_token": fmt.Sprintf("tok-%d", n), "token_type": "bearer", "expires_in": 3600})
	}
	c, _, _ := testClient(t, f)
	const callers = 25
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.GetAssignment(context.Background(), testCompany, "a1")
			errs <- err
		}()
	}
	<-entered
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := f.tokenCalls.Load(); got != 1 {
		t.Errorf("token calls = %d, want 1", got)
	}
	if got := f.apiCalls.Load(); got != callers {
		t.Errorf("API calls = %d, want %d", got, callers)
	}
}

func TestUnauthorizedRefreshesTokenOnce(t *testing.T) {
	tests := []struct {
		name          string
		unauthorized  int32 // how many first API answers are 401
		wantErr       bool
		wantTokens    int32
		wantAPICalls  int32
		wantBearerEnd string
	}{
		{"401 then success re-fetches exactly once", 1, false, 2, 2, "Bearer access-token-SECRET-2"},
		{"401 twice fails as auth error after one re-fetch", 5, true, 2, 2, "Bearer access-token-SECRET-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			var n atomic.Int32
			f.handle("GET /v1/assignments/{id}", func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) <= tt.unauthorized {
					writeError(w, 401, "unauthorized", "token expired")
					return
				}
				okAssignment(w, r)
			})
			c, wt, _ := testClient(t, f)
			_, err := c.GetAssignment(context.Background(), testCompany, "a1")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !IsAuth(err) {
				t.Errorf("IsAuth(%v) = false", err)
			}
			if got := f.tokenCalls.Load(); got != tt.wantTokens {
				t.Errorf("token calls = %d, want %d", got, tt.wantTokens)
			}
			if got := f.apiCalls.Load(); got != tt.wantAPICalls {
				t.Errorf("API calls = %d, want %d", got, tt.wantAPICalls)
			}
			b := f.bearers()
			if b[len(b)-1] != tt.wantBearerEnd {
				t.Errorf("last bearer = %q, want %q", b[len(b)-1], tt.wantBearerEnd)
			}
			if len(wt.all()) != 0 {
				t.Errorf("401 retry waited %v, want immediate", wt.all())
			}
		})
	}
}

func TestForbiddenIsPermanent(t *testing.T) {
	f := newFake(t)
	f.handle("GET /v1/assignments/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, 403, "forbidden", "no access to receivables")
	})
	c, wt, _ := testClient(t, f)
	_, err := c.GetAssignment(context.Background(), testCompany, "a1")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 403 || ae.Code != "forbidden" {
		t.Fatalf("err = %v, want APIError 403", err)
	}
	if !IsAuth(err) || !IsPermanent(err) || IsRetryable(err) {
		t.Errorf("IsAuth=%v IsPermanent=%v IsRetryable=%v", IsAuth(err), IsPermanent(err), IsRetryable(err))
	}
	if f.apiCalls.Load() != 1 || f.tokenCalls.Load() != 1 || len(wt.all()) != 0 {
		t.Errorf("api=%d token=%d waits=%v, want 1, 1, none", f.apiCalls.Load(), f.tokenCalls.Load(), wt.all())
	}
}

func TestRetriesTransientFailures(t *testing.T) {
	fixedNow := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		status     int
		retryAfter string
		wantWait   time.Duration // exact wait when > 0; else a backoff interval ≤ MaxBackoff
	}{
		{"503 honours Retry-After seconds", 503, "3", 3 * time.Second},
		{"429 honours Retry-After HTTP date", 429, fixedNow.Add(2 * time.Minute).Format(http.TimeFormat), 2 * time.Minute},
		{"500 without Retry-After uses backoff", 500, "", 0},
		{"502 without Retry-After uses backoff", 502, "", 0},
		{"504 without Retry-After uses backoff", 504, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			var n atomic.Int32
			f.handle("GET /v1/assignments/{id}", func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					if tt.retryAfter != "" {
						w.Header().Set("Retry-After", tt.retryAfter)
					}
					writeError(w, tt.status, "busy", "try later")
					return
				}
				okAssignment(w, r)
			})
			c, wt, _ := testClient(t, f)
			c.now = func() time.Time { return fixedNow }
			a, err := c.GetAssignment(context.Background(), testCompany, "a1")
			if err != nil {
				t.Fatal(err)
			}
			if a.Number != "64488" {
				t.Errorf("number = %q", a.Number)
			}
			got := wt.all()
			if len(got) != 1 || f.apiCalls.Load() != 2 {
				t.Fatalf("waits = %v, API calls = %d; want 1 wait, 2 calls", got, f.apiCalls.Load())
			}
			if tt.wantWait > 0 && got[0] != tt.wantWait {
				t.Errorf("wait = %v, want %v", got[0], tt.wantWait)
			}
			if tt.wantWait == 0 && (got[0] <= 0 || got[0] > 2*time.Millisecond) {
				t.Errorf("backoff wait = %v, want in (0, 2ms]", got[0])
			}
		})
	}
}

func TestRetryStops(t *testing.T) {
	tests := []struct {
		name      string
		mod       func(*Config)
		ctx       func() (context.Context, context.CancelFunc)
		wantCalls int32
	}{
		{"Retry-After beyond MaxElapsed gives up after one call", func(c *Config) { c.MaxElapsed = 30 * time.Second },
			func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, 1},
		{"Retry-After beyond the context deadline gives up after one call", nil,
			func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 20*time.Second)
			}, 1},
		{"negative MaxElapsed disables retries", func(c *Config) { c.MaxElapsed = -1 },
			func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.handle("GET /v1/assignments/{id}", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "60")
				writeError(w, 503, "maintenance", "down")
			})
			var mods []func(*Config)
			if tt.mod != nil {
				mods = append(mods, tt.mod)
			}
			c, _, _ := testClient(t, f, mods...)
			ctx, cancel := tt.ctx()
			defer cancel()
			_, err := c.GetAssignment(ctx, testCompany, "a1")
			if !IsRetryable(err) {
				t.Fatalf("err = %v, want the retryable 503", err)
			}
			if d, ok := RetryAfter(err); !ok || d != time.Minute {
				t.Errorf("RetryAfter = %v, %v", d, ok)
			}
			if got := f.apiCalls.Load(); got != tt.wantCalls {
				t.Errorf("API calls = %d, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestPermanentErrorsAreNotRetriedAndTyped(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		notFound bool
	}{
		{"400 bad request", 400, false},
		{"404 not found", 404, true},
		{"422 unprocessable", 422, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.handle("GET /v1/assignments/{id}", func(w http.ResponseWriter, r *http.Request) {
				writeError(w, tt.status, "some_code", "some message", "detail one", "detail two")
			})
			c, wt, _ := testClient(t, f)
			_, err := c.GetAssignment(context.Background(), testCompany, "a1")
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %T %v, want *APIError", err, err)
			}
			if ae.Status != tt.status || ae.Code != "some_code" || ae.Message != "some message" ||
				len(ae.Details) != 2 || ae.Method != "GET" || ae.Path != "/v1/assignments/a1" {
				t.Errorf("APIError = %+v", ae)
			}
			if IsRetryable(err) || !IsPermanent(err) || IsNotFound(err) != tt.notFound || IsAuth(err) {
				t.Errorf("classification wrong for %v", err)
			}
			if f.apiCalls.Load() != 1 || len(wt.all()) != 0 {
				t.Errorf("API calls = %d, waits = %v", f.apiCalls.Load(), wt.all())
			}
		})
	}
}

func TestInvalidCredentialsFromTokenEndpoint(t *testing.T) {
	f := newFake(t)
	f.tokenHandler = func(w http.ResponseWriter, r *http.Request, _ int32) {
		writeError(w, 401, "invalid_credentials", "Invalid client credentials")
	}
	c, _, logs := testClient(t, f)
	_, err := c.GetAssignment(context.Background(), testCompany, "a1")
	if !IsAuth(err) || IsRetryable(err) {
		t.Fatalf("err = %v, want permanent auth error", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != CodeInvalidCredentials || ae.Path != "/oauth2/token" {
		t.Errorf("APIError = %+v", ae)
	}
	if f.apiCalls.Load() != 0 || f.tokenCalls.Load() != 1 {
		t.Errorf("api=%d token=%d", f.apiCalls.Load(), f.tokenCalls.Load())
	}
	assertNoSecrets(t, "error", err.Error())
	assertNoSecrets(t, "logs", logs.String())
}

func TestTokenEndpointUnavailableIsRetried(t *testing.T) {
	f := newFake(t)
	f.handle("GET /v1/assignments/{id}", okAssignment)
	f.tokenHandler = func(w http.ResponseWriter, r *http.Request, n int32) {
		if n == 1 {
			writeError(w, 503, "unavailable", "later")
			return
		}
		writeJSON(w, 200, map[string]any{"access_token": "tok", "token_type": "bearer", "expires_in": 3600})
	}
	c, wt, _ := testClient(t, f)
	if _, err := c.GetAssignment(context.Background(), testCompany, "a1"); err != nil {
		t.Fatal(err)
	}
	if f.tokenCalls.Load() != 2 || len(wt.all()) != 1 {
		t.Errorf("token calls = %d, waits = %v", f.tokenCalls.Load(), wt.all())
	}
}

// flakyTransport fails the first request with a connection error, then delegates.
type flakyTransport struct {
	n    atomic.Int32
	next http.RoundTripper
}

func (f *flakyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path != "/oauth2/token" && f.n.Add(1) == 1 {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		// The connection was never made: safe to resend even a POST.
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errDialTimeout}
	}
	return f.next.RoundTrip(r)
}

var errDialTimeout = &netTimeoutErr{}

// netTimeoutErr is a net.Error reporting a timeout.
type netTimeoutErr struct{}

func (*netTimeoutErr) Error() string   { return "i/o timeout" }
func (*netTimeoutErr) Timeout() bool   { return true }
func (*netTimeoutErr) Temporary() bool { return true }

func TestConnectionErrorRetriedWithReplayedBodyThroughInjectedTransport(t *testing.T) {
	f := newFake(t)
	var bodies []string
	var mu sync.Mutex
	var n atomic.Int32
	f.handle("POST /v1/assignments/{id}/events", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		if n.Add(1) == 1 {
			writeError(w, 503, "unavailable", "") // refused, not applied: safe to resend
			return
		}
		writeJSON(w, 201, map[string]any{"id": "e1", "type": "paid", "data": map[string]any{"sum_paid": 200.5}})
	})
	tr := &flakyTransport{next: http.DefaultTransport}
	c, wt, _ := testClient(t, f, func(cfg *Config) { cfg.Transport = tr })
	ev, err := c.AddEvent(context.Background(), testCompany, "a1", NewPaidEvent(PaidData{SumPaid: mustDec("200.50"), BookedAt: "2019-01-04"}))
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != "e1" {
		t.Errorf("event = %+v", ev)
	}
	if len(wt.all()) != 2 {
		t.Errorf("waits = %v, want 2 (dial error, then 503)", wt.all())
	}
	if len(bodies) != 2 || bodies[0] != bodies[1] {
		t.Fatalf("bodies = %q, want two identical", bodies)
	}
	if !strings.Contains(bodies[0], `"sum_paid":200.50`) {
		t.Errorf("body %s must send sum_paid as the exact JSON number 200.50", bodies[0])
	}
}

func TestNoCredentialsIsTypedAndMakesNoRequest(t *testing.T) {
	f := newFake(t)
	c, _, _ := testClient(t, f)
	_, err := c.GetAssignment(context.Background(), "unknown-company", "a1")
	if !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("err = %v, want ErrNoCredentials", err)
	}
	var nc *NoCredentialsError
	if !errors.As(err, &nc) || nc.CompanyID != "unknown-company" {
		t.Errorf("NoCredentialsError = %+v", nc)
	}
	if !IsPermanent(err) || f.tokenCalls.Load()+f.apiCalls.Load() != 0 {
		t.Errorf("permanent=%v calls=%d", IsPermanent(err), f.tokenCalls.Load()+f.apiCalls.Load())
	}
}

func TestRateLimiterIsWaitedPerHost(t *testing.T) {
	f := newFake(t)
	f.handle("GET /v1/assignments/{id}", okAssignment)
	c, _, _ := testClient(t, f, func(cfg *Config) { cfg.RequestsPerSecond = 1 })
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := c.GetAssignment(ctx, testCompany, "a1"); err != nil {
		t.Fatal(err)
	}
	// The burst of 1 is spent; with a cancelled context the limiter refuses at once.
	cancel()
	if _, err := c.GetAssignment(ctx, testCompany, "a1"); err == nil {
		t.Fatal("second call within the same second with a cancelled context succeeded")
	}
	if f.apiCalls.Load() != 1 {
		t.Errorf("API calls = %d, want 1", f.apiCalls.Load())
	}
}
