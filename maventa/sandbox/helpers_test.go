package sandbox

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is an injectable clock that only moves when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const (
	testCompany  = "11111111-1111-4111-8111-111111111111"
	otherCompany = "22222222-2222-4222-8222-222222222222"
)

type env struct {
	t     *testing.T
	sb    *Sandbox
	clock *fakeClock
	ax    *httptest.Server
	rec   *httptest.Server
	admin *httptest.Server
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	clock := newFakeClock()
	if cfg.Clock == nil {
		cfg.Clock = clock.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	sb := New(cfg)
	sb.AddCompany(Company{ID: testCompany, APIKey: "key-1", VendorAPIKey: "vendor-1", Name: "Acme Oy", BID: "1234567-8"})
	sb.AddCompany(Company{ID: otherCompany, APIKey: "key-2", VendorAPIKey: "vendor-2", Name: "Other Oy", BID: "7654321-0"})
	e := &env{t: t, sb: sb, clock: clock,
		ax: httptest.NewServer(sb.AXHandler()), rec: httptest.NewServer(sb.ReceivablesHandler()), admin: httptest.NewServer(sb.AdminHandler())}
	t.Cleanup(func() {
		e.ax.Close()
		e.rec.Close()
		e.admin.Close()
		sb.Close()
	})
	return e
}

// token fetches an access token for the company with the given scope ("" = default).
func (e *env) token(company, key, vendor, scope string) string {
	e.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {company}, "client_secret": {key}, "vendor_api_key": {vendor}}
	if scope != "" {
		form.Set("scope", scope)
	}
	resp, err := http.PostForm(e.ax.URL+"/oauth2/token", form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("token: %d %s", resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		e.t.Fatal(err)
	}
	return out.AccessToken
}

func (e *env) defaultToken() string { return e.token(testCompany, "key-1", "vendor-1", "") }

// do sends a JSON request with a bearer token and decodes the JSON answer into out.
func (e *env) do(method, u, tok string, body any, out any) *http.Response {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(context.Background(), method, u, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.UseNumber()
		if err := dec.Decode(out); err != nil {
			e.t.Fatalf("decode %s: %v", b, err)
		}
	}
	return resp
}

// validSpec is an invoice that passes every Kassavirta check.
func (e *env) validSpec(number, sum string) InvoiceSpec {
	now := e.clock.Now()
	return InvoiceSpec{Number: number, Sum: Amt(sum), RecipientName: "Debtor Oy", RecipientBID: "2000001-1",
		Street: "Testikatu 1", PostalCode: "00100", City: "Helsinki",
		Date: now.Format(time.DateOnly), DueDate: now.AddDate(0, 0, 14).Format(time.DateOnly)}
}

// assignment sends a valid invoice and returns its assignment id.
func (e *env) assignment(number, sum string) string {
	e.t.Helper()
	res, err := e.sb.SendInvoice(testCompany, e.validSpec(number, sum))
	if err != nil || res.AssignmentID == "" {
		e.t.Fatalf("send invoice: %+v %v", res, err)
	}
	return res.AssignmentID
}

func (e *env) get(id string) *Assignment {
	e.t.Helper()
	a, err := e.sb.Assignment(id)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func eventTypes(a *Assignment) []string {
	var out []string
	for i := len(a.Events) - 1; i >= 0; i-- { // oldest first
		out = append(out, a.Events[i].Type)
	}
	return out
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
