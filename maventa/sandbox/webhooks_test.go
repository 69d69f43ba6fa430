package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// receiver is a webhook endpoint that fails its first failFirst calls.
type receiver struct {
	mu        sync.Mutex
	failFirst int
	block     bool // block until the sender gives up on the first call
	bodies    []string
	auths     []string
	secrets   []string
	srv       *httptest.Server
}

func newReceiver(t *testing.T, failFirst int) *receiver {
	rc := &receiver{failFirst: failFirst}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.bodies)
		rc.bodies = append(rc.bodies, string(b))
		u, p, _ := r.BasicAuth()
		rc.auths = append(rc.auths, u+":"+p)
		rc.secrets = append(rc.secrets, r.URL.Query().Get("secret"))
		block := rc.block && n == 0
		fail := n < rc.failFirst
		rc.mu.Unlock()
		if block {
			<-r.Context().Done()
			return
		}
		if fail {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) calls() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.bodies...)
}

// fastRetries: an hour becomes a millisecond.
var fastRetries = Config{TimeScale: 3600 * 1000}

func TestWebhookRetrySchedule(t *testing.T) {
	cases := []struct {
		name         string
		failFirst    int
		wantAttempts int
		wantState    string
	}{
		{"success at once is one attempt", 0, 1, DeliveryDelivered},
		{"three failures then 204 is four attempts", 3, 4, DeliveryDelivered},
		{"24 failures then success on the last retry", 24, 25, DeliveryDelivered},
		{"always failing gives up after 25 attempts", 1000, 25, DeliveryGaveUp},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, fastRetries)
			rc := newReceiver(t, tc.failFirst)
			dest := strings.Replace(rc.srv.URL, "http://", "http://user:examplesecret@", 1) + "/hook?secret=s3cret"
			var n Notification
			resp := e.do(http.MethodPost, e.ax.URL+"/v1/company/notifications", e.defaultToken(),
				map[string]any{"destination_type": "WEBHOOK", "destination": dest, "events": []string{"DOCUMENTS.*.*"}}, &n)
			expect(t, resp.StatusCode == 201 && n.ID != "" && n.Destination == dest, "register %d %+v", resp.StatusCode, n)
			e.assignment("1", "10")
			if err := e.sb.WaitWebhooks(waitCtx(t)); err != nil {
				t.Fatal(err)
			}
			bodies := rc.calls()
			if len(bodies) != tc.wantAttempts {
				t.Fatalf("%d attempts, want %d", len(bodies), tc.wantAttempts)
			}
			for i, b := range bodies {
				if b != bodies[0] {
					t.Fatalf("attempt %d body differs:\n%s\n%s", i+1, b, bodies[0])
				}
			}
			rc.mu.Lock()
			expect(t, rc.auths[0] == "user:examplesecret" && rc.secrets[0] == "s3cret", "auth %q secret %q", rc.auths[0], rc.secrets[0])
			rc.mu.Unlock()
			var env Envelope
			if err := json.Unmarshal([]byte(bodies[0]), &env); err != nil {
				t.Fatal(err)
			}
			expect(t, env.Event == EventInvoiceDelivered && env.CompanyID == testCompany && env.EventData["invoice_number"] == "1" &&
				env.EventData["recipient_name"] == "Debtor Oy" && env.EventData["destination"] == "PEPPOL", "envelope %+v", env)
			if _, err := time.Parse(time.RFC3339, env.EventTimestamp); err != nil || !strings.HasSuffix(env.EventTimestamp, "+02:00") {
				t.Fatalf("event_timestamp %q", env.EventTimestamp)
			}
			d := e.sb.WebhookDeliveries()
			expect(t, len(d) == 1 && d[0].State == tc.wantState && d[0].Attempts == tc.wantAttempts, "deliveries %+v", d)
			att := e.sb.WebhookAttempts()
			expect(t, len(att) == tc.wantAttempts && att[len(att)-1].Attempt == tc.wantAttempts, "attempts %d", len(att))
			for i, a := range att[:len(att)-1] {
				expect(t, !a.Success && a.Status == 500 && a.Attempt == i+1, "attempt %+v", a)
			}
		})
	}
}

