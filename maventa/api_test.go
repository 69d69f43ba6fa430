package maventa

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestFiltersUseConfiguredNames(t *testing.T) {
	f := newFake(t)
	var mu sync.Mutex
	var got url.Values
	capture := func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.URL.Query()
		mu.Unlock()
		writeJSON(w, 200, []any{})
	}
	f.handle("GET /v1/events", capture)
	f.handle("GET /v1/assignments", capture)
	f.handle("GET /v1/invoices", capture)
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("EET", 2*3600))

	tests := []struct {
		name string
		mod  func(*Config)
		call func(*Client) error
		want map[string]string
	}{
		{"events default names", nil, func(c *Client) error {
			_, err := c.ListEvents(context.Background(), testCompany, EventQuery{CreatedAfter: since, Type: EventPaid}, PageOptions{})
			return err
		}, map[string]string{"created_at_start": "2026-01-02T01:04:05Z", "type": "paid", "page": "1", "per_page": "100"}},
		{"events renamed filter", func(c *Config) { c.Filters.EventsCreatedStart = "since" }, func(c *Client) error {
			_, err := c.ListEvents(context.Background(), testCompany, EventQuery{CreatedAfter: since}, PageOptions{})
			return err
		}, map[string]string{"since": "2026-01-02T01:04:05Z"}},
		{"assignments filters", nil, func(c *Client) error {
			_, err := c.ListAssignments(context.Background(), testCompany, AssignmentQuery{Status: "open", DebtorName: "Acme", UpdatedAfter: since}, PageOptions{})
			return err
		}, map[string]string{"status": "open", "debtor_name": "Acme", "updated_at_start": "2026-01-02T01:04:05Z"}},
		{"sent invoices changed since", nil, func(c *Client) error {
			_, err := c.ListInvoices(context.Background(), testCompany, InvoiceQuery{UpdatedAfter: since}, PageOptions{})
			return err
		}, map[string]string{"direction": "SENT", "updated_at_start": "2026-01-02T01:04:05Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mods []func(*Config)
			if tt.mod != nil {
				mods = append(mods, tt.mod)
			}
			c, _, _ := testClient(t, f, mods...)
			if err := tt.call(c); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			for k, v := range tt.want {
				if got.Get(k) != v {
					t.Errorf("query %s = %q, want %q (all: %v)", k, got.Get(k), v, got)
				}
			}
		})
	}
}

func TestAddEventRefusesForbiddenTypesWithoutHTTP(t *testing.T) {
	f := newFake(t)
	c, _, _ := testClient(t, f)
	for _, typ := range []EventType{EventClose, EventReminderSent, EventCollectionStarted, EventDeliveryStatus, "unknown"} {
		_, err := c.AddEvent(context.Background(), testCompany, "a1", NewEvent{Type: typ})
		var ve *ValidationError
		if err == nil || !asValidation(err, &ve) {
			t.Errorf("AddEvent(%s) err = %v, want *ValidationError", typ, err)
		}
	}
	if n := f.tokenCalls.Load() + f.apiCalls.Load(); n != 0 {
		t.Errorf("HTTP calls = %d, want 0", n)
	}
}

func asValidation(err error, ve **ValidationError) bool {
	v, ok := err.(*ValidationError)
	*ve = v
	return ok
}

