package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const validBody = `{"event":"DOCUMENTS.INVOICE.DELIVERED","company_id":"53a4e05d-42f0-4e76-acd6-968ab4558c6f","event_timestamp":"2019-11-23T12:03:48+02:00","event_data":{"invoice_id":"12f88354-5998-495b-8675-67bf05de60e5"}}`

// fakeStore records what it was asked to keep. storeErr/quarantineErr make it
// fail; block makes Store wait for the request's context to end.
type fakeStore struct {
	mu            sync.Mutex
	stored        [][]byte
	quarantined   [][]byte
	reasons       []string
	metas         []http.Header
	seen          map[string]bool
	storeErr      error
	quarantineErr error
	// quarantineMax > 0 refuses (as too large) a quarantined body over it.
	quarantineMax int
	block         bool
}

// refused is a Store error refusing the message itself, as natsstore.RefusedError.
type refused string

func (r refused) Error() string       { return "refused: " + string(r) }
func (r refused) RefusedKind() string { return string(r) }

func (f *fakeStore) Store(ctx context.Context, companyID, event string, body []byte, meta http.Header) (bool, error) {
	if f.block {
		<-ctx.Done()
		return false, ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.storeErr != nil {
		return false, f.storeErr
	}
	if f.seen == nil {
		f.seen = map[string]bool{}
	}
	if f.seen[string(body)] {
		return true, nil
	}
	f.seen[string(body)] = true
	f.stored = append(f.stored, body)
	f.metas = append(f.metas, meta)
	return false, nil
}

func (f *fakeStore) Quarantine(ctx context.Context, reason string, body []byte, meta http.Header) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.quarantineErr != nil {
		return false, f.quarantineErr
	}
	if f.quarantineMax > 0 && len(body) > f.quarantineMax {
		return false, fmt.Errorf("publish: %w", refused(refusedTooLarge))
	}
	f.quarantined = append(f.quarantined, body)
	f.reasons = append(f.reasons, reason)
	f.metas = append(f.metas, meta)
	return false, nil
}

func mustSecrets(t *testing.T, s ...string) *Secrets {
	t.Helper()
	sec, err := NewSecrets(s)
	if err != nil {
		t.Fatal(err)
	}
	return sec
}

