package maventa

import (
	"net/http"
	"time"
)

// Default values used for zero Config fields.
const (
	// DefaultAXBaseURL is Maventa's production AutoXChange (AX) API host.
	DefaultAXBaseURL = "https://ax.maventa.com"
	// DefaultReceivablesBaseURL is the ASSUMED production Receivables API host: public
	// documentation only names https://receivables-stage.maventa.com (staging).
	DefaultReceivablesBaseURL = "https://receivables.maventa.com"
	// DefaultTimeout bounds one HTTP attempt.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxElapsed bounds the total time spent retrying one call.
	DefaultMaxElapsed = 2 * time.Minute
	// DefaultInitialBackoff is the first retry interval before jitter.
	DefaultInitialBackoff = 500 * time.Millisecond
	// DefaultMaxBackoff caps one retry interval.
	DefaultMaxBackoff = 30 * time.Second
	// DefaultRequestsPerSecond is the per-host request rate; Maventa publishes no limit.
	DefaultRequestsPerSecond = 10
	// DefaultBackgroundShare is the most of a host's budget polling may use.
	DefaultBackgroundShare = 0.7
	// DefaultThrottleCooldown is how long a 429 halves a host's budget.
	DefaultThrottleCooldown = time.Minute
	// DefaultTokenEarlyRefresh is how long before expiry a token is replaced.
	DefaultTokenEarlyRefresh = 2 * time.Minute
	// DefaultPerPage is the page size used for lists (Maventa's maximum).
	DefaultPerPage = 100
	// MaxPerPage is Maventa's largest accepted per_page.
	MaxPerPage = 100
)

// Config configures a Client. Every field's zero value is safe and documented.
type Config struct {
	// AXBaseURL is the AutoXChange API host, also serving POST /oauth2/token.
	// Zero: DefaultAXBaseURL (staging is https://ax-stage.maventa.com).
	AXBaseURL string
	// ReceivablesBaseURL is the Receivables API host. Zero: DefaultReceivablesBaseURL,
	// which is ASSUMED (staging is https://receivables-stage.maventa.com).
	ReceivablesBaseURL string
	// VendorAPIKey is the partner's vendor_api_key sent with every token request.
	// Zero: not sent (Maventa will then refuse company tokens).
	VendorAPIKey Secret

	// AuthMode chooses company credentials (from the CredentialStore, the zero value)
	// or operator credentials (OperatorID/OperatorSecret) for every call.
	AuthMode AuthMode
	// OperatorID is the operator's client_id, used when AuthMode is AuthOperator.
	OperatorID string
	// OperatorSecret is the operator's client_secret, used when AuthMode is AuthOperator.
	OperatorSecret Secret
	// Scopes are the OAuth2 scopes requested per API. Zero fields: see Scopes.
	Scopes Scopes
	// TokenEarlyRefresh is how long before its expiry a cached token is replaced.
	// Zero: DefaultTokenEarlyRefresh. Negative: use tokens until they expire.
	TokenEarlyRefresh time.Duration

	// HTTPClient sends every request, including token requests. Zero: a new
	// http.Client using Transport. Its Timeout should stay 0; use Timeout below.
	HTTPClient *http.Client
	// Transport is the RoundTripper of the default HTTPClient (wrap it with otelhttp
	// here). Ignored when HTTPClient is set. Zero: a clone of http.DefaultTransport.
	Transport http.RoundTripper
	// Timeout bounds a single HTTP attempt (token fetches included).
	// Zero: DefaultTimeout. Negative: no per-attempt bound (only ctx).
	Timeout time.Duration
	// MaxElapsed bounds the total time spent on one call including retries and
	// waits; a Retry-After beyond it ends the retries. Zero: DefaultMaxElapsed.
	// Negative: no retries at all.
	MaxElapsed time.Duration
	// InitialBackoff is the first retry interval (jittered ±50%, doubling).
	// Zero: DefaultInitialBackoff.
	InitialBackoff time.Duration
	// MaxBackoff caps a single retry interval. Zero: DefaultMaxBackoff.
	MaxBackoff time.Duration
	// RequestsPerSecond is the request budget per host, shared by every call
	// (token requests included): no second ever holds more than this many
	// requests. Zero: DefaultRequestsPerSecond. Negative: unlimited.
	RequestsPerSecond float64
	// BackgroundShare is the most of a host's budget that background calls
	// (WithBackground: reconciliation polling) may use; priority calls
	// (enrichment, commands) always go first. Zero: DefaultBackgroundShare.
	// Must be in (0, 1].
	BackgroundShare float64
	// ThrottleCooldown is how long a 429 from Maventa halves a host's budget
	// for every caller (each further 429 halves it again); nothing goes to the
	// host before the 429's Retry-After. Zero: DefaultThrottleCooldown.
	ThrottleCooldown time.Duration

	// Clock is the time of token expiry and of the request budget; After
	// waits on it. Zero: the wall clock (time.Now, time.After). A time-scaled
	// simulation sets both, so that "per second" means per simulated second.
	Clock func() time.Time
	After func(time.Duration) <-chan time.Time

	// Filters holds the unpublished query parameter names for list endpoints.
	// Zero fields: see Filters.
	Filters Filters
}