func TestReceivablesEndpoints(t *testing.T) {
	f := newFake(t)
	type hit struct{ method, path, body string }
	var mu sync.Mutex
	var hits []hit
	record := func(status int, resp any) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			hits = append(hits, hit{r.Method, r.URL.Path, string(b)})
			mu.Unlock()
			if resp == nil {
				w.WriteHeader(status)
				return
			}
			writeJSON(w, status, resp)
		}
	}
	f.handle("GET /v1/assignments/{id}/events", record(200, []map[string]any{{"id": "e1", "type": "comment", "data": map[string]any{"comment": "hi"}}}))
	f.handle("GET /v1/assignments/overview", record(200, map[string]any{"open": 3, "overdue": 1}))
	f.handle("POST /v1/assignments/{id}/events/{eid}/seen", record(204, nil))
	f.handle("GET /v1/service_levels", record(200, []map[string]any{{"customer_bid": "123", "service_level": "vip"}}))
	f.handle("GET /v1/service_levels/{bid}", record(200, map[string]any{"customer_bid": "123", "service_level": "vip"}))
	f.handle("PATCH /v1/service_levels/{bid}", record(200, map[string]any{"customer_bid": "123", "service_level": "premium"}))
	f.handle("GET /v1/message_threads", record(200, []map[string]any{{"id": "t1", "latest_message": map[string]any{"id": "m1"}}}))
	f.handle("GET /v1/message_threads/{id}", record(200, map[string]any{"id": "t1"}))
	f.handle("PATCH /v1/message_threads/{id}", record(200, map[string]any{"id": "t1", "flagged": true}))
	f.handle("GET /v1/message_threads/{id}/messages", record(200, []map[string]any{{"id": "m1", "message": "hello"}}))
	f.handle("POST /v1/message_threads/{id}/messages", record(201, map[string]any{"id": "m2", "message": "reply"}))
	f.handle("GET /v1/assignments/{id}/messages", record(200, []map[string]any{{"id": "m1"}}))
	f.handle("POST /v1/assignments/{id}/messages", record(201, map[string]any{"id": "m3"}))
	f.handle("PUT /v1/messages/{id}/seen", record(204, nil))

	c, _, _ := testClient(t, f)
	ctx := context.Background()
	evs, err := c.ListAssignmentEvents(ctx, testCompany, "a1")
	must(t, err)
	if f, err := evs[0].Fact(); err != nil || f.Values.Text != "hi" {
		t.Errorf("comment = %+v, %v", f.Values, err)
	}
	ov, err := c.AssignmentsOverview(ctx, testCompany)
	must(t, err)
	if string(ov["open"]) != "3" {
		t.Errorf("overview = %v", ov)
	}
	must(t, c.MarkEventSeen(ctx, testCompany, "a1", "e1"))
	sl, err := c.ListServiceLevels(ctx, testCompany)
	must(t, err)
	if sl[0].ServiceLevel != "vip" {
		t.Errorf("service levels = %+v", sl)
	}
	_, err = c.GetServiceLevel(ctx, testCompany, "123")
	must(t, err)
	s, err := c.SetServiceLevel(ctx, testCompany, "123", "premium")
	must(t, err)
	if s.ServiceLevel != "premium" {
		t.Errorf("set = %+v", s)
	}
	threads, err := c.ListMessageThreads(ctx, testCompany, PageOptions{})
	must(t, err)
	if len(threads.Items) != 1 || threads.Items[0].Extra["latest_message"] == nil {
		t.Errorf("threads = %+v", threads)
	}
	_, err = c.GetMessageThread(ctx, testCompany, "t1")
	must(t, err)
	th, err := c.FlagMessageThread(ctx, testCompany, "t1", true)
	must(t, err)
	if !th.Flagged {
		t.Errorf("thread = %+v", th)
	}
	msgs, err := c.ListThreadMessages(ctx, testCompany, "t1")
	must(t, err)
	if msgs[0].Message != "hello" {
		t.Errorf("messages = %+v", msgs)
	}
	_, err = c.AddThreadMessage(ctx, testCompany, "t1", NewMessage{Message: "reply"})
	must(t, err)
	_, err = c.ListAssignmentMessages(ctx, testCompany, "a1")
	must(t, err)
	_, err = c.AddAssignmentMessage(ctx, testCompany, "a1", NewMessage{Message: "q"})
	must(t, err)
	must(t, c.MarkMessageSeen(ctx, testCompany, "m1"))

	want := []hit{
		{"GET", "/v1/assignments/a1/events", ""},
		{"GET", "/v1/assignments/overview", ""},
		{"POST", "/v1/assignments/a1/events/e1/seen", ""},
		{"GET", "/v1/service_levels", ""},
		{"GET", "/v1/service_levels/123", ""},
		{"PATCH", "/v1/service_levels/123", `{"service_level":"premium"}`},
		{"GET", "/v1/message_threads", ""},
		{"GET", "/v1/message_threads/t1", ""},
		{"PATCH", "/v1/message_threads/t1", `{"flagged":true}`},
		{"GET", "/v1/message_threads/t1/messages", ""},
		{"POST", "/v1/message_threads/t1/messages", `{"message":"reply"}`},
		{"GET", "/v1/assignments/a1/messages", ""},
		{"POST", "/v1/assignments/a1/messages", `{"message":"q"}`},
		{"PUT", "/v1/messages/m1/seen", ""},
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hits) != len(want) {
		t.Fatalf("hits = %v", hits)
	}
	for i := range want {
		if hits[i] != want[i] {
			t.Errorf("hit %d = %+v, want %+v", i, hits[i], want[i])
		}
	}
	if got := f.tokenCalls.Load(); got != 1 {
		t.Errorf("token calls = %d, want 1 shared receivables token", got)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

const amiliStatusJSON = `{
  "iban": "FI4900000000000000", "bic": "DABAFIHH", "contact_person": "John Doe",
  "billing_address": {"country": "FI", "streets": ["Street 1"], "city": "Helsinki", "zip_code": "00100"},
  "activation_url": "https://kyc.example/abc",
  "vfsfi": {"iban": "FI2357169020052929", "bic": "OKOYFIHH", "account_number": "571690-20052929",
    "notes": [{"phrase": "Olemme siirtäneet...", "code": "FI"}, {"phrase": "We have transferred...", "code": "EN"}]},
  "status": "ACTIVE"
}`

func TestAXEndpoints(t *testing.T) {
	f := newFake(t)
	var mu sync.Mutex
	scopes := map[string]string{}
	f.mu.Lock()
	f.tokenHandler = func(w http.ResponseWriter, r *http.Request, n int32) {
		tok := "ax-token-" + strings.ReplaceAll(r.PostForm.Get("scope"), " ", "+")
		mu.Lock()
		scopes[r.PostForm.Get("scope")] = tok
		mu.Unlock()
		writeJSON(w, 200, map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": 3600})
	}
	f.mu.Unlock()
	var created map[string]any
	f.handle("POST /v1/company/notifications", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewDecoder(r.Body).Decode(&created)
		writeJSON(w, 201, map[string]any{"id": "d726", "destination_type": created["destination_type"], "destination": created["destination"], "events": created["events"], "created_at": "x"})
	})
	f.handle("GET /v1/company/notifications/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"id": r.PathValue("id"), "destination_type": "WEBHOOK", "destination": "https://x", "events": []string{"NETWORKS.*"}})
	})
	f.handle("DELETE /v1/company/notifications/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	f.handle("GET /v2/services/amili/receivables", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, amiliStatusJSON)
	})
	var putBody string
	f.handle("PUT /v2/services/ropo/receivables", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		putBody = string(b)
		writeJSON(w, 200, map[string]any{"status": "PENDING"})
	})
	f.handle("DELETE /v2/services/ropo/receivables", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	f.handle("GET /v1/services/receivables", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"status": "DISABLED"})
	})
	f.handle("GET /v2/invoices/{id}/assignment", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"status": "sent", "agency": "ropo"})
	})

	c, _, _ := testClient(t, f)
	ctx := context.Background()
	n, err := c.CreateNotification(ctx, testCompany, NewNotification{DestinationType: DestinationVendorWebhook, Destination: "https://your.example/endpoint", Events: []string{"DOCUMENTS.INVOICE.DELIVERED"}})
	must(t, err)
	if n.ID != "d726" || n.DestinationType != "VENDOR_WEBHOOK" || string(n.Extra["created_at"]) != `"x"` {
		t.Errorf("notification = %+v", n)
	}
	if _, ok := created["vendor_key"]; ok {
		t.Errorf("empty vendor_key was sent: %v", created)
	}
	_, err = c.GetNotification(ctx, testCompany, "d726")
	must(t, err)
	must(t, c.DeleteNotification(ctx, testCompany, "d726"))
	if _, err := c.CreateNotification(ctx, testCompany, NewNotification{Destination: "https://x"}); err == nil {
		t.Error("notification without events accepted")
	}

	st, err := c.GetReceivablesService(ctx, testCompany, ProviderAmili)
	must(t, err)
	if st.Status != "ACTIVE" || st.ActivationURL == "" || st.VFSFI == nil || st.VFSFI.IBAN != "FI2357169020052929" ||
		len(st.VFSFI.Notes) != 2 || st.VFSFI.Notes[1].Code != "EN" || st.Extra["billing_address"] == nil {
		t.Errorf("service status = %+v", st)
	}
	_, err = c.ActivateReceivablesService(ctx, testCompany, ProviderRopo, ServiceActivation{IBAN: "FI49", ContactEmail: "a@b", Extra: map[string]json.RawMessage{"language": json.RawMessage(`"FI"`)}})
	must(t, err)
	if !strings.Contains(putBody, `"iban":"FI49"`) || !strings.Contains(putBody, `"language":"FI"`) {
		t.Errorf("activation body = %s", putBody)
	}
	must(t, c.CloseReceivablesService(ctx, testCompany, ProviderRopo))
	legacy, err := c.GetLegacyReceivablesService(ctx, testCompany)
	must(t, err)
	if legacy.Status != ServiceDisabled {
		t.Errorf("legacy = %+v", legacy)
	}
	ia, err := c.GetInvoiceAssignment(ctx, testCompany, "inv-1")
	must(t, err)
	if ia.Status != TransferSent || string(ia.Extra["agency"]) != `"ropo"` {
		t.Errorf("invoice assignment = %+v", ia)
	}
	mu.Lock()
	defer mu.Unlock()
	if _, ok := scopes["company:read company:write"]; !ok || len(scopes) != 2 {
		t.Errorf("scopes requested = %v, want notifications/services and invoices scopes", scopes)
	}
}

