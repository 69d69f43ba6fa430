package maventa

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/maventa-bridge/maventa-events/events"
)

func mustDec(s string) events.Decimal { return events.MustDecimal(s) }

// secretMarkers are substrings only secrets and tokens in these tests contain.
var secretMarkers = []string{testAPIKey, testVendorKey, "SECRET"}

func assertNoSecrets(t *testing.T, what, text string) {
	t.Helper()
	for _, m := range secretMarkers {
		if strings.Contains(text, m) {
			t.Errorf("%s leaks %q:\n%s", what, m, text)
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret("hunter2-SECRET")
	type holder struct {
		Key    Secret
		hidden Secret
	}
	h := holder{Key: s, hidden: s}
	cfg := Config{VendorAPIKey: s, OperatorSecret: s}
	js, _ := json.Marshal(cfg)
	var logBuf strings.Builder
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("x", "secret", s, "cfg", cfg)
	outputs := map[string]string{
		"%v":         fmt.Sprintf("%v", s),
		"%+v":        fmt.Sprintf("%+v", s),
		"%#v":        fmt.Sprintf("%#v", s),
		"%s":         fmt.Sprintf("%s", s),
		"%q":         fmt.Sprintf("%q", s),
		"%x":         fmt.Sprintf("%x", s),
		"struct %+v": fmt.Sprintf("%+v", h),
		"struct %#v": fmt.Sprintf("%#v", h),
		"config %+v": fmt.Sprintf("%+v", cfg),
		"json":       string(js),
		"slog":       logBuf.String(),
	}
	for name, out := range outputs {
		if strings.Contains(out, "hunter2") {
			t.Errorf("%s prints the secret: %s", name, out)
		}
	}
	if s.Reveal() != "hunter2-SECRET" {
		t.Error("Reveal lost the value")
	}
}

func TestNoSecretsInLogsOrErrorsAcrossAFullCall(t *testing.T) {
	f := newFake(t)
	calls := 0
	f.handle("GET /v1/assignments", func(w http.ResponseWriter, r *http.Request) {
		calls++
		switch calls {
		case 1:
			writeError(w, 401, "unauthorized", "expired")
		case 2:
			w.Header().Set("Retry-After", "1")
			writeError(w, 503, "busy", "later")
		default:
			writeError(w, 422, "invalid_filter", "bad filter")
		}
	})
	c, _, logs := testClient(t, f)
	_, err := c.ListAssignments(context.Background(), testCompany, AssignmentQuery{DebtorName: "x"}, PageOptions{})
	if err == nil {
		t.Fatal("want error")
	}
	assertNoSecrets(t, "error", err.Error())
	assertNoSecrets(t, "error %+v", fmt.Sprintf("%+v", err))
	assertNoSecrets(t, "client %+v", fmt.Sprintf("%+v", c))
	assertNoSecrets(t, "client %#v", fmt.Sprintf("%#v", c))
	out := logs.String()
	assertNoSecrets(t, "logs", out)
	if strings.Contains(out, "debtor_name") {
		t.Errorf("logs contain the query string:\n%s", out)
	}
	for _, want := range []string{"method=GET", "path=/v1/assignments", "status=503", "attempt="} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
}