func newTestRouter(t *testing.T, store Store, cfg WebhookConfig, logOut io.Writer) http.Handler {
	t.Helper()
	if cfg.Secrets == nil {
		cfg.Secrets = mustSecrets(t, "old-secret", "new-secret")
	}
	if logOut == nil {
		logOut = io.Discard
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return NewRouter(cfg, store, func(context.Context) error { return nil }, log)
}

func post(h http.Handler, target, body string, mod func(*http.Request)) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if mod != nil {
		mod(req)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestWebhookAuth(t *testing.T) {
	tests := []struct {
		name   string
		target string
		mod    func(*http.Request)
		want   int
	}{
		{"basic auth password accepted", WebhookPath, func(r *http.Request) { r.SetBasicAuth("maventa", "old-secret") }, 200},
		{"basic auth user name is not checked", WebhookPath, func(r *http.Request) { r.SetBasicAuth("anyone", "new-secret") }, 200},
		{"secret query parameter accepted", WebhookPath + "?secret=old-secret", nil, 200},
		{"rotation: the second secret is accepted too", WebhookPath + "?secret=new-secret", nil, 200},
		{"wrong basic password refused", WebhookPath, func(r *http.Request) { r.SetBasicAuth("maventa", "guess") }, 401},
		{"wrong query secret refused", WebhookPath + "?secret=guess", nil, 401},
		{"secret as user name is refused", WebhookPath, func(r *http.Request) { r.SetBasicAuth("old-secret", "") }, 401},
		{"prefix of a secret is refused", WebhookPath + "?secret=old-secre", nil, 401},
		{"missing secret refused", WebhookPath, nil, 401},
		{"empty query secret refused", WebhookPath + "?secret=", nil, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeStore{}
			rec := post(newTestRouter(t, store, WebhookConfig{}, nil), tt.target, validBody, tt.mod)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
			wantStored := 0
			if tt.want == 200 {
				wantStored = 1
			} else if rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if len(store.stored)+len(store.quarantined) != wantStored {
				t.Fatalf("stored %d, quarantined %d; want %d stored", len(store.stored), len(store.quarantined), wantStored)
			}
		})
	}
}

func TestSecretsMatch(t *testing.T) {
	s := mustSecrets(t, "alpha", " beta ", "")
	for cand, want := range map[string]bool{"alpha": true, "beta": true, "": false, "alph": false, "alphaa": false, "ALPHA": false, " beta ": false} {
		if got := s.Match(cand); got != want {
			t.Errorf("Match(%q) = %v, want %v", cand, got, want)
		}
	}
	if _, err := NewSecrets([]string{"", "  "}); err == nil {
		t.Error("NewSecrets with only blank secrets must fail")
	}
}

func TestWebhookBodyLimit(t *testing.T) {
	big := `{"event":"X.Y.Z","company_id":"c","event_timestamp":"2019-11-23T12:03:48Z","pad":"` + strings.Repeat("a", 2048) + `"}`
	tests := []struct {
		name    string
		chunked bool
	}{
		{"declared length over the limit", false},
		{"chunked body that grows over the limit", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeStore{}
			h := newTestRouter(t, store, WebhookConfig{MaxBody: 1024}, nil)
			rec := post(h, WebhookPath+"?secret=old-secret", big, func(r *http.Request) {
				if tt.chunked {
					r.ContentLength = -1
				}
			})
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d, want 413", rec.Code)
			}
			if len(store.stored)+len(store.quarantined) != 0 {
				t.Fatal("an oversize body was stored")
			}
		})
	}
}

