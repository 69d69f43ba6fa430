// Package maventa is a client for Maventa's AutoXChange (AX) and Receivables REST
// APIs and the decoder of Maventa webhook payloads. It owns Maventa's wire format:
// domain.go reads what Maventa said into package events' inputs.
//
// Every call authenticates with an OAuth2 client-credentials token per
// (company, scope), retries transient failures with jittered exponential backoff,
// honours Retry-After, rate limits per host and never writes secrets or tokens to
// errors or logs. Amounts are events.Decimal end to end.
//
// Every Maventa object is a plain struct whose Extra field (tagged
// `json:",embed,inline"`) keeps the members no other field declares, so that
// nothing Maventa adds is lost when an object is passed on. Encode and decode
// them with Marshal and Unmarshal: encoding/json does not know that tag.
package maventa

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// maxErrorBody and maxResponseBody bound how much of a response is read.
const (
	maxErrorBody    = 64 << 10
	maxResponseBody = 64 << 20
)

// Client calls Maventa's APIs on behalf of companies whose credentials are in a
// CredentialStore. It is safe for concurrent use.
type Client struct {
	cfg             Config
	creds           *CredentialStore
	logger          *slog.Logger
	httpClient      *http.Client
	axBase          string
	receivablesBase string
	tokens          tokens

	limMu   sync.Mutex
	budgets map[string]*budget // per host
	axHost  string             // where token requests go

	// now and sleep are the clock; tests replace them to avoid wall-clock waits.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

// New returns a Client for cfg (zero fields take their documented defaults).
// creds may be nil with AuthOperator; a nil logger discards logs.
func New(cfg Config, creds *CredentialStore, logger *slog.Logger) (*Client, error) {
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.BackgroundShare < 0 || cfg.BackgroundShare > 1 {
		return nil, fmt.Errorf("maventa: New: BackgroundShare %v must be in (0, 1] (the most of a host's budget polling may use)", cfg.BackgroundShare)
	}
	if cfg.AuthMode == AuthCompany && creds == nil {
		return nil, errors.New("maventa: New: company authentication needs a CredentialStore")
	}
	if cfg.AuthMode == AuthOperator && (cfg.OperatorID == "" || cfg.OperatorSecret.IsZero()) {
		return nil, errors.New("maventa: New: operator authentication needs OperatorID and OperatorSecret")
	}
	ax, err := normalizeBase(cfg.AXBaseURL)
	if err != nil {
		return nil, fmt.Errorf("maventa: AXBaseURL: %w", err)
	}
	rec, err := normalizeBase(cfg.ReceivablesBaseURL)
	if err != nil {
		return nil, fmt.Errorf("maventa: ReceivablesBaseURL: %w", err)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		tr := cfg.Transport
		if tr == nil {
			tr = http.DefaultTransport.(*http.Transport).Clone()
		}
		hc = &http.Client{Transport: tr}
	}
	return &Client{
		cfg:             cfg,
		creds:           creds,
		logger:          logger,
		httpClient:      hc,
		axBase:          ax,
		receivablesBase: rec,
		budgets:         map[string]*budget{},
		axHost:          hostOf(ax),
		now:             cfg.Clock,
		sleep:           sleepCtx,
	}, nil
}

// normalizeBase checks a base URL and strips its trailing slash.
func normalizeBase(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("invalid URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("URL %q must be absolute http(s)", u.Redacted())
	}
	return strings.TrimRight(s, "/"), nil
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// hostOf is the host (and port) of a checked base URL.
func hostOf(base string) string {
	u, _ := url.Parse(base)
	return u.Host
}

// request describes one logical API call (which may take several attempts).
type request struct {
	base   string // API base URL
	scope  string // OAuth2 scope
	method string
	path   string // escaped path, no query
	query  url.Values
	body   any // JSON encoded once, replayed on each attempt; nil: no body
	out    any // JSON decoded from a 2xx body; nil: body discarded
	// headerless is the pagination policy for lists without pagination headers.
	headerless headerlessPolicy
}

// do runs r for companyID with authentication, rate limiting and retries, and
// returns the final response headers.
func (c *Client) do(ctx context.Context, companyID string, r request) (http.Header, error) {
	var payload []byte
	if r.body != nil {
		var err error
		if payload, err = Marshal(r.body); err != nil {
			return nil, fmt.Errorf("maventa: %s %s: encode body: %w", r.method, r.path, err)
		}
	}
	key, cc, err := c.credentialsFor(companyID, r.scope)
	if err != nil {
		return nil, err
	}
	u := r.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	pu, err := url.Parse(u)
	if err != nil {
		return nil, fmt.Errorf("maventa: %s %s: %w", r.method, r.path, err)
	}

	start := c.now()
	var bo backoff.BackOff
	if c.cfg.MaxElapsed > 0 {
		eb := backoff.NewExponentialBackOff(
			backoff.WithInitialInterval(c.cfg.InitialBackoff),
			backoff.WithMaxInterval(c.cfg.MaxBackoff),
			backoff.WithMaxElapsedTime(c.cfg.MaxElapsed),
			backoff.WithRandomizationFactor(0.5),
			backoff.WithMultiplier(2),
		)
		bo = backoff.WithContext(eb, ctx)
	} else {
		bo = &backoff.StopBackOff{}
	}
	bo.Reset()

	reauthed := false
	for attempt := 1; ; attempt++ {
		tok, err := c.token(ctx, key, cc)
		var h http.Header
		if err == nil {
			h, err = c.attempt(ctx, pu, r, payload, tok.AccessToken, attempt)
			var ae *APIError
			if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized && !reauthed {
				// Expired or revoked token: one fresh token, one immediate retry.
				reauthed = true
				c.invalidate(key, tok)
				c.logger.InfoContext(ctx, "maventa token rejected, refreshing once", "method", r.method, "path", r.path)
				attempt--
				continue
			}
		}
		if err == nil {
			return h, nil
		}
		if cerr := ctx.Err(); cerr != nil {
			if errors.Is(err, cerr) {
				return nil, err
			}
			return nil, fmt.Errorf("%w (%w)", err, cerr)
		}
		if !IsRetryable(err) {
			return nil, err
		}
		if !idempotent(r.method) && !IsSafeToResend(err) {
			// Resending could apply a payment or credit note twice.
			return nil, err
		}
		wait := bo.NextBackOff()
		if wait == backoff.Stop {
			return nil, err
		}
		if ra, ok := RetryAfter(err); ok {
			wait = ra
		}
		if c.cfg.MaxElapsed > 0 && c.now().Sub(start)+wait > c.cfg.MaxElapsed {
			return nil, err
		}
		if dl, ok := ctx.Deadline(); ok && c.now().Add(wait).After(dl) {
			return nil, err
		}
		c.logger.InfoContext(ctx, "maventa request will be retried", "method", r.method, "path", r.path,
			"attempt", attempt, "wait", wait, "error", err)
		if serr := c.sleep(ctx, wait); serr != nil {
			return nil, fmt.Errorf("%w (gave up waiting to retry: %w)", err, serr)
		}
	}
}

// idempotent reports whether sending method twice has the effect of sending it once.
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// attempt sends one HTTP request and decodes its answer.
func (c *Client) attempt(ctx context.Context, u *url.URL, r request, payload []byte, accessToken string, attempt int) (http.Header, error) {
	if err := c.waitBudget(ctx, u.Host); err != nil {
		return nil, &TransportError{Method: r.method, Path: r.path, Err: err}
	}
	actx := ctx
	if c.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(actx, r.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("maventa: %s %s: %w", r.method, r.path, err)
	}
	if payload != nil {
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(payload)), nil }
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+accessToken)

	t0 := c.now()
	resp, err := c.httpClient.Do(req)
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	recordCall(ctx, r.method, r.path, status, c.now().Sub(t0))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		c.logger.WarnContext(ctx, "maventa request failed", "method", r.method, "path", r.path,
			"attempt", attempt, "error", err)
		return nil, &TransportError{Method: r.method, Path: r.path, Err: err}
	}
	defer resp.Body.Close()
	c.logger.DebugContext(ctx, "maventa request", "method", r.method, "path", r.path,
		"status", resp.StatusCode, "attempt", attempt, "duration", c.now().Sub(t0))

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		ae := newAPIError(r.method, r.path, resp.StatusCode, resp.Header, data, c.now())
		if resp.StatusCode == http.StatusTooManyRequests {
			// Maventa says the vendor asks too much: every caller of this
			// host slows down, not only this one.
			c.throttleHost(u.Host, ae.RetryAfter)
		}
		c.logger.WarnContext(ctx, "maventa request answered with error", "method", r.method, "path", r.path,
			"status", resp.StatusCode, "attempt", attempt, "code", ae.Code)
		return nil, ae
	}
	if r.out != nil && resp.StatusCode != http.StatusNoContent {
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
		if err != nil {
			return nil, &TransportError{Method: r.method, Path: r.path, Err: err}
		}
		if len(bytes.TrimSpace(data)) > 0 {
			if err := Unmarshal(data, r.out); err != nil {
				return nil, fmt.Errorf("maventa: %s %s: decode response: %w", r.method, r.path, err)
			}
		}
	} else {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBody))
	}
	return resp.Header, nil
}

// escape escapes one path segment (an id or business id).
func escape(s string) string { return url.PathEscape(s) }
