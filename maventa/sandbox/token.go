package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Scopes a company token gets when it asks for none ("for Maventa company
// authentication, the scope does not need to be provided"), from the Swagger list.
var companyScopes = []string{
	"eui", "global", "company", "lookup", "document:receive", "document:send",
	"invoice:receive", "invoice:send", "company:read", "company:write", "validate",
	"receivables:assignments", "analysis", "billing:reports",
}

// Operator scopes. An operator token may ask for these only.
var operatorScopes = []string{ScopeOperatorReceivables, ScopeOperatorNotifications}

// Scopes required per API area, in one table. Receivables is published; the rest
// are ASSUMED from the Swagger scope list.
const (
	ScopeReceivables  = "receivables:assignments"
	ScopeCompanyRead  = "company:read"  // GET notifications, services (ASSUMED for services)
	ScopeCompanyWrite = "company:write" // POST/DELETE notifications, PUT/PATCH/DELETE services (ASSUMED for services)
	ScopeInvoices     = "invoice:send"  // GET /v1/invoices, /v2/invoices/{id}/assignment (ASSUMED)

	// Operator scopes (named in the public scope list; what they grant is ASSUMED,
	// see "Operator tokens" below).
	ScopeOperatorReceivables   = "operator:receivables:assignments" // the whole Receivables API
	ScopeOperatorNotifications = "operator:notifications"           // /v1/operator/notifications
)

// Operator tokens (ASSUMED, the one place this is decided). Maventa publishes
// that operators authenticate with client_id=operator_id and
// client_secret=operator_secret and that operator:receivables:assignments and
// operator:notifications exist, but not how an operator's call names the company
// it is made for. The client (maventa.AuthOperator) sends no company at all, so
// the sandbox treats an operator token as acting for every company the operator
// operates (AddOperator's list; none listed: every company):
//   - Receivables API (scope operator:receivables:assignments): lists span all of
//     those companies, single resources of any of them are allowed, others are
//     403; service levels, which are keyed by the company, need an operator of
//     exactly one company (otherwise 403);
//   - /v1/operator/notifications (scope operator:notifications): registrations
//     belong to the operator; a WEBHOOK hears every operated company's events, a
//     VENDOR_WEBHOOK those of companies with its vendor_key;
//   - the company routes (/v1/company/notifications, services, invoices) stay
//     company-only: an operator token lacks their scopes (403), and asking for a
//     company scope with operator credentials is invalid_scope.

// SetTokenLifetime changes the lifetime of tokens issued from now on (early expiry fault).
func (s *Sandbox) SetTokenLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.tokenLifetime = d
}

// ExpireTokens makes every issued token invalid, as if it had expired.
func (s *Sandbox) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.st.tokens {
		t.expiresAt = time.Time{}
	}
}

// AddOperator registers operator credentials (client_id=operator_id,
// client_secret=operator_secret) for the companies the operator operates; none
// listed means every company (see "Operator tokens").
func (s *Sandbox) AddOperator(id, secret string, companies ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.operators[id] = secret
	m := map[string]bool{}
	for _, c := range companies {
		m[c] = true
	}
	s.st.operatorOf[id] = m
}