// A paid event must never be reported twice: after an answer that may come from a
// Maventa that already applied the POST, the client returns the error instead of
// resending; after answers that prove it was not applied, it resends.
func TestAddEventIsResentOnlyWhenMaventaCertainlyDidNotApplyIt(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		wantCalls int32
		wantErr   bool
	}{
		{"502 may follow an applied POST: not resent", http.StatusBadGateway, 1, true},
		{"504 may follow an applied POST: not resent", http.StatusGatewayTimeout, 1, true},
		{"500 may follow an applied POST: not resent", http.StatusInternalServerError, 1, true},
		{"503 means refused: resent", http.StatusServiceUnavailable, 2, false},
		{"429 means refused: resent", http.StatusTooManyRequests, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			var calls atomic.Int32
			f.handle("POST /v1/assignments/{id}/events", func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) == 1 {
					writeError(w, tt.status, "upstream", "first attempt fails")
					return
				}
				writeJSON(w, http.StatusCreated, map[string]any{"id": "e1", "type": "paid", "data": map[string]any{"sum_paid": 200.5}})
			})
			c, _, _ := testClient(t, f)
			_, err := c.AddEvent(context.Background(), testCompany, "a1", NewPaidEvent(PaidData{SumPaid: mustDec("200.50"), BookedAt: "2019-01-04"}))
			if (err != nil) != tt.wantErr || calls.Load() != tt.wantCalls {
				t.Fatalf("err=%v calls=%d, want error=%v calls=%d", err, calls.Load(), tt.wantErr, tt.wantCalls)
			}
		})
	}
}

func TestIdempotentReadsAreRetriedOn502(t *testing.T) {
	f := newFake(t)
	var calls atomic.Int32
	f.handle("GET /v1/assignments/{id}", func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			writeError(w, http.StatusBadGateway, "upstream", "flaky")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": "a1", "sum": 12.3, "paid": 0, "currency": "EUR"})
	})
	c, _, _ := testClient(t, f)
	if _, err := c.GetAssignment(context.Background(), testCompany, "a1"); err != nil || calls.Load() != 2 {
		t.Fatalf("err=%v calls=%d", err, calls.Load())
	}
}
