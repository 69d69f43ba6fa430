package consumers

import (
	"fmt"
	"math"
	"time"

	"github.com/maventa-bridge/maventa-events/maventa"
)

// The sizing model: how many requests per second polling needs on each Maventa
// host in steady state, for a PollerConfig and a mix of companies per tier,
// against the budget the client gives polling. One function (Size) serves the
// `sizing` command, the poller's check of its real tier counts every interval,
// and the example in docs/reconciliation.md.

// Hosts of the sizing model: AX serves sent invoices and every OAuth token,
// Receivables the assignment events and message threads.
const (
	HostAX          = "ax"
	HostReceivables = "receivables"
)

// DefaultTokenLifetime is how long a Maventa OAuth token lives.
const DefaultTokenLifetime = time.Hour

// SizingBudget is the request budget the model checks polling against.
type SizingBudget struct {
	// RequestsPerSecond is each host's budget (MAVENTA_REQUESTS_PER_SECOND).
	// Zero: maventa.DefaultRequestsPerSecond.
	RequestsPerSecond float64
	// PollShare is the part of it polling may use (MAVENTA_POLL_SHARE).
	// Zero: maventa.DefaultBackgroundShare.
	PollShare float64
	// TokenLifetime is how long a token lives: a company polled less often
	// pays one token request per scope and poll. Zero: DefaultTokenLifetime.
	TokenLifetime time.Duration
}

func (b SizingBudget) withDefaults() SizingBudget {
	if b.RequestsPerSecond <= 0 {
		b.RequestsPerSecond = maventa.DefaultRequestsPerSecond
	}
	if b.PollShare <= 0 || b.PollShare > 1 {
		b.PollShare = maventa.DefaultBackgroundShare
	}
	if b.TokenLifetime <= 0 {
		b.TokenLifetime = DefaultTokenLifetime
	}
	return b
}

// Mix is how many companies are in each tier (new ones are not: their first
// poll says which tier they are in).
type Mix struct {
	Active, Quiet, NoReceivables int
}

// MixOf is the mix of companies of which the share receivables has the
// receivables service and, of those, the share active is active at a time
// (both rounded to whole companies).
func MixOf(companies int, receivables, active float64) Mix {
	rec := int(math.Round(float64(companies) * receivables))
	act := int(math.Round(float64(rec) * active))
	return Mix{Active: act, Quiet: rec - act, NoReceivables: companies - rec}
}

// TierLoad is what one tier's companies need of one host.
type TierLoad struct {
	Tier      Tier    `json:"tier"`
	Companies int     `json:"companies"`
	PerSecond float64 `json:"requests_per_second"`
}

// HostLoad is what polling needs of one host.
type HostLoad struct {
	Host string `json:"host"`
	// PerSecond is the sum of Tiers' (active, quiet, no_receivables).
	PerSecond float64    `json:"requests_per_second"`
	Tiers     []TierLoad `json:"tiers"`
	// Budget is what polling may use: RequestsPerSecond x PollShare.
	Budget float64 `json:"poll_budget"`
	// Share is PerSecond / Budget (above 1: polling cannot keep the ceilings).
	Share float64 `json:"share_of_poll_budget"`
}

// Sizing is the model's answer for a configuration and a mix.
type Sizing struct {
	// RequestsPerSecond and PollShare are the budget sized against, the
	// durations the configuration's (its defaults applied).
	RequestsPerSecond    float64       `json:"requests_per_second"`
	PollShare            float64       `json:"poll_share"`
	Interval             time.Duration `json:"poll_interval"`
	QuietMax             time.Duration `json:"poll_quiet_max"`
	NoReceivablesMax     time.Duration `json:"poll_no_receivables_max"`
	NoReceivablesRecheck time.Duration `json:"poll_no_receivables_recheck"`
	Hosts                []HostLoad    `json:"hosts"` // AX, then Receivables
	// Fits: polling needs at most its share on every host.
	Fits bool `json:"fits"`
	// FitRequestsPerSecond is the least MAVENTA_REQUESTS_PER_SECOND that fits,
	// rounded up to a tenth.
	FitRequestsPerSecond float64 `json:"fit_requests_per_second"`
	// FitQuietMax and FitNoReceivablesMax are the least ceilings (both
	// scaled by one factor, whole intervals, at most the re-check) that fit at
	// RequestsPerSecond; zero when even ceilings of a re-check period do not.
	FitQuietMax         time.Duration `json:"fit_quiet_max"`
	FitNoReceivablesMax time.Duration `json:"fit_no_receivables_max"`
}

