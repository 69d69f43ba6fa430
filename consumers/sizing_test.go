package consumers

import (
	"context"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/maventa"
	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

// The figures are computed by hand (see each case); the model must give them
// to 1e-6 requests per second.
func TestSizeAgainstHandComputedFigures(t *testing.T) {
	vendor := MixOf(50000, 0.1, 0.01) // 50 active, 4 950 quiet, 45 000 without receivables
	if vendor != (Mix{Active: 50, Quiet: 4950, NoReceivables: 45000}) {
		t.Fatalf("MixOf(50000, 0.1, 0.01) = %+v", vendor)
	}
	base := PollerConfig{Interval: time.Minute, NoReceivablesRecheck: 24 * time.Hour, Invoices: true, Messages: true}
	with := func(quiet, noRec time.Duration) PollerConfig {
		c := base
		c.QuietMax, c.NoReceivablesMax = quiet, noRec
		return c
	}
	budget := SizingBudget{RequestsPerSecond: 10, PollShare: 0.7}
	// Due times are spread up to 10 % early (spreadBy): a company is
	// polled every 0.95 x its delay on average, so every poll rate below is
	// multiplied by m; a token is fetched at most once an hour, so tokens of
	// companies polled more often than every 1h/0.95 are not.
	const m = 1 / spreadMean
	for _, tc := range []struct {
		name     string
		cfg      PollerConfig
		budget   SizingBudget
		mix      Mix
		ax, rec  [3]float64 // active, quiet, no_receivables
		fits     bool
		fitRPS   float64
		fitQuiet time.Duration
		fitNoRec time.Duration
	}{
		// AX: active 50 x (m/60 invoices + 2/3600 tokens); quiet 4950 x
		// (m/900 + 2/3600); no-rec 45000 x (m/3600 invoices + 1/3600 invoice
		// token (57 min apart: hourly) + m/86400 receivables token of the
		// re-check) = 35.7 req/s. Receivables: 50 x 2m/60 + 4950 x 2m/900 +
		// 45000 m/86400 = 13.9. Fit: 35.70 / 0.7 = 51.0. Ceilings: the model's
		// search (15 and 60 min scaled by one factor, whole minutes).
		{"the old defaults (15m, 1h) at 50 000 companies", with(15*time.Minute, time.Hour), budget, vendor,
			[3]float64{50.0*m/60 + 100.0/3600, 4950.0*m/900 + 9900.0/3600, 45000.0*m/3600 + 45000.0/3600 + 45000.0*m/86400},
			[3]float64{100.0 * m / 60, 9900.0 * m / 900, 45000.0 * m / 86400},
			false, 51, 118 * time.Minute, 473 * time.Minute},
		// AX: 0.905 + 4950 x (m + 2)/3600 + 45000 x 3m/86400 = 0.905 + 4.197 +
		// 1.645 = 6.75 of 7; Receivables: 1.754 + 2.895 + 0.548 = 5.20.
		{"the new defaults (1h, 24h) at 50 000 companies", with(time.Hour, 24*time.Hour), budget, vendor,
			[3]float64{50.0*m/60 + 100.0/3600, 4950.0 * (m + 2) / 3600, 45000.0 * 3 * m / 86400},
			[3]float64{100.0 * m / 60, 9900.0 * m / 3600, 45000.0 * m / 86400},
			true, 9.7, time.Hour, 24 * time.Hour},
		// A no-receivables ceiling beyond the re-check is the re-check (its
		// next poll never goes past it).
		{"a no-receivables ceiling beyond the re-check counts as the re-check", with(time.Hour, 48*time.Hour), budget, Mix{NoReceivables: 86400},
			[3]float64{0, 0, 3 * m}, [3]float64{0, 0, m},
			true, 4.6, time.Hour, 48 * time.Hour}, // 3m / 0.7 = 4.51
		// Without the invoice fallback and message threads: active companies
		// ask /v1/events every minute (10/60) with one token an hour; the
		// no-receivables ones the re-check and its token only.
		{"no invoices, no messages", PollerConfig{Interval: time.Minute, QuietMax: time.Hour, NoReceivablesMax: 24 * time.Hour,
			NoReceivablesRecheck: 24 * time.Hour}, SizingBudget{RequestsPerSecond: 1, PollShare: 0.5}, Mix{Active: 10, NoReceivables: 8640},
			[3]float64{10.0 / 3600, 0, 0.1 * m}, [3]float64{10.0 * m / 60, 0, 0.1 * m},
			true, 0.6, time.Hour, 24 * time.Hour}, // (10/60 + 0.1) m / 0.5 = 0.56
		// Nothing fits a budget of 1 request/s for the vendor: the active
		// tier alone needs more than 0.7 on Receivables.
		{"no ceilings fit when the active tier alone is too much", with(time.Hour, 24*time.Hour), SizingBudget{RequestsPerSecond: 1, PollShare: 0.7}, vendor,
			[3]float64{50.0*m/60 + 100.0/3600, 4950.0 * (m + 2) / 3600, 45000.0 * 3 * m / 86400},
			[3]float64{100.0 * m / 60, 9900.0 * m / 3600, 45000.0 * m / 86400},
			false, 9.7, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Size(tc.cfg, tc.budget, tc.mix)
			if len(s.Hosts) != 2 || s.Hosts[0].Host != HostAX || s.Hosts[1].Host != HostReceivables {
				t.Fatalf("hosts %+v", s.Hosts)
			}
			for i, want := range [][3]float64{tc.ax, tc.rec} {
				h := s.Hosts[i]
				sum := 0.0
				for j, tl := range h.Tiers {
					if tl.Tier != []Tier{TierActive, TierQuiet, TierNoReceivables}[j] || math.Abs(tl.PerSecond-want[j]) > 1e-6 {
						t.Errorf("%s %s: %.6f req/s, want %.6f", h.Host, tl.Tier, tl.PerSecond, want[j])
					}
					sum += want[j]
				}
				budget := tc.budget.RequestsPerSecond * tc.budget.PollShare
				if math.Abs(h.PerSecond-sum) > 1e-6 || h.Budget != budget || math.Abs(h.Share-sum/budget) > 1e-9 {
					t.Errorf("%s: %.6f req/s of %.2f (%.4f), want %.6f of %.2f", h.Host, h.PerSecond, h.Budget, h.Share, sum, budget)
				}
			}
			if s.Fits != tc.fits || s.FitRequestsPerSecond != tc.fitRPS || s.FitQuietMax != tc.fitQuiet || s.FitNoReceivablesMax != tc.fitNoRec {
				t.Errorf("fits %v, at %v req/s or ceilings %v/%v; want %v, %v, %v/%v", s.Fits, s.FitRequestsPerSecond, s.FitQuietMax,
					s.FitNoReceivablesMax, tc.fits, tc.fitRPS, tc.fitQuiet, tc.fitNoRec)
			}
			if (s.Advice() == "") != tc.fits {
				t.Errorf("advice %q with fits %v", s.Advice(), s.Fits)
			}
		})
	}
}

