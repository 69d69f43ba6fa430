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
		// AX: active 50 x (1/60 invoices + 2/3600 tokens); quiet 4950 x
		// (1/900 + 2/3600); no-rec 45000 x (1/3600 invoices + 1/3600 invoice
		// token + 1/86400 receivables token of the re-check) = 34.63 req/s.
		// Receivables: 50 x 2/60 + 4950 x 2/900 + 45000/86400 = 13.19.
		// Fit: 34.632 / 0.7 = 49.47 -> 49.5. Ceilings: tokens and invoices of
		// 14850/Q + 90000/N + 0.861 + 0.521 <= 7 at Q = 111m, N = 443m (15 and
		// 60 min scaled by 7.37, whole minutes; N = 442m gives 7.006).
		{"the old defaults (15m, 1h) at 50 000 companies", with(15*time.Minute, time.Hour), budget, vendor,
			[3]float64{50.0/60 + 100.0/3600, 4950.0/900 + 9900.0/3600, 45000.0/3600*2 + 45000.0/86400},
			[3]float64{100.0 / 60, 9900.0 / 900, 45000.0 / 86400},
			false, 49.5, 111 * time.Minute, 443 * time.Minute},
		// AX: 0.861 + 4950 x 3/3600 + 45000 x 3/86400 = 0.861 + 4.125 + 1.5625
		// = 6.55 of 7; Receivables: 1.667 + 2.75 + 0.521 = 4.94.
		{"the new defaults (1h, 24h) at 50 000 companies", with(time.Hour, 24*time.Hour), budget, vendor,
			[3]float64{50.0/60 + 100.0/3600, 4950.0 * 3 / 3600, 45000.0 * 3 / 86400},
			[3]float64{100.0 / 60, 9900.0 / 3600, 45000.0 / 86400},
			true, 9.4, time.Hour, 24 * time.Hour},
		// A no-receivables ceiling beyond the re-check is the re-check (its
		// next poll never goes past it).
		{"a no-receivables ceiling beyond the re-check counts as the re-check", with(time.Hour, 48*time.Hour), budget, Mix{NoReceivables: 86400},
			[3]float64{0, 0, 3}, [3]float64{0, 0, 1},
			true, 4.3, time.Hour, 48 * time.Hour},
		// Without the invoice fallback and message threads: active companies
		// ask /v1/events every minute (10/60) with one token an hour; the
		// no-receivables ones the re-check and its token only.
		{"no invoices, no messages", PollerConfig{Interval: time.Minute, QuietMax: time.Hour, NoReceivablesMax: 24 * time.Hour,
			NoReceivablesRecheck: 24 * time.Hour}, SizingBudget{RequestsPerSecond: 1, PollShare: 0.5}, Mix{Active: 10, NoReceivables: 8640},
			[3]float64{10.0 / 3600, 0, 0.1}, [3]float64{10.0 / 60, 0, 0.1},
			true, 0.6, time.Hour, 24 * time.Hour}, // (10/60 + 0.1) / 0.5 = 0.53
		// Nothing fits a budget of 1 request/s for the vendor: the active
		// tier alone needs more than 0.7 on Receivables.
		{"no ceilings fit when the active tier alone is too much", with(time.Hour, 24*time.Hour), SizingBudget{RequestsPerSecond: 1, PollShare: 0.7}, vendor,
			[3]float64{50.0/60 + 100.0/3600, 4950.0 * 3 / 3600, 45000.0 * 3 / 86400},
			[3]float64{100.0 / 60, 9900.0 / 3600, 45000.0 / 86400},
			false, 9.4, 0, 0},
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
	want := "polling needs 34.6 requests/s on the ax host, 495 % of its share (7.0): raise MAVENTA_REQUESTS_PER_SECOND from 10 to 49.5, " +
		"or POLL_QUIET_MAX to 1h51m0s and POLL_NO_RECEIVABLES_MAX to 7h23m0s"
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
	if n := len(logs.matching(slog.LevelInfo, "fits its share of the Maventa budget again")); n != 1 {
		t.Errorf("%d 'fits again' lines, want 1", n)
	}
	if st, _ := ReadSchedulerStatus(ctx, env.store.kv, cfg, clk.Now()); st.Replicas[0].Sizing != "" {
		t.Errorf("advice %q after the fix, want none", st.Replicas[0].Sizing)
	}
}
