package maventa_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

func TestSandboxTokenRefreshAndScopes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res := e.invoice(t, sbCompany, "T1", "5.00", "Debtor Oy", "1111111-1")
	path := "GET /v1/assignments/" + res.AssignmentID

	for range 2 {
		if _, err := e.c.GetAssignment(ctx, sbCompany, res.AssignmentID); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.rt.count("POST /oauth2/token"); n != 1 {
		t.Errorf("token requests = %d, want 1 (cached)", n)
	}

	// Maventa forgets every token: one 401, one new token, one retry.
	e.sb.ExpireTokens()
	e.rt.reset()
	a, err := e.c.GetAssignment(ctx, sbCompany, res.AssignmentID)
	if err != nil || a.ID != res.AssignmentID {
		t.Fatalf("after token expiry: %+v, %v", a, err)
	}
	if tok, api := e.rt.count("POST /oauth2/token"), e.rt.count(path); tok != 1 || api != 2 {
		t.Errorf("after expiry: %d token and %d API requests, want 1 and 2", tok, api)
	}

	// Tokens that expire early (server side) are refreshed the same way.
	e.sb.SetTokenLifetime(time.Second)
	e.sb.ExpireTokens()
	if _, err := e.c.GetAssignment(ctx, sbCompany, res.AssignmentID); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Second)
	e.rt.reset()
	if _, err := e.c.GetAssignment(ctx, sbCompany, res.AssignmentID); err != nil {
		t.Fatalf("after early expiry: %v", err)
	}
	if tok := e.rt.count("POST /oauth2/token"); tok != 1 {
		t.Errorf("after early expiry: %d token requests", tok)
	}

	// A token without the receivables scope: 403, typed, not retried, no new token.
	narrow := newEnv(t, func(c *maventa.Config) { c.Scopes.Receivables = "company:read" })
	res = narrow.invoice(t, sbCompany, "T2", "5.00", "Debtor Oy", "1111111-1")
	_, err = narrow.c.GetAssignment(ctx, sbCompany, res.AssignmentID)
	var ae *maventa.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusForbidden || !maventa.IsAuth(err) || !maventa.IsPermanent(err) || maventa.IsRetryable(err) {
		t.Fatalf("scope error = %v", err)
	}
	if tok, api := narrow.rt.count("POST /oauth2/token"), narrow.rt.count("GET /v1/assignments/"+res.AssignmentID); tok != 1 || api != 1 {
		t.Errorf("scope error: %d token and %d API requests, want 1 and 1", tok, api)
	}

	// Wrong API key: the token endpoint's invalid_credentials, permanent, asked once.
	bad := newEnv(t)
	wrong, err := maventa.New(maventa.Config{
		AXBaseURL: bad.srv.AXURL, ReceivablesBaseURL: bad.srv.ReceivablesURL, VendorAPIKey: maventa.NewSecret(sbVendor),
		Transport: bad.rt, InitialBackoff: time.Millisecond, RequestsPerSecond: -1,
	}, maventa.StaticCredentials(map[string]string{sbCompany: "wrong-key"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = wrong.ListAssignments(ctx, sbCompany, maventa.AssignmentQuery{}, maventa.PageOptions{})
	if !errors.As(err, &ae) || ae.Code != maventa.CodeInvalidCredentials || !maventa.IsAuth(err) || !maventa.IsPermanent(err) {
		t.Errorf("wrong key = %v", err)
	}
	if tok, api := bad.rt.count("POST /oauth2/token"), bad.rt.count("GET /v1/assignments"); tok != 1 || api != 0 {
		t.Errorf("wrong key: %d token and %d API requests, want 1 and 0", tok, api)
	}
}

func TestSandboxRateLimitAndFaults(t *testing.T) {
	e := newEnv(t)
	waits := maventa.RecordWaitsForTest(e.c)
	ctx := context.Background()
	res := e.invoice(t, sbCompany, "R1", "5.00", "Debtor Oy", "1111111-1")
	path := "GET /v1/assignments/" + res.AssignmentID

	// Two 429s with Retry-After: 7 are waited out exactly (the client's own
	// backoff is 1-5ms), then the call succeeds.
	e.sb.SetFault(sandbox.Fault{Listener: "receivables", Path: "/v1/assignments/*", Status: http.StatusTooManyRequests, RetryAfter: 7, Count: 2})
	a, err := e.c.GetAssignment(ctx, sbCompany, res.AssignmentID)
	if err != nil || a.ID != res.AssignmentID {
		t.Fatalf("after 429s: %+v, %v", a, err)
	}
	if got := waits(); !slices.Equal(got, []time.Duration{7 * time.Second, 7 * time.Second}) {
		t.Errorf("waits = %v, want the Retry-After twice", got)
	}
	if n := e.rt.count(path); n != 3 {
		t.Errorf("requests = %d, want 3", n)
	}

	// A Retry-After beyond MaxElapsed ends the retries at once, typed.
	e.rt.reset()
	e.sb.SetFault(sandbox.Fault{Listener: "receivables", Path: "/v1/assignments/*", Status: http.StatusTooManyRequests, RetryAfter: 3600, Count: 1})
	_, err = e.c.GetAssignment(ctx, sbCompany, res.AssignmentID)
	if ra, ok := maventa.RetryAfter(err); !ok || ra != time.Hour || !maventa.IsRetryable(err) {
		t.Errorf("long Retry-After: %v (%v, %v)", err, ra, ok)
	}
	if n := e.rt.count(path); n != 1 || len(waits()) != 2 {
		t.Errorf("long Retry-After: %d requests, waits %v", n, waits())
	}
	e.sb.ClearFaults()

	// A 429/503 on a POST was refused outright: the payment is resent once and
	// applied once. A 502 may come after Maventa applied it: not resent.
	ev := "POST /v1/assignments/" + res.AssignmentID + "/events"
	e.rt.reset()
	e.sb.SetFault(sandbox.Fault{Listener: "receivables", Method: http.MethodPost, Path: "/v1/assignments/*/events", Status: http.StatusServiceUnavailable, Count: 1})
	if _, err := e.c.AddEvent(ctx, sbCompany, res.AssignmentID, maventa.NewPaidEvent(maventa.PaidData{SumPaid: events.MustDecimal("1.25")})); err != nil {
		t.Fatalf("paid after 503: %v", err)
	}
	if n := e.rt.count(ev); n != 2 {
		t.Errorf("paid after 503: %d requests, want 2", n)
	}
	e.rt.reset()
	e.sb.SetFault(sandbox.Fault{Listener: "receivables", Method: http.MethodPost, Path: "/v1/assignments/*/events", Status: http.StatusBadGateway, Count: 1})
	if _, err := e.c.AddEvent(ctx, sbCompany, res.AssignmentID, maventa.NewPaidEvent(maventa.PaidData{SumPaid: events.MustDecimal("1.25")})); err == nil || maventa.IsSafeToResend(err) {
		t.Errorf("paid after 502: %v", err)
	}
	if n := e.rt.count(ev); n != 1 {
		t.Errorf("paid after 502: %d requests, want 1", n)
	}
	a, err = e.c.GetAssignment(ctx, sbCompany, res.AssignmentID)
	if err != nil || a.Paid.Cmp(events.MustDecimal("1.25")) != 0 || len(eventsOf(a, maventa.EventPaid)) != 1 {
		t.Errorf("paid = %s with %d paid events, want 1.25 once", a.Paid, len(eventsOf(a, maventa.EventPaid)))
	}

	// AX faults are retried the same way (GET /v1/invoices, idempotent).
	e.rt.reset()
	e.sb.SetFault(sandbox.Fault{Listener: "ax", Path: "/v1/invoices", Status: http.StatusTooManyRequests, RetryAfter: 2, Count: 1})
	if pg, err := e.c.ListInvoices(ctx, sbCompany, maventa.InvoiceQuery{}, maventa.PageOptions{}); err != nil || len(pg.Items) != 1 {
		t.Errorf("invoices after 429: %+v, %v", pg, err)
	}
	if got := waits(); len(got) != 4 || got[3] != 2*time.Second || e.rt.count("GET /v1/invoices") != 2 {
		t.Errorf("AX 429: waits %v, %d requests", got, e.rt.count("GET /v1/invoices"))
	}
}