func TestTheAdviceNamesTheOptionsAndByHowMuch(t *testing.T) {
	cfg := PollerConfig{Interval: time.Minute, QuietMax: 15 * time.Minute, NoReceivablesMax: time.Hour, Invoices: true, Messages: true}
	got := Size(cfg, SizingBudget{RequestsPerSecond: 10, PollShare: 0.7}, MixOf(50000, 0.1, 0.01)).Advice()
	want := "polling needs 35.7 requests/s on the ax host, 509 % of its share (7.0): raise MAVENTA_REQUESTS_PER_SECOND from 10 to 51, " +
		"or POLL_QUIET_MAX to 1h58m0s and POLL_NO_RECEIVABLES_MAX to 7h53m0s"
	if got != want {
		t.Errorf("advice\n got %q\nwant %q", got, want)
	}
}

// The defaults are sized for the product's vendor (50 000 companies, 10 % with
// receivables, 1 % of those active, 10 requests/s, polling <= 70 %).
func TestTheDefaultCeilingsFitTheProductsVendor(t *testing.T) {
	cfg := PollerConfig{Invoices: true, Messages: true}
	s := Size(cfg, SizingBudget{}, MixOf(50000, 0.1, 0.01))
	if !s.Fits || s.RequestsPerSecond != 10 || s.PollShare != 0.7 {
		t.Errorf("the defaults at 50 000 companies: %+v", s)
	}
	// A quarter of an hour less on the quiet ceiling would not fit AX.
	cfg.QuietMax = (DefaultQuietMaxIntervals - 15) * DefaultPollInterval
	if Size(cfg, SizingBudget{}, MixOf(50000, 0.1, 0.01)).Fits {
		t.Errorf("a quiet ceiling of %v fits too: the defaults leave budget unused", cfg.QuietMax)
	}
}

