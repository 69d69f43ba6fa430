package sandbox

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

// TestOperatorTokens checks the ASSUMED operator semantics (token.go, "Operator tokens").
func TestOperatorTokens(t *testing.T) {
	e := newEnv(t, Config{})
	e.sb.AddOperator("op-1", "op-secret", testCompany)
	mine := e.assignment("1", "10.00")

	opToken := func(scope string) (string, int) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"op-1"}, "client_secret": {"op-secret"}}
		if scope != "" {
			form.Set("scope", scope)
		}
		resp, err := http.PostForm(e.ax.URL+"/oauth2/token", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			AccessToken string `json:"access_token"`
		}
		_ = decodeJSON(resp, &out)
		return out.AccessToken, resp.StatusCode
	}
	if _, status := opToken("company:read"); status != http.StatusBadRequest {
		t.Errorf("operator asking a company scope: %d", status)
	}
	tok, status := opToken("")
	if status != http.StatusOK || tok == "" {
		t.Fatalf("operator token: %d", status)
	}

	var list []map[string]any
	if resp := e.do("GET", e.rec.URL+"/v1/assignments", tok, nil, &list); resp.StatusCode != 200 || len(list) != 1 || list[0]["id"] != mine {
		t.Errorf("operator assignments: %d %v", resp.StatusCode, list)
	}
	if resp := e.do("GET", e.rec.URL+"/v1/service_levels", tok, nil, nil); resp.StatusCode != 200 {
		t.Errorf("operator of one company, service levels: %d", resp.StatusCode)
	}
	for _, path := range []string{"/v1/company/notifications", "/v2/services/amili/receivables", "/v1/invoices"} {
		if resp := e.do("GET", e.ax.URL+path, tok, nil, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("operator token on %s: %d, want 403", path, resp.StatusCode)
		}
	}
	body := map[string]any{"destination_type": "VENDOR_WEBHOOK", "destination": "https://example.invalid/h", "events": []string{"DOCUMENTS.*.*"}}
	if resp := e.do("POST", e.ax.URL+"/v1/operator/notifications", tok, body, nil); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("operator VENDOR_WEBHOOK without vendor_key: %d", resp.StatusCode)
	}
	// A company token cannot use the operator routes.
	if resp := e.do("GET", e.ax.URL+"/v1/operator/notifications", e.defaultToken(), nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("company token on operator notifications: %d", resp.StatusCode)
	}
}

func decodeJSON(resp *http.Response, out any) error {
	return json.NewDecoder(resp.Body).Decode(out)
}