func TestWebhookTimeoutIsScaledAndRetried(t *testing.T) {
	// 5 s / 10 = 500 ms timeout; 1 s / 10 = 100 ms between the two attempts.
	e := newEnv(t, Config{TimeScale: 10, MinWebhookTimeout: time.Millisecond, RetryInterval: time.Second, RetryFor: time.Second})
	rc := newReceiver(t, 0)
	rc.block = true
	if _, err := e.sb.RegisterWebhook(testCompany, "WEBHOOK", rc.srv.URL, []string{"DOCUMENTS.INVOICE.DELIVERED"}, ""); err != nil {
		t.Fatal(err)
	}
	e.assignment("1", "10")
	if err := e.sb.WaitWebhooks(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
	att := e.sb.WebhookAttempts()
	expect(t, len(att) == 2, "attempts %+v", att)
	expect(t, !att[0].Success && strings.Contains(att[0].Error, "deadline exceeded"), "first attempt %+v", att[0])
	expect(t, att[1].Success && att[1].Status == 204, "second attempt %+v", att[1])
}

func TestWebhookDropFractionIsDeterministic(t *testing.T) {
	run := func(seed uint64) []string {
		e := newEnv(t, Config{Seed: seed})
		rc := newReceiver(t, 0)
		if _, err := e.sb.RegisterWebhook(testCompany, "WEBHOOK", rc.srv.URL, []string{"NETWORKS.*"}, ""); err != nil {
			t.Fatal(err)
		}
		e.sb.SetFault(Fault{WebhookDropRate: 0.5})
		for range 40 {
			if err := e.sb.NetworkEvent(testCompany, "PEPPOL", "ENABLED", nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.sb.WaitWebhooks(waitCtx(t)); err != nil {
			t.Fatal(err)
		}
		var states []string
		dropped := 0
		for _, d := range e.sb.WebhookDeliveries() {
			states = append(states, d.State)
			if d.State == DeliveryDropped {
				dropped++
			}
		}
		expect(t, len(rc.calls()) == 40-dropped, "received %d, dropped %d", len(rc.calls()), dropped)
		expect(t, dropped > 5 && dropped < 35, "dropped %d of 40 at rate 0.5", dropped)
		return states
	}
	a, b, c := run(7), run(7), run(8)
	expect(t, fmt.Sprint(a) == fmt.Sprint(b), "same seed, different drops:\n%v\n%v", a, b)
	expect(t, fmt.Sprint(a) != fmt.Sprint(c), "different seeds, same drops")
}

func TestPatternMatches(t *testing.T) {
	cases := []struct {
		pattern, event string
		want           bool
	}{
		{"DOCUMENTS.*.*", "DOCUMENTS.INVOICE.DELIVERED", true},
		{"DOCUMENTS.INVOICE.DELIVERED", "DOCUMENTS.INVOICE.DELIVERED", true},
		{"DOCUMENTS.INVOICE.DELIVERED", "DOCUMENTS.INVOICE.FAILED", false},
		{"DOCUMENTS.*.FAILED", "DOCUMENTS.INVOICE.FAILED", true},
		{"NETWORKS.*", "NETWORKS.PEPPOL.CREATED", true},
		{"NETWORKS.*", "DOCUMENTS.INVOICE.FAILED", false},
		{"COMPANIES.AUTHORIZATION.*", "COMPANIES.AUTHORIZATION.VERIFIED", true},
		{"DOCUMENTS.*", "DOCUMENTS.INVOICE.RECEIVED", true},
		{"DOCUMENTS.INVOICE", "DOCUMENTS.INVOICE.RECEIVED", false},
	}
	for _, tc := range cases {
		if got := PatternMatches(tc.pattern, tc.event); got != tc.want {
			t.Errorf("PatternMatches(%q, %q) = %v, want %v", tc.pattern, tc.event, got, tc.want)
		}
	}
}

func TestVendorWebhookCoversLinkedCompanies(t *testing.T) {
	e := newEnv(t, Config{})
	linked := e.sb.AddCompany(Company{ID: "33333333-3333-4333-8333-333333333333", APIKey: "key-3", VendorAPIKey: "vendor-1", Name: "Linked Oy"})
	rc := newReceiver(t, 0)
	if _, err := e.sb.RegisterWebhook(testCompany, "VENDOR_WEBHOOK", rc.srv.URL, []string{"COMPANIES.AUTHORIZATION.*"}, ""); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{testCompany, linked.ID, otherCompany} {
		if err := e.sb.AuthorizationEvent(id, "VERIFIED"); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.sb.WaitWebhooks(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
	calls := rc.calls()
	expect(t, len(calls) == 2, "vendor webhook got %d calls", len(calls))
	expect(t, !strings.Contains(strings.Join(calls, ""), otherCompany), "got another vendor's company")
	expect(t, strings.Contains(calls[1], `"state":"VERIFIED"`), "payload %s", calls[1])
}

func TestNotificationsAPI(t *testing.T) {
	e := newEnv(t, Config{})
	tok := e.defaultToken()
	cases := []struct {
		name   string
		body   map[string]any
		status int
	}{
		{"webhook", map[string]any{"destination_type": "WEBHOOK", "destination": "https://x.example/h", "events": []string{"DOCUMENTS.INVOICE.FAILED"}}, 201},
		{"vendor webhook with vendor key", map[string]any{"destination_type": "VENDOR_WEBHOOK", "destination": "https://x.example/v", "events": []string{"NETWORKS.*"}, "vendor_key": "vendor-1"}, 201},
		{"bad destination type", map[string]any{"destination_type": "EMAIL", "destination": "https://x.example/h", "events": []string{"NETWORKS.*"}}, 422},
		{"no events", map[string]any{"destination_type": "WEBHOOK", "destination": "https://x.example/h"}, 422},
		{"not a URL", map[string]any{"destination_type": "WEBHOOK", "destination": "nope", "events": []string{"NETWORKS.*"}}, 422},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.do(http.MethodPost, e.ax.URL+"/v1/company/notifications", tok, tc.body, nil)
			expect(t, resp.StatusCode == tc.status, "status %d, want %d", resp.StatusCode, tc.status)
		})
	}
	var list []Notification
	e.do(http.MethodGet, e.ax.URL+"/v1/company/notifications", tok, nil, &list)
	expect(t, len(list) == 2, "list %+v", list)
	otherTok := e.token(otherCompany, "key-2", "vendor-2", "")
	resp := e.do(http.MethodGet, e.ax.URL+"/v1/company/notifications/"+list[0].ID, otherTok, nil, nil)
	expect(t, resp.StatusCode == 403, "other company's notification: %d", resp.StatusCode)
	resp = e.do(http.MethodDelete, e.ax.URL+"/v1/company/notifications/"+list[0].ID, tok, nil, nil)
	expect(t, resp.StatusCode == 204, "delete %d", resp.StatusCode)
	resp = e.do(http.MethodGet, e.ax.URL+"/v1/company/notifications/"+list[0].ID, tok, nil, nil)
	expect(t, resp.StatusCode == 404, "deleted %d", resp.StatusCode)
}

func TestServiceActivationFiresWebhookWithVFSFI(t *testing.T) {
	e := newEnv(t, Config{})
	tok := e.defaultToken()
	rc := newReceiver(t, 0)
	if _, err := e.sb.RegisterWebhook(testCompany, "WEBHOOK", rc.srv.URL, []string{"SERVICES.*"}, ""); err != nil {
		t.Fatal(err)
	}
	var sv map[string]any
	resp := e.do(http.MethodGet, e.ax.URL+"/v2/services/amili/receivables", tok, nil, nil)
	expect(t, resp.StatusCode == 404, "before activation %d", resp.StatusCode)
	resp = e.do(http.MethodPut, e.ax.URL+"/v2/services/amili/receivables", tok, map[string]any{
		"iban": "FI4900000000000000", "bic": "DABAFIHH", "contact_person": "John Doe"}, &sv)
	expect(t, resp.StatusCode == 200 && sv["status"] == "pending" && sv["activation_url"] != nil && sv["vfsfi"] == nil, "put %d %v", resp.StatusCode, sv)
	var legacy map[string]any
	e.do(http.MethodGet, e.ax.URL+"/v1/services/receivables", tok, nil, &legacy)
	expect(t, legacy["status"] == "PENDING", "legacy %v", legacy["status"])

	if err := e.sb.ActivateService(testCompany, ProviderAmili); err != nil {
		t.Fatal(err)
	}
	e.do(http.MethodGet, e.ax.URL+"/v2/services/amili/receivables", tok, nil, &sv)
	vf, _ := sv["vfsfi"].(map[string]any)
	expect(t, sv["status"] == "active" && vf["iban"] == "FI2357169020052929" && vf["bic"] == "OKOYFIHH" && sv["iban"] == "FI4900000000000000", "active %v", sv)
	e.do(http.MethodGet, e.ax.URL+"/v1/services/receivables", tok, nil, &legacy)
	expect(t, legacy["status"] == "ACTIVE" && legacy["vfsfi"] != nil, "legacy %v", legacy)

	if err := e.sb.WaitWebhooks(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
	calls := rc.calls()
	expect(t, len(calls) == 1, "calls %d", len(calls))
	var env Envelope
	_ = json.Unmarshal([]byte(calls[0]), &env)
	evf, _ := env.EventData["vfsfi"].(map[string]any)
	expect(t, env.Event == EventReceivablesActivated && env.EventData["provider"] == "amili" && evf["account_number"] == "571690-20052929", "envelope %+v", env)

	// Ropo: rejected.
	e.do(http.MethodPut, e.ax.URL+"/v2/services/ropo/receivables", tok, map[string]any{"contact_person": "Jane"}, &sv)
	expect(t, sv["status"] == "pending", "ropo %v", sv)
	if err := e.sb.RejectService(testCompany, ProviderRopo, "KYC failed"); err != nil {
		t.Fatal(err)
	}
	e.do(http.MethodGet, e.ax.URL+"/v2/services/ropo/receivables", tok, nil, &sv)
	expect(t, sv["status"] == "rejected", "ropo %v", sv)
	resp = e.do(http.MethodPatch, e.ax.URL+"/v2/services/amili/receivables", tok, map[string]any{"accountable_party": "company"}, &sv)
	expect(t, resp.StatusCode == 200 && sv["accountable_party"] == "company", "patch %d %v", resp.StatusCode, sv)
	resp = e.do(http.MethodDelete, e.ax.URL+"/v2/services/amili/receivables", tok, nil, nil)
	expect(t, resp.StatusCode == 204, "delete %d", resp.StatusCode)
	e.do(http.MethodGet, e.ax.URL+"/v1/services/receivables", tok, nil, &legacy)
	expect(t, legacy["status"] == "DISABLED", "legacy after delete %v", legacy)
	if err := e.sb.WaitWebhooks(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
	expect(t, strings.Contains(rc.calls()[1], EventReceivablesRejected), "rejection webhook %v", rc.calls())
}