// logRecords keeps the records logged at Info and above.
type logRecords struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecords) Enabled(_ context.Context, lvl slog.Level) bool { return lvl >= slog.LevelInfo }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r)
	return nil
}
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecords) WithGroup(string) slog.Handler      { return l }

// matching is the messages logged at lvl that contain s.
func (l *logRecords) matching(lvl slog.Level, s string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.recs {
		if r.Level == lvl && strings.Contains(r.Message, s) {
			out = append(out, r.Message)
		}
	}
	return out
}

// Every interval the poller checks its real tier counts against its budget:
// one warning when polling stops fitting (not one per check), the advice in
// its budget report for `status`, and one line when it fits again.
func TestThePollerWarnsOnceWhenItsTiersNeedMoreThanItsShare(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)}
	env := newPollEnvWith(t, clk.Now,
		sandbox.Company{ID: pollCompanyA}, sandbox.Company{ID: pollCompanyN, NoReceivables: true})
	ctx := context.Background()
	logs := &logRecords{}
	// Two companies polled every minute (the quiet ceiling is the interval):
	// Receivables needs (2 + 1/1440) / 60 = 0.033 req/s, more than 70 % of 0.04.
	cfg := PollerConfig{Interval: time.Minute, QuietMax: time.Minute, Invoices: true, Messages: true, Now: clk.Now,
		Budget:  SizingBudget{RequestsPerSecond: 0.04, PollShare: 0.7},
		Budgets: func() []maventa.BudgetStat { return nil }}
	p := NewPoller(cfg, env.client, env.creds, env.store.kv, env.facts, env.em, slog.New(logs))
	var r budgetReporter
	p.reportBudget(ctx, &r) // nothing polled yet: every company is new, nothing to size
	for range 4 {
		p.runDue(ctx)
		clk.Add(30 * time.Second)
	}
	for range 3 { // three intervals
		p.reportBudget(ctx, &r)
		clk.Add(time.Minute)
	}
	// The gauge's figures (maventa.reconcile.budget.need): Receivables
	// short (above 1), AX not.
	if need := p.needs(); need[HostReceivables] <= 1 || need[HostAX] <= 0 || need[HostAX] > 1 {
		t.Errorf("budget need %v, want receivables above 1, ax in (0, 1]", need)
	}
	warns := logs.matching(slog.LevelWarn, "polling needs more than its share")
	if len(warns) != 1 {
		t.Errorf("%d sizing warnings over three checks, want 1: %v", len(warns), warns)
	}
	st, err := ReadSchedulerStatus(ctx, env.store.kv, cfg, clk.Now())
	if err != nil || len(st.Replicas) != 1 || !strings.Contains(st.Replicas[0].Sizing, "raise MAVENTA_REQUESTS_PER_SECOND from 0.04 to 0.1") {
		t.Fatalf("replica reports %+v (%v), want the advice", st.Replicas, err)
	}
	// The operator's fix, seen by the next check.
	p.cfg.Budget.RequestsPerSecond = 10
	p.reportBudget(ctx, &r)
	p.reportBudget(ctx, &r)
	if need := p.needs(); need[HostReceivables] > 1 || need[HostReceivables] <= 0 {
		t.Errorf("budget need %v after the fix, want receivables in (0, 1]", need)
	}
	if n := len(logs.matching(slog.LevelInfo, "fits its share of the Maventa budget again")); n != 1 {
		t.Errorf("%d 'fits again' lines, want 1", n)
	}
	if st, _ := ReadSchedulerStatus(ctx, env.store.kv, cfg, clk.Now()); st.Replicas[0].Sizing != "" {
		t.Errorf("advice %q after the fix, want none", st.Replicas[0].Sizing)
	}
}
