package sandbox

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestTokenEndpoint(t *testing.T) {
	e := newEnv(t, Config{})
	base := url.Values{"grant_type": {"client_credentials"}, "client_id": {testCompany}, "client_secret": {"key-1"}, "vendor_api_key": {"vendor-1"}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for kk, vv := range base {
			f[kk] = vv
		}
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	cases := []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"valid credentials issue a bearer token", base, 200, ""},
		{"wrong api key is invalid_credentials", with("client_secret", "nope"), 401, "invalid_credentials"},
		{"unknown company is invalid_credentials", with("client_id", "33333333-3333-4333-8333-333333333333"), 401, "invalid_credentials"},
		{"wrong vendor key is invalid_credentials", with("vendor_api_key", "vendor-2"), 401, "invalid_credentials"},
		{"missing vendor key is invalid_credentials", with("vendor_api_key", ""), 401, "invalid_credentials"},
		{"missing secret is a 400", with("client_secret", ""), 400, "invalid_credentials"},
		{"other grant types are refused", with("grant_type", "password"), 400, "unsupported_grant_type"},
		{"unknown scope is refused", with("scope", "receivables:assignments root"), 400, "invalid_scope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.PostForm(e.ax.URL+"/oauth2/token", tc.form)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%v)", resp.StatusCode, tc.status, body)
			}
			if tc.code != "" && body["code"] != tc.code {
				t.Fatalf("code %v, want %s", body["code"], tc.code)
			}
			if tc.status == 200 {
				if body["token_type"] != "bearer" || body["expires_in"] != float64(3600) || body["access_token"] == "" {
					t.Fatalf("token body %v", body)
				}
				if !strings.Contains(body["scope"].(string), "receivables:assignments") {
					t.Fatalf("default scope %v lacks receivables", body["scope"])
				}
			}
		})
	}
}

func TestTokenBasicAuthIsNotAccepted(t *testing.T) {
	e := newEnv(t, Config{})
	req, _ := http.NewRequest(http.MethodPost, e.ax.URL+"/oauth2/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "vendor_api_key": {"vendor-1"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(testCompany, "key-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("status %d, want 400: credentials belong in the body", resp.StatusCode)
	}
}

func TestTokenChecks(t *testing.T) {
	e := newEnv(t, Config{TokenLifetime: 10 * time.Minute})
	assignment := e.assignment("1001", "100")
	other, err := e.sb.SendInvoice(otherCompany, e.validSpec("2001", "50"))
	if err != nil {
		t.Fatal(err)
	}
	good := e.defaultToken()
	notifOnly := e.token(testCompany, "key-1", "vendor-1", "company:read")
	recOnly := e.token(testCompany, "key-1", "vendor-1", "receivables:assignments")

	cases := []struct {
		name   string
		url    string
		tok    string
		before func()
		status int
		code   string
	}{
		{"no token is 401", e.rec.URL + "/v1/assignments", "", nil, 401, "invalid_token"},
		{"unknown token is 401", e.rec.URL + "/v1/assignments", "garbage", nil, 401, "invalid_token"},
		{"valid token reads assignments", e.rec.URL + "/v1/assignments/" + assignment, good, nil, 200, ""},
		{"token without receivables scope is 403", e.rec.URL + "/v1/assignments", notifOnly, nil, 403, "forbidden"},
		{"token without company scope cannot list notifications", e.ax.URL + "/v1/company/notifications", recOnly, nil, 403, "forbidden"},
		{"another company's assignment is 403", e.rec.URL + "/v1/assignments/" + other.AssignmentID, good, nil, 403, "forbidden"},
		{"missing assignment is 404", e.rec.URL + "/v1/assignments/00000000-0000-4000-8000-000000000000", good, nil, 404, "not_found"},
		{"token expires after its lifetime", e.rec.URL + "/v1/assignments", good, func() { e.clock.Advance(10 * time.Minute) }, 401, "invalid_token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before()
			}
			var body map[string]any
			resp := e.do(http.MethodGet, tc.url, tc.tok, nil, &body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%v)", resp.StatusCode, tc.status, body)
			}
			if tc.code != "" && body["code"] != tc.code {
				t.Fatalf("code %v, want %s", body["code"], tc.code)
			}
		})
	}
}

func TestExpireTokensAndLifetimeOverride(t *testing.T) {
	e := newEnv(t, Config{})
	tok := e.defaultToken()
	if resp := e.do(http.MethodGet, e.rec.URL+"/v1/assignments", tok, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("fresh token: %d", resp.StatusCode)
	}
	e.sb.ExpireTokens()
	if resp := e.do(http.MethodGet, e.rec.URL+"/v1/assignments", tok, nil, nil); resp.StatusCode != 401 {
		t.Fatalf("expired token: %d", resp.StatusCode)
	}
	e.sb.SetTokenLifetime(30 * time.Second)
	var body map[string]any
	resp := e.do(http.MethodPost, e.ax.URL+"/oauth2/token?"+url.Values{"x": {"y"}}.Encode(), "", nil, nil)
	resp.Body.Close()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {testCompany}, "client_secret": {"key-1"}, "vendor_api_key": {"vendor-1"}}
	r, err := http.PostForm(e.ax.URL+"/oauth2/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	_ = json.NewDecoder(r.Body).Decode(&body)
	if body["expires_in"] != float64(30) {
		t.Fatalf("expires_in %v, want 30", body["expires_in"])
	}
}