// Size is the steady-state request rate polling needs per host and tier, for
// cfg's ceilings, budget b and mix m. Per company and poll: an active or quiet
// company asks /v1/events and (Messages) its message threads on Receivables,
// and (Invoices) its sent invoices on AX; a no-receivables company asks its
// invoices on AX every min(NoReceivablesMax, NoReceivablesRecheck) (its next
// poll never goes past the re-check) and /v1/events once per re-check. Tokens
// go to AX: one per scope (receivables, invoices) and company every
// max(period, TokenLifetime). Each tier is taken at its ceiling (active: the
// interval); the doubling after news, pages beyond the first and the
// enrichment of what is found are not counted.
func Size(cfg PollerConfig, b SizingBudget, m Mix) Sizing {
	cfg, b = cfg.withDefaults(), b.withDefaults()
	s := Sizing{RequestsPerSecond: b.RequestsPerSecond, PollShare: b.PollShare, Interval: cfg.Interval, QuietMax: cfg.QuietMax,
		NoReceivablesMax: cfg.NoReceivablesMax, NoReceivablesRecheck: cfg.NoReceivablesRecheck, Hosts: load(cfg, b, m)}
	s.Fits = fits(s.Hosts)
	need := 0.0
	for _, h := range s.Hosts {
		need = max(need, h.PerSecond)
	}
	s.FitRequestsPerSecond = math.Ceil(need/b.PollShare*10-1e-9) / 10
	s.FitQuietMax, s.FitNoReceivablesMax = fitCeilings(cfg, b, m)
	return s
}

// load is the model proper.
func load(cfg PollerConfig, b SizingBudget, m Mix) []HostLoad {
	// A delay is spread 0 - 10 % early (spreadBy): polls come every
	// spreadMean x the delay on average. Tokens live TokenLifetime whatever
	// the spread.
	perSec := func(d time.Duration) float64 { return 1 / (spreadMean * d.Seconds()) }
	token := func(period time.Duration) float64 {
		return 1 / max(spreadMean*period.Seconds(), b.TokenLifetime.Seconds())
	}
	invoices, messages := 0.0, 0.0
	if cfg.Invoices {
		invoices = 1
	}
	if cfg.Messages {
		messages = 1
	}
	noRecPeriod := min(cfg.NoReceivablesMax, cfg.NoReceivablesRecheck)
	tiers := []struct {
		tier      Tier
		companies int
		ax, rec   float64 // per company per second
	}{
		{TierActive, m.Active,
			invoices*perSec(cfg.Interval) + (1+invoices)*token(cfg.Interval),
			(1 + messages) * perSec(cfg.Interval)},
		{TierQuiet, m.Quiet,
			invoices*perSec(cfg.QuietMax) + (1+invoices)*token(cfg.QuietMax),
			(1 + messages) * perSec(cfg.QuietMax)},
		{TierNoReceivables, m.NoReceivables,
			invoices*(perSec(noRecPeriod)+token(noRecPeriod)) + token(cfg.NoReceivablesRecheck),
			perSec(cfg.NoReceivablesRecheck)},
	}
	budget := b.RequestsPerSecond * b.PollShare
	ax := HostLoad{Host: HostAX, Budget: budget}
	rec := HostLoad{Host: HostReceivables, Budget: budget}
	for _, t := range tiers {
		n := float64(t.companies)
		ax.Tiers = append(ax.Tiers, TierLoad{Tier: t.tier, Companies: t.companies, PerSecond: n * t.ax})
		rec.Tiers = append(rec.Tiers, TierLoad{Tier: t.tier, Companies: t.companies, PerSecond: n * t.rec})
		ax.PerSecond += n * t.ax
		rec.PerSecond += n * t.rec
	}
	ax.Share, rec.Share = ax.PerSecond/budget, rec.PerSecond/budget
	return []HostLoad{ax, rec}
}

