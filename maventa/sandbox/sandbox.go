package sandbox

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Config configures a Sandbox. Every zero value is a safe, documented default.
type Config struct {
	// TokenLifetime is how long an issued access token is valid. Default 1h (Maventa's).
	TokenLifetime time.Duration
	// WebhookTimeout is how long one webhook POST may take before it counts as a
	// failure. Default 5s (Maventa's). It is divided by TimeScale, but never below
	// MinWebhookTimeout.
	WebhookTimeout time.Duration
	// MinWebhookTimeout is the floor of the scaled webhook timeout, so that loopback
	// deliveries still succeed at large time scales. Default 200ms.
	MinWebhookTimeout time.Duration
	// RetryInterval is the time between webhook attempts. Default 1h (Maventa's).
	RetryInterval time.Duration
	// RetryFor is how long a failing webhook is retried before it is dropped.
	// Default 24h, which with the default interval gives 1 + 24 attempts.
	RetryFor time.Duration
	// TimeScale divides RetryInterval, RetryFor and WebhookTimeout: 3600 makes an
	// hour a second. Default 1.0 (real time).
	TimeScale float64
	// Seed makes ids, fault decisions, webhook drops and scenarios deterministic.
	// Default 0 (which is a seed like any other).
	Seed uint64
	// Clock returns the current time. Default time.Now. Token expiry, timestamps and
	// due date checks use it; webhook retry timers run on the real clock (scaled).
	Clock func() time.Time
	// StrictActivation, when true, routes invoices through Amili Kassavirta only for
	// companies whose Amili service is active. Default false: every EUR invoice of
	// every company creates an assignment, which is what most tests want.
	StrictActivation bool
	// Logger receives the sandbox's logs. Default slog.Default().
	Logger *slog.Logger
	// HTTPClient sends webhooks. Default a client with no timeout of its own (the
	// per-attempt timeout is WebhookTimeout).
	HTTPClient *http.Client
	// WebhookLocation is the zone of webhook event_timestamp values. Default
	// Europe/Helsinki (Maventa writes "+02:00"), or UTC+2 if tzdata is missing.
	WebhookLocation *time.Location
}

// Company is a Maventa company account that can authenticate and own resources.
type Company struct {
	// ID is the company UUID (OAuth2 client_id).
	ID string `json:"id"`
	// APIKey is the company user's API key (OAuth2 client_secret).
	APIKey string `json:"api_key"`
	// VendorAPIKey is the partner key the company is linked to (vendor_api_key).
	VendorAPIKey string `json:"vendor_api_key"`
	// Name is the company's name, used as seen_by and in payloads.
	Name string `json:"name"`
	// BID is the company's business id.
	BID string `json:"bid"`
	// NoReceivables makes every Receivables route answer the company's
	// tokens 403, as Maventa does for a company without the receivables
	// service (e-invoicing only).
	NoReceivables bool `json:"no_receivables,omitempty"`
}

// Sandbox is the in-memory Maventa. All methods are safe for concurrent use.
type Sandbox struct {
	cfg Config
	log *slog.Logger

	mu  sync.Mutex
	rng *rand.Rand // ids; guarded by mu
	st  *store

	ctx    context.Context
	cancel context.CancelFunc
	wh     webhookState
	counts counters // requests per host (counting.go)
}

// New returns a Sandbox configured by cfg with no companies.
func New(cfg Config) *Sandbox {
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = time.Hour
	}
	if cfg.WebhookTimeout <= 0 {
		cfg.WebhookTimeout = 5 * time.Second
	}
	if cfg.MinWebhookTimeout <= 0 {
		cfg.MinWebhookTimeout = 200 * time.Millisecond
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = time.Hour
	}
	if cfg.RetryFor <= 0 {
		cfg.RetryFor = 24 * time.Hour
	}
	if cfg.TimeScale <= 0 {
		cfg.TimeScale = 1
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.WebhookLocation == nil {
		loc, err := time.LoadLocation("Europe/Helsinki")
		if err != nil {
			loc = time.FixedZone("EET", 2*3600)
		}
		cfg.WebhookLocation = loc
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sandbox{cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel}
	s.resetLocked()
	s.wh.init()
	return s
}

// Close stops pending webhook retries. The Sandbox must not be used afterwards.
func (s *Sandbox) Close() {
	s.cancel()
}

// Reset forgets every company, token, assignment, registration, fault and webhook
// record, and restarts the id sequence from the seed.
func (s *Sandbox) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
	s.wh.resetRecords()
}

func (s *Sandbox) resetLocked() {
	s.rng = rand.New(rand.NewPCG(s.cfg.Seed, 0x6d6176656e7461))
	s.st = newStore()
	s.st.tokenLifetime = s.cfg.TokenLifetime
}

// AddCompany registers c (replacing a company with the same ID). Empty fields get
// generated values; the completed company is returned.
func (s *Sandbox) AddCompany(c Company) Company {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addCompanyLocked(c)
}

func (s *Sandbox) addCompanyLocked(c Company) Company {
	if c.ID == "" {
		c.ID = s.newIDLocked()
	}
	if c.APIKey == "" {
		c.APIKey = "api-" + s.newIDLocked()
	}
	if c.VendorAPIKey == "" {
		c.VendorAPIKey = "vendor-" + s.newIDLocked()
	}
	if c.Name == "" {
		c.Name = "Company " + c.ID[:8]
	}
	cc := c
	s.st.companies[c.ID] = &cc
	if _, ok := s.st.companyOrder[c.ID]; !ok {
		s.st.companyOrder[c.ID] = len(s.st.companyOrder)
	}
	return c
}

// Companies returns every registered company in registration order.
func (s *Sandbox) Companies() []Company {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Company, len(s.st.companyOrder))
	for id, i := range s.st.companyOrder {
		out[i] = *s.st.companies[id]
	}
	return out
}

// now is the sandbox clock in UTC, truncated to seconds like Maventa's timestamps.
func (s *Sandbox) now() time.Time {
	return s.cfg.Clock().UTC().Truncate(time.Second)
}

// newIDLocked returns a UUID (v4 layout) drawn from the seeded generator, so
// that the same seed and the same calls give the same ids.
func (s *Sandbox) newIDLocked() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], s.rng.Uint64())
	binary.LittleEndian.PutUint64(b[8:], s.rng.Uint64())
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return uuid.UUID(b).String()
}

// scaled divides d by the configured TimeScale.
func (s *Sandbox) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) / s.cfg.TimeScale)
}

func (s *Sandbox) company(id string) (*Company, error) {
	c, ok := s.st.companies[id]
	if !ok {
		return nil, fmt.Errorf("company %s: %w", id, ErrNotFound)
	}
	return c, nil
}