// AuthMode selects which credentials authenticate API calls.
type AuthMode int

const (
	// AuthCompany uses the company's UUID and user API key from the CredentialStore.
	AuthCompany AuthMode = iota
	// AuthOperator uses Config.OperatorID and Config.OperatorSecret for every company.
	// How an operator token addresses a given company is not published (ASSUMED:
	// the operator token is valid for the companies it operates).
	AuthOperator
)

// Scopes are the space separated OAuth2 scopes requested for each API. One token is
// cached per (company, scope), so APIs asking the same scope share a token.
// Maventa says company authentication "does not need" a scope, but the Receivables
// API is documented to require receivables:assignments, so scopes are always sent.
type Scopes struct {
	// Receivables is used for the Receivables API. Zero: "receivables:assignments"
	// (AuthOperator: "operator:receivables:assignments").
	Receivables string
	// Notifications is used for /v1/company/notifications. Zero:
	// "company:read company:write" (AuthOperator: "operator:notifications").
	Notifications string
	// Services is used for /v1|v2/services/... Zero: "company:read company:write"
	// (ASSUMED: services are company settings).
	Services string
	// Invoices is used for GET /v1/invoices and /v2/invoices/{id}/assignment.
	// Zero: "invoice:send invoice:receive" (ASSUMED).
	Invoices string
}

// Filters holds, in one place, the query parameter names of Maventa list endpoints
// that are not published. All defaults follow AX's documented naming
// (created_at_start/created_at_end...) and are ASSUMED for the Receivables API.
type Filters struct {
	// EventsCreatedStart filters GET /v1/events by earliest created_at. Zero: "created_at_start".
	EventsCreatedStart string
	// EventsCreatedEnd filters GET /v1/events by latest created_at. Zero: "created_at_end".
	EventsCreatedEnd string
	// EventsType filters GET /v1/events by event type. Zero: "type".
	EventsType string

	// AssignmentsCreatedStart filters GET /v1/assignments. Zero: "created_at_start".
	AssignmentsCreatedStart string
	// AssignmentsCreatedEnd filters GET /v1/assignments. Zero: "created_at_end".
	AssignmentsCreatedEnd string
	// AssignmentsUpdatedStart filters GET /v1/assignments. Zero: "updated_at_start".
	AssignmentsUpdatedStart string
	// AssignmentsUpdatedEnd filters GET /v1/assignments. Zero: "updated_at_end".
	AssignmentsUpdatedEnd string
	// AssignmentsClosedStart filters GET /v1/assignments. Zero: "closed_at_start".
	AssignmentsClosedStart string
	// AssignmentsClosedEnd filters GET /v1/assignments. Zero: "closed_at_end".
	AssignmentsClosedEnd string
	// AssignmentsDebtorName filters GET /v1/assignments. Zero: "debtor_name".
	AssignmentsDebtorName string
	// AssignmentsStatus filters GET /v1/assignments. Zero: "status".
	AssignmentsStatus string
	// AssignmentsInvoiceID filters GET /v1/assignments by the linked invoice
	// (reference_ids type invoice_id). Zero: "invoice_id".
	AssignmentsInvoiceID string

	// InvoicesDirection selects sent or received invoices in GET /v1/invoices.
	// Zero: "direction" (documented for RECEIVED).
	InvoicesDirection string
	// InvoicesUpdatedStart filters GET /v1/invoices by change time. Zero: "updated_at_start".
	InvoicesUpdatedStart string
	// InvoicesUpdatedEnd filters GET /v1/invoices by change time. Zero: "updated_at_end".
	InvoicesUpdatedEnd string

	// TimeLayout formats time filters (always in UTC). Zero: time.RFC3339.
	TimeLayout string
}

