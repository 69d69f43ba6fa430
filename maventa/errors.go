package maventa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// APIError is a non-2xx answer from a Maventa API (or from its token endpoint).
//
// It keeps Maventa's documented error body {"code", "message", "details"} so callers
// can branch on Code, and the request's method and path (never the query string,
// never headers) so a log line says which call failed without leaking anything.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Code is Maventa's machine readable code, e.g. "invalid_credentials"; may be empty.
	Code string
	// Message is Maventa's human readable message, or the HTTP status text when absent.
	Message string
	// Details are Maventa's extra explanations, when given.
	Details []string
	// RetryAfter is the parsed Retry-After header; zero when absent.
	RetryAfter time.Duration
	// Method is the HTTP method of the failed request.
	Method string
	// Path is the URL path of the failed request, without query string.
	Path string
}

// Error describes the failure without any credential or token.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "maventa: %s %s: %d", e.Method, e.Path, e.Status)
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if len(e.Details) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(e.Details, "; "))
		b.WriteString(")")
	}
	return b.String()
}

// CodeInvalidCredentials is the error code Maventa answers for bad client credentials.
const CodeInvalidCredentials = "invalid_credentials"

// ErrNoCredentials is matched (errors.Is) by every NoCredentialsError.
var ErrNoCredentials = errors.New("maventa: no credentials for company")

// NoCredentialsError is returned when a company has no API key in the CredentialStore
// (and no operator credentials are configured), before any HTTP call is made.
type NoCredentialsError struct {
	// CompanyID is the company UUID that was looked up.
	CompanyID string
}

// Error names the company, never any secret.
func (e *NoCredentialsError) Error() string {
	return fmt.Sprintf("maventa: no credentials for company %q", e.CompanyID)
}

// Is makes errors.Is(err, ErrNoCredentials) true.
func (e *NoCredentialsError) Is(target error) bool { return target == ErrNoCredentials }

// TransportError is a request that got no HTTP answer (connection refused, reset,
// timeout). It replaces *url.Error so that the full URL, whose query string might
// one day carry something sensitive, never reaches an error string.
type TransportError struct {
	// Method is the HTTP method of the failed request.
	Method string
	// Path is the URL path of the failed request, without query string.
	Path string
	// Err is the underlying network error.
	Err error
}

// Error describes the failure by method and path only.
func (e *TransportError) Error() string {
	return fmt.Sprintf("maventa: %s %s: %v", e.Method, e.Path, e.Err)
}

// Unwrap returns the underlying network error.
func (e *TransportError) Unwrap() error { return e.Err }

// ValidationError is a request rejected by the client before any HTTP call,
// e.g. an assignment event type the company may not create.
type ValidationError struct {
	// Field is the offending field.
	Field string
	// Problem says what is wrong.
	Problem string
}

// Error describes the problem.
func (e *ValidationError) Error() string {
	return fmt.Sprintf("maventa: invalid %s: %s", e.Field, e.Problem)
}

// IsRetryable reports whether repeating the same request later may succeed:
// 408, 429, 500, 502, 503, 504, timeouts and connection errors.
// A cancelled context is never retryable.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		switch ae.Status {
		case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusRequestTimeout:
			return true
		}
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	var te *TransportError
	if errors.As(err, &te) {
		// Any other failure to get an answer (DNS, TLS handshake reset...) is
		// treated as transient; a malformed request would fail before the transport.
		var oe *net.OpError
		var de *net.DNSError
		return errors.As(err, &oe) || errors.As(err, &de)
	}
	return false
}

// IsSafeToResend reports whether a request that failed with err certainly was not
// applied by Maventa, so that a non-idempotent request (POST, PATCH: a paid or
// credit_note event, a message) may be sent again without risking a duplicate:
// Maventa refused it outright (429, 503), or the connection was never made. A
// timeout, a reset or a 502/504 may come after Maventa applied the request: those
// are not resent, and the caller sees the error (and decides, e.g. by reading
// the assignment's events before adding the event again).
func IsSafeToResend(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status == http.StatusTooManyRequests || ae.Status == http.StatusServiceUnavailable
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

// IsAuth reports whether err is an authentication or authorization failure:
// HTTP 401 or 403, or Maventa's invalid_credentials code.
func IsAuth(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	return ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden ||
		ae.Code == CodeInvalidCredentials
}

// IsNotFound reports whether Maventa answered 404.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// IsPermanent reports whether err will not go away by repeating the request:
// it is neither retryable nor a context cancellation or deadline.
func IsPermanent(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return !IsRetryable(err)
}

// RetryAfter returns how long Maventa asked the caller to wait (Retry-After header),
// and whether it asked at all.
func RetryAfter(err error) (time.Duration, bool) {
	var ae *APIError
	if errors.As(err, &ae) && ae.RetryAfter > 0 {
		return ae.RetryAfter, true
	}
	return 0, false
}

// parseRetryAfter reads a Retry-After header value as delay-seconds or an HTTP date
// (RFC 9110 section 10.2.3). Unparseable or past values give 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// errorBody is Maventa's documented error JSON.
type errorBody struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Details json.RawMessage `json:"details"`
	// Error and ErrorDescription cover RFC 6749 token endpoint errors.
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// newAPIError builds an APIError from a response's status, headers and body.
func newAPIError(method, path string, status int, h http.Header, body []byte, now time.Time) *APIError {
	e := &APIError{Status: status, Method: method, Path: path}
	if h != nil {
		e.RetryAfter = parseRetryAfter(h.Get("Retry-After"), now)
	}
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil {
		e.Code, e.Message = eb.Code, eb.Message
		if e.Code == "" {
			e.Code = eb.Error
		}
		if e.Message == "" {
			e.Message = eb.ErrorDescription
		}
		e.Details = parseDetails(eb.Details)
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// parseDetails accepts details as a list of strings, a single string, or any other
// JSON (kept as its text) since the format of details is not fully published.
func parseDetails(raw json.RawMessage) []string {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var anyList []json.RawMessage
	if json.Unmarshal(raw, &anyList) == nil {
		out := make([]string, 0, len(anyList))
		for _, r := range anyList {
			out = append(out, string(r))
		}
		return out
	}
	return []string{string(raw)}
}