func fits(hosts []HostLoad) bool {
	for _, h := range hosts {
		if h.PerSecond > h.Budget*(1+1e-9) {
			return false
		}
	}
	return true
}

// fitCeilings scales QuietMax and NoReceivablesMax by the least factor (>= 1)
// at which polling fits, each rounded up to whole intervals and at most the
// re-check period; zeros when even that does not fit.
func fitCeilings(cfg PollerConfig, b SizingBudget, m Mix) (quiet, noRec time.Duration) {
	scaled := func(k float64) PollerConfig {
		c := cfg
		up := func(d time.Duration) time.Duration {
			n := math.Ceil(k*float64(d)/float64(cfg.Interval) - 1e-9)
			return min(time.Duration(n)*cfg.Interval, max(cfg.NoReceivablesRecheck, d))
		}
		c.QuietMax, c.NoReceivablesMax = up(cfg.QuietMax), up(cfg.NoReceivablesMax)
		return c
	}
	ok := func(k float64) bool { return fits(load(scaled(k), b, m)) }
	if ok(1) {
		return cfg.QuietMax, cfg.NoReceivablesMax
	}
	hi := float64(cfg.NoReceivablesRecheck) / float64(min(cfg.QuietMax, cfg.NoReceivablesMax))
	if hi <= 1 || !ok(hi) {
		return 0, 0
	}
	lo := 1.0
	for range 64 {
		mid := (lo + hi) / 2
		if ok(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	c := scaled(hi)
	return c.QuietMax, c.NoReceivablesMax
}

// FirstPass is how long polling n companies never polled before takes at
// polling's share of budget b: each first poll asks /v1/events and (Messages)
// its threads on Receivables, and on AX its sent invoices (Invoices) and a
// token per scope (receivables, invoices). The slower host sets the pace.
// Zero when the budget is unknown (RequestsPerSecond not set).
func FirstPass(cfg PollerConfig, b SizingBudget, n int) time.Duration {
	if b.RequestsPerSecond <= 0 || n <= 0 {
		return 0
	}
	cfg, b = cfg.withDefaults(), b.withDefaults()
	ax, rec := 1.0, 1.0 // the receivables token; /v1/events
	if cfg.Invoices {
		ax += 2 // the invoices token and the list
	}
	if cfg.Messages {
		rec++
	}
	perSecond := b.RequestsPerSecond * b.PollShare
	return time.Duration(float64(n) * max(ax, rec) / perSecond * float64(time.Second))
}

// Advice is one line saying what to change when polling does not fit ("" when
// it fits), naming the options, for logs and `status`.
func (s Sizing) Advice() string {
	if s.Fits {
		return ""
	}
	worst := s.Hosts[0]
	for _, h := range s.Hosts[1:] {
		if h.Share > worst.Share {
			worst = h
		}
	}
	line := fmt.Sprintf("polling needs %.1f requests/s on the %s host, %.0f %% of its share (%.1f): raise MAVENTA_REQUESTS_PER_SECOND from %g to %g",
		worst.PerSecond, worst.Host, 100*worst.Share, worst.Budget, s.RequestsPerSecond, s.FitRequestsPerSecond)
	if s.FitQuietMax > 0 {
		line += fmt.Sprintf(", or POLL_QUIET_MAX to %v and POLL_NO_RECEIVABLES_MAX to %v", s.FitQuietMax, s.FitNoReceivablesMax)
	}
	return line
}
