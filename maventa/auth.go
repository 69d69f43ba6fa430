package maventa

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// tokenPath is Maventa's OAuth2 token endpoint on the AX host.
const tokenPath = "/oauth2/token"

// tokenKey identifies one cached token: a company (or the operator) and a scope.
type tokenKey struct {
	principal string // company UUID, or "operator:<id>"
	scope     string
}

// tokenEntry caches one token and the fetch in flight for it, if any.
//
// This plays the role of oauth2.ReuseTokenSourceWithExpiry (reuse until
// expiry - TokenEarlyRefresh, one refresh shared by all callers) but each waiter
// honours its own ctx, a fetch is not cancelled by one impatient caller, and a
// token can be invalidated after a 401.
type tokenEntry struct {
	mu     sync.Mutex
	tok    *oauth2.Token
	flight *tokenFlight
}

// tokenFlight is one token fetch that concurrent callers wait on.
type tokenFlight struct {
	done chan struct{}
	tok  *oauth2.Token
	err  error
}

// tokens caches tokens per (principal, scope), created lazily.
type tokens struct {
	mu      sync.Mutex
	entries map[tokenKey]*tokenEntry
}

func (t *tokens) entry(k tokenKey) *tokenEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.entries == nil {
		t.entries = map[tokenKey]*tokenEntry{}
	}
	e, ok := t.entries[k]
	if !ok {
		e = &tokenEntry{}
		t.entries[k] = e
	}
	return e
}

// credentialsFor returns the token key and client credentials config for a call.
func (c *Client) credentialsFor(companyID, scope string) (tokenKey, *clientcredentials.Config, error) {
	var id string
	var secret Secret
	if c.cfg.AuthMode == AuthOperator {
		if c.cfg.OperatorID == "" || c.cfg.OperatorSecret.IsZero() {
			return tokenKey{}, nil, &NoCredentialsError{CompanyID: companyID}
		}
		id, secret = c.cfg.OperatorID, c.cfg.OperatorSecret
	} else {
		if companyID == "" {
			return tokenKey{}, nil, &ValidationError{Field: "companyID", Problem: "empty"}
		}
		s, err := c.creds.Lookup(companyID)
		if err != nil {
			return tokenKey{}, nil, err
		}
		id, secret = companyID, s
	}
	cc := &clientcredentials.Config{
		ClientID:     id,
		ClientSecret: secret.Reveal(),
		TokenURL:     c.axBase + tokenPath,
		AuthStyle:    oauth2.AuthStyleInParams,
	}
	if scope != "" {
		cc.Scopes = strings.Fields(scope)
	}
	if !c.cfg.VendorAPIKey.IsZero() {
		cc.EndpointParams = url.Values{"vendor_api_key": {c.cfg.VendorAPIKey.Reveal()}}
	}
	principal := id
	if c.cfg.AuthMode == AuthOperator {
		principal = "operator:" + id
	}
	return tokenKey{principal: principal, scope: scope}, cc, nil
}

// valid reports whether tok may still be used, refreshing TokenEarlyRefresh early.
func (c *Client) valid(tok *oauth2.Token) bool {
	if tok == nil || tok.AccessToken == "" {
		return false
	}
	if tok.Expiry.IsZero() {
		return true
	}
	return c.now().Before(tok.Expiry.Add(-c.cfg.TokenEarlyRefresh))
}

// token returns a valid cached token for key or fetches one; concurrent callers
// share one fetch.
func (c *Client) token(ctx context.Context, key tokenKey, cc *clientcredentials.Config) (*oauth2.Token, error) {
	e := c.tokens.entry(key)
	e.mu.Lock()
	if c.valid(e.tok) {
		t := e.tok
		e.mu.Unlock()
		return t, nil
	}
	f := e.flight
	if f == nil {
		f = &tokenFlight{done: make(chan struct{})}
		e.flight = f
		go c.fetchToken(context.WithoutCancel(ctx), e, f, cc)
	}
	e.mu.Unlock()
	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// fetchToken runs one token request, bounded by Config.Timeout, and publishes the
// result to every waiter.
func (c *Client) fetchToken(ctx context.Context, e *tokenEntry, f *tokenFlight, cc *clientcredentials.Config) {
	if c.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.httpClient)
	// A token request is a request to the AX host like any other: it counts
	// against that host's budget (in the class of the call that needed it).
	var tok *oauth2.Token
	err := c.waitBudget(ctx, c.axHost)
	if err == nil {
		tok, err = cc.Token(ctx)
	}
	recordTokenRefresh(ctx, err)
	if err == nil && !tok.Expiry.IsZero() {
		// oauth2 computed Expiry from expires_in on the wall clock; move it onto
		// the client's clock, the one valid() reads.
		tok.Expiry = c.now().Add(time.Until(tok.Expiry))
	}
	if err != nil {
		err = c.tokenError(err)
		c.logger.WarnContext(ctx, "maventa token request failed", "path", tokenPath, "error", err)
	} else {
		c.logger.DebugContext(ctx, "maventa token fetched", "path", tokenPath, "expiry", tok.Expiry)
	}
	e.mu.Lock()
	if err == nil {
		e.tok = tok
	}
	e.flight = nil
	f.tok, f.err = tok, err
	e.mu.Unlock()
	close(f.done)
}

// invalidate drops the cached token for key if it is still tok (after a 401), so
// the next call fetches a new one; a token already replaced is left alone.
func (c *Client) invalidate(key tokenKey, tok *oauth2.Token) {
	e := c.tokens.entry(key)
	e.mu.Lock()
	if e.tok != nil && tok != nil && e.tok.AccessToken == tok.AccessToken {
		e.tok = nil
	}
	e.mu.Unlock()
}

// tokenError turns an oauth2 error into an *APIError or *TransportError whose text
// carries neither the request body (credentials) nor the URL's query.
func (c *Client) tokenError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		var h http.Header
		if re.Response != nil {
			status, h = re.Response.StatusCode, re.Response.Header
		}
		return newAPIError(http.MethodPost, tokenPath, status, h, re.Body, c.now())
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return &TransportError{Method: http.MethodPost, Path: tokenPath, Err: ue.Err}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &TransportError{Method: http.MethodPost, Path: tokenPath, Err: err}
	}
	// Other oauth2 errors (e.g. a response without access_token) describe the
	// response, not the request; keep them, marked as a bad token response.
	return &APIError{Status: 0, Code: "invalid_token_response", Message: err.Error(), Method: http.MethodPost, Path: tokenPath}
}