func TestWebhookValidationQuarantines(t *testing.T) {
	tests := []struct {
		name, body string
		problems   []string
	}{
		{"empty body", ``, []string{"body is empty"}},
		{"not JSON", `event=DOCUMENTS`, []string{"not a JSON object"}},
		{"JSON array", `[1,2]`, []string{"not a JSON object"}},
		{"truncated JSON", `{"event":"A.B.C","company_id":`, []string{"not valid JSON"}},
		{"missing event", `{"company_id":"c","event_timestamp":"2019-11-23T12:03:48Z"}`, []string{`missing "event"`}},
		{"missing company_id", `{"event":"A.B.C","event_timestamp":"2019-11-23T12:03:48Z"}`, []string{`missing "company_id"`}},
		{"missing event_timestamp", `{"event":"A.B.C","company_id":"c"}`, []string{`missing "event_timestamp"`}},
		{"null event", `{"event":null,"company_id":"c","event_timestamp":"2019-11-23T12:03:48Z"}`, []string{`missing "event"`}},
		{"event not a string", `{"event":42,"company_id":"c","event_timestamp":"2019-11-23T12:03:48Z"}`, []string{`"event" is not a string`}},
		{"empty company_id", `{"event":"A.B.C","company_id":"","event_timestamp":"2019-11-23T12:03:48Z"}`, []string{`"company_id" is empty`}},
		{"timestamp not RFC 3339", `{"event":"A.B.C","company_id":"c","event_timestamp":"23.11.2019 12:03"}`, []string{`not an RFC 3339 time`}},
		{"everything missing lists every problem", `{}`, []string{`"event"`, `"company_id"`, `"event_timestamp"`}},
		// Times the domain events cannot carry: accepted, they would be dead-lettered.
		{"the zero time", `{"event":"A.B.C","company_id":"c","event_timestamp":"0001-01-01T00:00:00Z"}`, []string{`"event_timestamp"`}},
		{"year 0", `{"event":"A.B.C","company_id":"c","event_timestamp":"0000-06-01T00:00:00Z"}`, []string{`"event_timestamp"`}},
		{"year 10000 in UTC", `{"event":"A.B.C","company_id":"c","event_timestamp":"9999-12-31T23:59:59-01:00"}`, []string{`"event_timestamp"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeStore{}
			rec := post(newTestRouter(t, store, WebhookConfig{}, nil), WebhookPath+"?secret=old-secret", tt.body, nil)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", rec.Code, rec.Body)
			}
			var eb errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil {
				t.Fatalf("error body is not JSON: %v: %s", err, rec.Body)
			}
			joined := strings.Join(eb.Problems, "\n")
			for _, p := range tt.problems {
				if !strings.Contains(joined, p) {
					t.Errorf("problems %q do not mention %q", eb.Problems, p)
				}
			}
			if eb.Error != codeInvalid {
				t.Errorf("error code %q", eb.Error)
			}
			if len(store.quarantined) != 1 || !bytes.Equal(store.quarantined[0], []byte(tt.body)) {
				t.Fatalf("quarantined %q, want the exact body", store.quarantined)
			}
			if len(store.stored) != 0 {
				t.Fatal("an invalid webhook reached the webhook stream")
			}
			if store.metas[0].Get("Problems") == "" {
				t.Error("quarantined copy does not say what was wrong")
			}
		})
	}
}

func TestWebhookStoreOutcomes(t *testing.T) {
	tests := []struct {
		name       string
		store      *fakeStore
		body       string
		want       int
		retryAfter bool
	}{
		{"unknown event name is stored like any other", &fakeStore{}, `{"event":"RECEIVABLES.SERVICE.SOMETHING_NEW","company_id":"c","event_timestamp":"2019-11-23T12:03:48Z","extra":{"a":1}}`, 200, false},
		{"store failure is our failure: 503", &fakeStore{storeErr: errors.New("nats: no responders")}, validBody, 503, true},
		{"store not confirming before the deadline: 503", &fakeStore{block: true}, validBody, 503, true},
		{"quarantine failure: 503, not 400", &fakeStore{quarantineErr: errors.New("down")}, `{}`, 503, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestRouter(t, tt.store, WebhookConfig{Timeout: 50 * time.Millisecond, RetryAfter: 3 * time.Second}, nil)
			rec := post(h, WebhookPath+"?secret=old-secret", tt.body, nil)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
			if got := rec.Header().Get("Retry-After"); tt.retryAfter && got != "3" {
				t.Errorf("Retry-After %q, want 3", got)
			}
		})
	}
}

func TestWebhookDuplicateAnswers200(t *testing.T) {
	store := &fakeStore{}
	h := newTestRouter(t, store, WebhookConfig{}, nil)
	var answers []storedBody
	for range 2 {
		rec := post(h, WebhookPath+"?secret=old-secret", validBody, nil)
		if rec.Code != 200 {
			t.Fatalf("status %d", rec.Code)
		}
		var b storedBody
		if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
			t.Fatal(err)
		}
		answers = append(answers, b)
	}
	if answers[0].Duplicate || !answers[1].Duplicate || len(store.stored) != 1 {
		t.Fatalf("answers %+v, stored %d", answers, len(store.stored))
	}
}

func TestLogsNeverContainTheSecret(t *testing.T) {
	var logs bytes.Buffer
	store := &fakeStore{storeErr: errors.New("boom")} // failures log the most
	h := newTestRouter(t, store, WebhookConfig{Secrets: mustSecrets(t, "s3cr3t-value")}, &logs)
	post(h, WebhookPath+"?secret=s3cr3t-value", validBody, nil)
	post(h, WebhookPath, validBody, func(r *http.Request) { r.SetBasicAuth("u", "s3cr3t-value") })
	post(h, WebhookPath+"?secret=s3cr3t-value", `{}`, nil)
	post(h, WebhookPath+"?secret=wrong-s3cr3t-value", validBody, nil)
	if logs.Len() == 0 {
		t.Fatal("nothing was logged; the test would prove nothing")
	}
	if strings.Contains(logs.String(), "s3cr3t") {
		t.Fatalf("secret leaked into logs:\n%s", logs.String())
	}
	for _, m := range store.metas {
		for k, v := range m {
			if strings.Contains(strings.Join(v, ""), "s3cr3t") || k == "Authorization" {
				t.Fatalf("secret stored in header %s", k)
			}
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	var notReady error = errors.New("nats disconnected")
	h := NewRouter(WebhookConfig{Secrets: mustSecrets(t, "x")}, &fakeStore{}, func(context.Context) error { return notReady },
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	get := func(path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code
	}
	if get("/healthz") != 200 || get("/readyz") != 503 {
		t.Fatal("not-ready service must be alive but not ready")
	}
	notReady = nil
	if get("/readyz") != 200 {
		t.Fatal("ready service must answer 200")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, WebhookPath, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET on the webhook path: %d", rec.Code)
	}
}

// Issue 16, item 1: a message the store can never take (too large for NATS,
// headers or subject it refuses) was answered 503, so Maventa retried it
// forever and nothing was kept. It is our 4xx now, quarantined when it fits,
// and counted as "refused".
func TestWebhookStoreRefusals(t *testing.T) {
	telemetry(t)
	bigValid := `{"event":"DOCUMENTS.INVOICE.DELIVERED","company_id":"c","event_timestamp":"2019-11-23T12:03:48Z","pad":"` + strings.Repeat("x", 200<<10) + `"}`
	bigInvalid := `{"pad":"` + strings.Repeat("x", 200<<10) + `"}`
	tests := []struct {
		name       string
		store      *fakeStore
		body       string
		want       int
		wantCode   string
		wantKept   int // bytes of the quarantined copy; 0 = nothing kept
		wantReason string
		outcome    string
	}{
		{"headers refused: 400, whole body quarantined", &fakeStore{storeErr: refused("headers_too_large")}, validBody,
			400, codeRefused, len(validBody), "store_refused", outcomeRefused},
		{"invalid subject: 400, whole body quarantined", &fakeStore{storeErr: fmt.Errorf("x: %w", refused("invalid_subject"))}, validBody,
			400, codeRefused, len(validBody), "store_refused", outcomeRefused},
		{"too large for the store: 413, its first 64 KiB quarantined", &fakeStore{storeErr: refused(refusedTooLarge), quarantineMax: 100 << 10}, bigValid,
			413, codeTooLarge, quarantinePrefix, "store_refused", outcomeRefused},
		{"too large even for a prefix: 413, nothing kept", &fakeStore{storeErr: refused(refusedTooLarge), quarantineMax: 10}, bigValid,
			413, codeTooLarge, 0, "", outcomeRefused},
		{"refused, and the quarantine unavailable: 503", &fakeStore{storeErr: refused(refusedTooLarge), quarantineErr: errors.New("down")}, validBody,
			503, codeUnavailable, 0, "", outcomeUnavailable},
		{"store unavailable stays 503", &fakeStore{storeErr: errors.New("nats: no responders")}, validBody,
			503, codeUnavailable, 0, "", outcomeUnavailable},
		{"invalid envelope too large to quarantine whole: 400, prefix kept", &fakeStore{quarantineMax: 100 << 10}, bigInvalid,
			400, codeInvalid, quarantinePrefix, "invalid_envelope", outcomeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := metricValue(t, "maventa.webhooks.received", attrOutcome.String(tt.outcome))
			rec := post(newTestRouter(t, tt.store, WebhookConfig{}, nil), WebhookPath+"?secret=old-secret", tt.body, nil)
			var eb errorBody
			_ = json.Unmarshal(rec.Body.Bytes(), &eb)
			if rec.Code != tt.want || eb.Error != tt.wantCode {
				t.Fatalf("answer %d %q, want %d %q: %s", rec.Code, eb.Error, tt.want, tt.wantCode, rec.Body)
			}
			if said := strings.Contains(eb.Message, "kept"); said != (tt.wantKept > 0) {
				t.Errorf("message %q: says kept %v, want %v", eb.Message, said, tt.wantKept > 0)
			}
			if d := metricValue(t, "maventa.webhooks.received", attrOutcome.String(tt.outcome)) - before; d != 1 {
				t.Errorf("outcome %q counted %v times, want 1", tt.outcome, d)
			}
			if tt.wantKept == 0 {
				if len(tt.store.quarantined) != 0 {
					t.Fatalf("quarantined %d, want nothing", len(tt.store.quarantined))
				}
				return
			}
			if len(tt.store.quarantined) != 1 || len(tt.store.quarantined[0]) != tt.wantKept || tt.store.reasons[0] != tt.wantReason {
				t.Fatalf("quarantined %d (want 1 of %d bytes, reason %s): reasons %v", len(tt.store.quarantined), tt.wantKept, tt.wantReason, tt.store.reasons)
			}
			if !strings.HasPrefix(tt.body, string(tt.store.quarantined[0])) {
				t.Error("the quarantined copy is not the body's prefix")
			}
			meta := tt.store.metas[len(tt.store.metas)-1]
			if tt.wantKept < len(tt.body) && meta.Get("Body-Size") != strconv.Itoa(len(tt.body)) {
				t.Errorf("a cut copy without the whole size: %v", meta)
			}
		})
	}
}

// errAfter is a request body that yields data, then err: a connection that
// ended (or timed out) before the announced Content-Length.
type errAfter struct {
	r   io.Reader
	err error
}

func (e *errAfter) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, e.err
	}
	return n, err
}

// Issue 16, "Also": a body shorter than its Content-Length was answered 400
// without being quarantined, although every authenticated 400 is.
func TestWebhookIncompleteBodyIsQuarantined(t *testing.T) {
	partial := validBody[:40]
	tests := []struct {
		name          string
		store         *fakeStore
		contentLength int64
		want          int
		kept          bool
		problem       string
	}{
		{"read timed out: 400, what arrived is quarantined", &fakeStore{}, int64(len(validBody)), 400, true,
			fmt.Sprintf("ended after 40 of %d bytes", len(validBody))},
		{"chunked body cut: 400, quarantined", &fakeStore{}, -1, 400, true, "ended after 40 bytes"},
		{"the store refuses even that: 400, nothing kept, and the answer says so", &fakeStore{quarantineMax: 10}, int64(len(validBody)), 400, false, ""},
		{"quarantine unavailable: 503", &fakeStore{quarantineErr: errors.New("down")}, int64(len(validBody)), 503, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := post(newTestRouter(t, tt.store, WebhookConfig{}, nil), WebhookPath+"?secret=old-secret", "", func(r *http.Request) {
				r.Body = io.NopCloser(&errAfter{strings.NewReader(partial), os.ErrDeadlineExceeded})
				r.ContentLength = tt.contentLength
			})
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
			if said := strings.Contains(rec.Body.String(), "kept"); said != tt.kept {
				t.Errorf("answer %s: says kept %v, want %v", rec.Body, said, tt.kept)
			}
			if !tt.kept {
				if len(tt.store.quarantined) != 0 {
					t.Fatalf("quarantined %q", tt.store.quarantined)
				}
				return
			}
			if len(tt.store.quarantined) != 1 || string(tt.store.quarantined[0]) != partial || tt.store.reasons[0] != "incomplete_body" {
				t.Fatalf("quarantined %q %v", tt.store.quarantined, tt.store.reasons)
			}
			if p := tt.store.metas[0].Get("Problems"); !strings.Contains(p, tt.problem) {
				t.Errorf("problems %q, want %q", p, tt.problem)
			}
		})
	}
}
