package maventa

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// grant is one request let through in a simulated run of a budget.
type grant struct {
	at         time.Time
	background bool
}

// runBudget drives a budget on a fake clock in 10 ms steps for d: each step
// priority callers ask for what they still need (prio per second), then
// background callers take whatever the budget lets them (unbounded demand).
func runBudget(b *budget, clk *time.Time, d time.Duration, prio float64) (gs []grant, prioAsked int) {
	start := *clk
	for *clk = start; clk.Sub(start) < d; *clk = clk.Add(10 * time.Millisecond) {
		want := int(prio * clk.Sub(start).Seconds())
		b.mu.Lock()
		for prioAsked < want {
			ok, _ := b.reserveLocked(*clk, false)
			if !ok {
				b.prioWaiting = 1 // it waits, so background must not go
				break
			}
			b.prioWaiting = 0
			gs = append(gs, grant{*clk, false})
			prioAsked++
		}
		for {
			ok, _ := b.reserveLocked(*clk, true)
			if !ok {
				break
			}
			gs = append(gs, grant{*clk, true})
		}
		b.mu.Unlock()
	}
	return gs, prioAsked
}

// maxPerSecond is the most grants (all, background) in any window of one second.
func maxPerSecond(gs []grant) (all, bg int) {
	for i := range gs {
		a, g := 0, 0
		for j := i; j < len(gs) && gs[j].at.Sub(gs[i].at) < time.Second; j++ {
			a++
			if gs[j].background {
				g++
			}
		}
		all, bg = max(all, a), max(bg, g)
	}
	return all, bg
}

func TestBudgetNeverLetsASecondExceedTheRateAndPollingKeepsItsShare(t *testing.T) {
	for _, tc := range []struct {
		name          string
		rate, prio    float64 // budget; priority demand per second
		wantMaxAll    int     // in any second
		wantMaxBg     int
		wantPrioShare float64 // of the priority demand served
	}{
		{"polling alone takes 70 %", 10, 0, 10, 7, 1},
		{"enrichment beside polling is fully served", 10, 3, 10, 7, 1},
		{"enrichment above the rest takes it from polling", 10, 8, 10, 7, 1},
		{"enrichment above the budget is served first", 10, 15, 10, 7, 0.6},
		{"a rate under one a second", 0.5, 0, 1, 1, 1},
		{"a large budget", 100, 20, 100, 70, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
			b := newBudget("h", tc.rate, 0.7, time.Minute, func() time.Time { return clk }, time.After)
			gs, asked := runBudget(b, &clk, 20*time.Second, tc.prio)
			all, bg := maxPerSecond(gs)
			if all > tc.wantMaxAll || bg > tc.wantMaxBg {
				t.Errorf("peaks of %d requests (%d background) in a second, want <= %d (%d)", all, bg, tc.wantMaxAll, tc.wantMaxBg)
			}
			prio := 0
			for _, g := range gs {
				if !g.background {
					prio++
				}
			}
			if want := int(tc.wantPrioShare*float64(asked)) - 1; prio < want {
				t.Errorf("priority served %d of %d asked, want >= %d", prio, asked, want)
			}
			// Nothing is wasted: the budget is used up to the rate (polling
			// demand is unbounded).
			if secs := 20.0; float64(len(gs)) < 0.65*tc.rate*secs && tc.rate >= 1 {
				t.Errorf("%d requests in %v s, want about %v", len(gs), secs, tc.rate*secs)
			}
		})
	}
}

func TestA429PausesForRetryAfterThenHalvesTheBudgetForTheCooldown(t *testing.T) {
	clk := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	b := newBudget("h", 10, 0.7, time.Minute, func() time.Time { return clk }, time.After)
	b.throttle(5 * time.Second)
	gs, _ := runBudget(b, &clk, 30*time.Second, 4)
	if len(gs) == 0 || gs[0].at.Sub(gs[0].at.Truncate(time.Hour)) < 5*time.Second {
		t.Fatalf("first request after the 429 at %v, want >= 5s (Retry-After)", gs[0].at)
	}
	if all, bg := maxPerSecond(gs); all > 5 || bg > 3 {
		t.Errorf("peaks of %d (%d background) while shrunk, want <= 5 (3)", all, bg)
	}
	if st := b.stat(); st.Limit != 5 {
		t.Errorf("limit %v while shrunk, want 5", st.Limit)
	}
	clk = clk.Add(time.Minute)
	if st := b.stat(); st.Limit != 10 || st.BackgroundLimit != 7 {
		t.Errorf("after the cooldown: %+v, want 10 and 7", st)
	}
}

func TestTokenRequestsAndBackgroundCallsCountAgainstTheHostBudget(t *testing.T) {
	f := newFake(t)
	f.handle("GET /v1/assignments/{id}", okAssignment)
	c, _, _ := testClient(t, f, func(cfg *Config) { cfg.RequestsPerSecond = 1000 })
	ctx := context.Background()
	if _, err := c.GetAssignment(WithBackground(ctx), testCompany, "a1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetAssignment(ctx, testCompany, "a1"); err != nil {
		t.Fatal(err)
	}
	st := c.Budgets()
	if len(st) != 1 {
		t.Fatalf("budgets %+v, want one host (AX and Receivables share the fake)", st)
	}
	// The token request was made for the first (background) call.
	if st[0].Background != 2 || st[0].Priority != 1 {
		t.Errorf("budget %+v, want 2 background (token, call) and 1 priority", st[0])
	}
}

func TestA429ShrinksTheBudgetForEveryCaller(t *testing.T) {
	f := newFake(t)
	n := 0
	f.handle("GET /v1/assignments/{id}", func(w http.ResponseWriter, r *http.Request) {
		n++
		if n == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		okAssignment(w, r)
	})
	c, _, _ := testClient(t, f, func(cfg *Config) { cfg.RequestsPerSecond = 1000 })
	if _, err := c.GetAssignment(context.Background(), testCompany, "a1"); err != nil {
		t.Fatal(err)
	}
	if st := c.Budgets(); len(st) != 1 || st[0].Limit != 500 {
		t.Fatalf("budget after a 429: %+v, want the limit halved to 500/s", st)
	}
}

func TestBackgroundShareOutsideItsRangeIsRefused(t *testing.T) {
	for _, v := range []float64{-0.1, 1.5} {
		if _, err := New(Config{BackgroundShare: v}, StaticCredentials(nil), nil); err == nil {
			t.Errorf("BackgroundShare %v accepted", v)
		}
	}
}