// withDefaults returns f with every empty field set to its default.
func (f Filters) withDefaults() Filters {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&f.EventsCreatedStart, "created_at_start")
	def(&f.EventsCreatedEnd, "created_at_end")
	def(&f.EventsType, "type")
	def(&f.AssignmentsCreatedStart, "created_at_start")
	def(&f.AssignmentsCreatedEnd, "created_at_end")
	def(&f.AssignmentsUpdatedStart, "updated_at_start")
	def(&f.AssignmentsUpdatedEnd, "updated_at_end")
	def(&f.AssignmentsClosedStart, "closed_at_start")
	def(&f.AssignmentsClosedEnd, "closed_at_end")
	def(&f.AssignmentsDebtorName, "debtor_name")
	def(&f.AssignmentsStatus, "status")
	def(&f.AssignmentsInvoiceID, "invoice_id")
	def(&f.InvoicesDirection, "direction")
	def(&f.InvoicesUpdatedStart, "updated_at_start")
	def(&f.InvoicesUpdatedEnd, "updated_at_end")
	def(&f.TimeLayout, time.RFC3339)
	return f
}

// withDefaults returns s with every empty scope set to the default for mode.
func (s Scopes) withDefaults(mode AuthMode) Scopes {
	def := func(p *string, company, operator string) {
		if *p != "" {
			return
		}
		if mode == AuthOperator {
			*p = operator
		} else {
			*p = company
		}
	}
	def(&s.Receivables, "receivables:assignments", "operator:receivables:assignments")
	def(&s.Notifications, "company:read company:write", "operator:notifications")
	def(&s.Services, "company:read company:write", "company:read company:write")
	def(&s.Invoices, "invoice:send invoice:receive", "invoice:send invoice:receive")
	return s
}

// withDefaults returns c with zero fields replaced by their documented defaults.
func (c Config) withDefaults() Config {
	if c.AXBaseURL == "" {
		c.AXBaseURL = DefaultAXBaseURL
	}
	if c.ReceivablesBaseURL == "" {
		c.ReceivablesBaseURL = DefaultReceivablesBaseURL
	}
	if c.TokenEarlyRefresh == 0 {
		c.TokenEarlyRefresh = DefaultTokenEarlyRefresh
	} else if c.TokenEarlyRefresh < 0 {
		c.TokenEarlyRefresh = 0
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxElapsed == 0 {
		c.MaxElapsed = DefaultMaxElapsed
	}
	if c.InitialBackoff <= 0 {
		c.InitialBackoff = DefaultInitialBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.RequestsPerSecond == 0 {
		c.RequestsPerSecond = DefaultRequestsPerSecond
	}
	if c.BackgroundShare == 0 {
		c.BackgroundShare = DefaultBackgroundShare
	}
	if c.ThrottleCooldown <= 0 {
		c.ThrottleCooldown = DefaultThrottleCooldown
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.After == nil {
		c.After = time.After
	}
	c.Scopes = c.Scopes.withDefaults(c.AuthMode)
	c.Filters = c.Filters.withDefaults()
	return c
}