// operatesLocked reports whether operator acts for company.
func (s *Sandbox) operatesLocked(operator, company string) bool {
	if _, ok := s.st.companies[company]; !ok {
		return false
	}
	m := s.st.operatorOf[operator]
	return len(m) == 0 || m[company]
}

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// handleToken is POST /oauth2/token (client credentials, form-encoded body).
func (s *Sandbox) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "body must be form-encoded")
		return
	}
	f := r.PostForm
	if gt := f.Get("grant_type"); gt != "client_credentials" {
		writeError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be client_credentials")
		return
	}
	id, secret, vendor := f.Get("client_id"), f.Get("client_secret"), f.Get("vendor_api_key")
	if id == "" || secret == "" {
		writeError(w, http.StatusBadRequest, "invalid_credentials", "client_id and client_secret are required in the body")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	allowed := companyScopes
	info := &tokenInfo{}
	if c, ok := s.st.companies[id]; ok {
		if c.APIKey != secret || vendor == "" || (c.VendorAPIKey != "" && vendor != c.VendorAPIKey) {
			writeError(w, http.StatusUnauthorized, "invalid_credentials", "invalid client_id, client_secret or vendor_api_key")
			return
		}
		info.companyID = id
	} else if sec, ok := s.st.operators[id]; ok && sec == secret {
		info.operator = true
		info.operatorID = id
		allowed = operatorScopes
	} else {
		writeError(w, http.StatusUnauthorized, "invalid_credentials", "invalid client_id, client_secret or vendor_api_key")
		return
	}
	ok := map[string]bool{}
	for _, sc := range allowed {
		ok[sc] = true
	}
	requested := strings.Fields(f.Get("scope"))
	if len(requested) == 0 {
		requested = allowed
	}
	info.scopes = map[string]bool{}
	for _, sc := range requested {
		if !ok[sc] {
			writeError(w, http.StatusBadRequest, "invalid_scope", "scope not allowed: "+sc)
			return
		}
		info.scopes[sc] = true
	}
	names := make([]string, 0, len(info.scopes))
	for sc := range info.scopes {
		names = append(names, sc)
	}
	sort.Strings(names)
	info.scope = strings.Join(names, " ")
	lifetime := s.st.tokenLifetime
	info.expiresAt = s.cfg.Clock().Add(lifetime)
	tok := newToken()
	s.st.tokens[tok] = info
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   "bearer",
		"expires_in":   int(lifetime / time.Second),
		"scope":        info.scope,
	})
}

type ctxKey int

const principalKey ctxKey = 1

// principal is who a request authenticated as: a company or an operator.
type principal struct {
	company  string
	operator string
}

func principalFrom(ctx context.Context) principal {
	p, _ := ctx.Value(principalKey).(principal)
	return p
}

// companyFromLocked returns the authenticated company id put in the context by
// requireScope; for an operator token, the one company it operates, or "".
func (s *Sandbox) companyFromLocked(ctx context.Context) string {
	p := principalFrom(ctx)
	if p.operator == "" {
		return p.company
	}
	m := s.st.operatorOf[p.operator]
	if len(m) == 0 && len(s.st.companies) == 1 {
		for id := range s.st.companies {
			return id
		}
	}
	if len(m) == 1 {
		for id := range m {
			return id
		}
	}
	return ""
}

// companyFrom returns the authenticated company id (company tokens only).
func companyFrom(ctx context.Context) string {
	return principalFrom(ctx).company
}

// actsForLocked reports whether the request's token may act for company.
func (s *Sandbox) actsForLocked(ctx context.Context, company string) bool {
	p := principalFrom(ctx)
	if p.operator != "" {
		return s.operatesLocked(p.operator, company)
	}
	return p.company != "" && p.company == company
}

// requireScope authenticates the bearer token and checks that it carries one of
// the scopes: unknown/expired -> 401 invalid_token, missing scope -> 403.
func (s *Sandbox) requireScope(scopes ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := r.Header.Get("Authorization")
			tok, found := strings.CutPrefix(h, "Bearer ")
			if !found {
				tok, found = strings.CutPrefix(h, "bearer ")
			}
			if !found || tok == "" {
				writeError(w, http.StatusUnauthorized, "invalid_token", "missing bearer token")
				return
			}
			s.mu.Lock()
			info, ok := s.st.tokens[tok]
			var expired, has bool
			var who principal
			if ok {
				expired = !s.cfg.Clock().Before(info.expiresAt)
				who = principal{company: info.companyID, operator: info.operatorID}
				// Company and operator scopes never overlap, so a route listing
				// both serves both kinds of token.
				for _, sc := range scopes {
					has = has || info.scopes[sc]
				}
			}
			s.mu.Unlock()
			switch {
			case !ok:
				writeError(w, http.StatusUnauthorized, "invalid_token", "unknown access token")
			case expired:
				writeError(w, http.StatusUnauthorized, "invalid_token", "access token expired")
			case !has:
				writeError(w, http.StatusForbidden, "forbidden", "token lacks scope "+strings.Join(scopes, " or "))
			default:
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey, who)))
			}
		})
	}
}
