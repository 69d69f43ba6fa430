package consumers

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/maventa"
)

func TestTierTransitions(t *testing.T) {
	cfg := PollerConfig{Interval: time.Minute, QuietMax: 15 * time.Minute, NoReceivablesMax: 24 * time.Hour,
		NoReceivablesRecheck: 24 * time.Hour, Invoices: true, Messages: true}.withDefaults()
	t0 := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	forbidden := &maventa.APIError{Status: 403, Code: "forbidden"}
	unavailable := &maventa.APIError{Status: 503, Code: "unavailable"}
	limited := &maventa.APIError{Status: 429, Code: "rate_limited", RetryAfter: time.Hour}
	all := pollParts{events: true, invoices: true, messages: true}
	invoicesOnly := pollParts{invoices: true}
	day := 24 * time.Hour
	for _, tc := range []struct {
		name   string
		st     schedState
		res    CompanyPoll
		parts  pollParts
		nudged bool
		want   schedState
		next   time.Duration // from t0; zero: want.Delay
	}{
		{"a new company with nothing new is quiet at the base interval",
			schedState{Tier: TierNew}, CompanyPoll{}, all, false,
			schedState{Tier: TierQuiet, Delay: time.Minute}, 0},
		{"quiet doubles",
			schedState{Tier: TierQuiet, Delay: 4 * time.Minute}, CompanyPoll{}, all, false,
			schedState{Tier: TierQuiet, Delay: 8 * time.Minute}, 0},
		{"quiet stops at its ceiling",
			schedState{Tier: TierQuiet, Delay: 8 * time.Minute}, CompanyPoll{}, all, false,
			schedState{Tier: TierQuiet, Delay: 15 * time.Minute}, 0},
		{"new assignment events make a company active",
			schedState{Tier: TierQuiet, Delay: 15 * time.Minute}, CompanyPoll{Emitted: 2, EventsEmitted: 2}, all, false,
			schedState{Tier: TierActive, Delay: time.Minute, Changed: t0}, 0},
		{"a webhook or command makes it active",
			schedState{Tier: TierQuiet, Delay: 15 * time.Minute}, CompanyPoll{}, all, true,
			schedState{Tier: TierActive, Delay: time.Minute, Changed: t0}, 0},
		{"active stays active for ActiveFor",
			schedState{Tier: TierActive, Delay: time.Minute, Changed: t0.Add(-9 * time.Minute)}, CompanyPoll{}, all, false,
			schedState{Tier: TierActive, Delay: time.Minute, Changed: t0.Add(-9 * time.Minute)}, 0},
		{"then backs off",
			schedState{Tier: TierActive, Delay: time.Minute, Changed: t0.Add(-10 * time.Minute)}, CompanyPoll{}, all, false,
			schedState{Tier: TierQuiet, Delay: 2 * time.Minute, Changed: t0.Add(-10 * time.Minute)}, 0},
		{"403 on events with nothing new: no receivables, straight to its ceiling, events asked again in a day",
			schedState{Tier: TierNew}, CompanyPoll{EventsErr: forbidden}, all, false,
			schedState{Tier: TierNoReceivables, Delay: day, EventsAt: t0.Add(day)}, 0},
		{"403 on events with invoices found: no receivables, at the base interval",
			schedState{Tier: TierNew}, CompanyPoll{EventsErr: forbidden, Emitted: 3, InvoicesEmitted: 3}, all, false,
			schedState{Tier: TierNoReceivables, Delay: time.Minute, EventsAt: t0.Add(day), Changed: t0}, 0},
		{"no receivables, nothing new: straight to the ceiling, not doubling",
			schedState{Tier: TierNoReceivables, Delay: time.Minute, EventsAt: t0.Add(day)}, CompanyPoll{}, invoicesOnly, false,
			schedState{Tier: TierNoReceivables, Delay: day, EventsAt: t0.Add(day)}, 0},
		{"no receivables, news minutes ago: doubles from the interval",
			schedState{Tier: TierNoReceivables, Delay: 2 * time.Minute, EventsAt: t0.Add(day), Changed: t0.Add(-3 * time.Minute)}, CompanyPoll{}, invoicesOnly, false,
			schedState{Tier: TierNoReceivables, Delay: 4 * time.Minute, EventsAt: t0.Add(day), Changed: t0.Add(-3 * time.Minute)}, 0},
		{"no receivables, news ActiveFor ago: to the ceiling",
			schedState{Tier: TierNoReceivables, Delay: 8 * time.Minute, EventsAt: t0.Add(day), Changed: t0.Add(-10 * time.Minute)}, CompanyPoll{}, invoicesOnly, false,
			schedState{Tier: TierNoReceivables, Delay: day, EventsAt: t0.Add(day), Changed: t0.Add(-10 * time.Minute)}, 0},
		{"no receivables: the next poll never goes past the re-check",
			schedState{Tier: TierNoReceivables, Delay: day, EventsAt: t0.Add(5 * time.Hour)}, CompanyPoll{}, invoicesOnly, false,
			schedState{Tier: TierNoReceivables, Delay: day, EventsAt: t0.Add(5 * time.Hour)}, 5 * time.Hour},
		{"no receivables: a new invoice status brings the base interval back",
			schedState{Tier: TierNoReceivables, Delay: day, EventsAt: t0.Add(time.Hour)}, CompanyPoll{Emitted: 1, InvoicesEmitted: 1}, invoicesOnly, false,
			schedState{Tier: TierNoReceivables, Delay: time.Minute, EventsAt: t0.Add(time.Hour), Changed: t0}, 0},
		{"no receivables: the daily re-check refused again is due in a day",
			schedState{Tier: TierNoReceivables, Delay: day, EventsAt: t0}, CompanyPoll{EventsErr: forbidden}, all, false,
			schedState{Tier: TierNoReceivables, Delay: day, EventsAt: t0.Add(day)}, 0},
		{"no receivables: the daily re-check finds the service activated",
			schedState{Tier: TierNoReceivables, Delay: day, EventsAt: t0}, CompanyPoll{}, all, false,
			schedState{Tier: TierQuiet, Delay: time.Minute}, 0},
		{"a failure backs off from the base interval",
			schedState{Tier: TierQuiet, Delay: time.Minute}, CompanyPoll{EventsErr: unavailable}, all, false,
			schedState{Tier: TierQuiet, Delay: 2 * time.Minute, Fails: 1}, 0},
		{"Retry-After wins over the backoff",
			schedState{Tier: TierActive, Delay: time.Minute, Changed: t0}, CompanyPoll{EventsErr: limited}, all, false,
			schedState{Tier: TierActive, Delay: time.Minute, Changed: t0, Fails: 1}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := cfg.advance(tc.st, tc.res, tc.parts, tc.nudged, t0)
			wantNext := t0.Add(tc.want.Delay)
			switch {
			case tc.next != 0:
				wantNext = t0.Add(tc.next)
			case tc.want.Fails > 0 && tc.res.EventsErr == limited:
				wantNext = t0.Add(time.Hour)
			case tc.want.Fails > 0:
				wantNext = t0.Add(cfg.Interval << tc.want.Fails)
			}
			tc.want.Last, tc.want.Next = t0, wantNext
			if got != tc.want {
				t.Errorf("advance:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// A company without receivables and with nothing new costs one invoice poll a
// day, and that poll does the daily /v1/events re-check, whichever way the
// ±10 % spread moves its due time; news brings the base interval back.
func TestANoReceivablesCompanyIsPolledOnceADayAndRechecksOnThatPoll(t *testing.T) {
	cfg := PollerConfig{Interval: time.Minute, Invoices: true, Messages: true,
		QuietMax: time.Hour, NoReceivablesMax: 24 * time.Hour, NoReceivablesRecheck: 24 * time.Hour}.withDefaults()
	forbidden := &maventa.APIError{Status: 403, Code: "forbidden"}
	t0 := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		spread float64 // of spreadBy: 0 is 10 % early, towards 1 on time
		news   time.Duration
		// polls and re-checks in the two days after the first poll (included)
		polls, rechecks int
	}{
		{"due times spread early", 0, 0, 3, 3},
		{"due times spread 5 % early", 0.5, 0, 3, 3},
		{"due times on time", 0.999, 0, 3, 3},
		// News at 30h (seen by every poll in its first minute): polls at
		// 30h, 30h + 57s (news again: the interval again), then + 1m54s,
		// 3m48s, 7m36s, 15m12s (doubling, 5 % early, while the news is under
		// ActiveFor old), then the ceiling, capped by the re-check due at
		// 46h48m (the first re-check was at 22h48m).
		{"news at 30h brings the interval back", 0.5, 30 * time.Hour, 3 + 6, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := schedState{Tier: TierNew}
			now := t0
			polls, rechecks := 0, 0
			var lastRecheck time.Time
			for !now.After(t0.Add(48 * time.Hour)) {
				parts := cfg.parts(st, now)
				res := CompanyPoll{}
				if parts.events {
					rechecks++
					res.EventsErr = forbidden
					if !lastRecheck.IsZero() {
						if gap := now.Sub(lastRecheck); gap < 20*time.Hour || gap > 27*time.Hour {
							t.Errorf("re-check %v after the previous one, want about a day", gap)
						}
					}
					lastRecheck = now
				}
				if parts.messages && st.Tier == TierNoReceivables {
					t.Errorf("poll at %v asks message threads of a company without receivables", now.Sub(t0))
				}
				if tc.news != 0 && !now.Before(t0.Add(tc.news)) && now.Before(t0.Add(tc.news+time.Minute)) {
					res.Emitted, res.InvoicesEmitted = 1, 1
				}
				polls++
				st = cfg.advance(st, res, parts, false, now)
				next := spreadBy(now, st.Next, tc.spread)
				if tc.news != 0 && now.Before(t0.Add(tc.news)) && next.After(t0.Add(tc.news)) {
					next = t0.Add(tc.news) // the news arrives (a nudge-free invoice status)
				}
				st.Next = next
				now = next
			}
			if polls != tc.polls || rechecks != tc.rechecks {
				t.Errorf("%d polls, %d re-checks in two days, want %d and %d", polls, rechecks, tc.polls, tc.rechecks)
			}
		})
	}
}

func TestPartsFollowTheTier(t *testing.T) {
	cfg := PollerConfig{Invoices: true, Messages: true}.withDefaults()
	t0 := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		st   schedState
		want pollParts
	}{
		{"receivables: everything", schedState{Tier: TierQuiet}, pollParts{true, true, true}},
		{"no receivables: invoices only", schedState{Tier: TierNoReceivables, EventsAt: t0.Add(cfg.recheckWindow() + time.Second)}, pollParts{false, true, false}},
		{"no receivables, re-check due: events too", schedState{Tier: TierNoReceivables, EventsAt: t0}, pollParts{true, true, false}},
		{"no receivables, re-check due within the spread: events too", schedState{Tier: TierNoReceivables, EventsAt: t0.Add(cfg.recheckWindow())}, pollParts{true, true, false}},
	} {
		if got := cfg.parts(tc.st, t0); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestSchedStateStaysUnderOneKilobyte(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	st := schedState{Tier: TierNoReceivables, Next: t0, Delay: 24 * time.Hour, Last: t0, Changed: t0, EventsAt: t0, Fails: 1 << 30}
	b, err := jsonMarshal(st)
	if err != nil || len(b) > 1024 {
		t.Fatalf("%d bytes (%v): %s", len(b), err, b)
	}
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// A spread due time comes 0 - 10 % early and never late, so a delay at its
// tier's ceiling never exceeds the ceiling (it was spread +-10 %, so a quiet
// company's facts could wait 66 minutes under a one-hour ceiling).
func TestSpreadNeverDelaysPastTheDelay(t *testing.T) {
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	for _, d := range []time.Duration{time.Second, time.Minute, time.Hour, 24 * time.Hour} {
		for _, r := range []float64{0, 0.25, 0.5, 0.75, 0.999999} {
			got := spreadBy(now, now.Add(d), r).Sub(now)
			if got > d || got < d*9/10 {
				t.Errorf("spreadBy(%v, r=%v) = %v, want within [%v, %v]", d, r, got, d*9/10, d)
			}
		}
	}
}

// A company found to have no receivables is first polled as such anywhere in
// its ceiling, so companies learnt together in a first pass do not come due
// together every day after; every other delay is spread 0 - 10 % early.
func TestANewlyFoundNoReceivablesCompanyIsSpreadOverItsWholeCeiling(t *testing.T) {
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	next := schedState{Tier: TierNoReceivables, Next: now.Add(day), EventsAt: now.Add(day)}
	for _, tc := range []struct {
		was      Tier
		r        float64
		min, max time.Duration
	}{
		{TierNew, 0, day / 20, day / 20},
		{TierNew, 0.5, day * 21 / 40, day * 21 / 40},
		{TierQuiet, 0.999999, day - time.Second, day},
		{TierNoReceivables, 0, day * 9 / 10, day * 9 / 10}, // already known: the usual spread
	} {
		got := spreadEntry(tc.was, next, now, tc.r).Sub(now)
		if got < tc.min || got > tc.max {
			t.Errorf("from %s, r=%v: due in %v, want within [%v, %v]", tc.was, tc.r, got, tc.min, tc.max)
		}
	}
	failing := next
	failing.Fails = 1
	if got := spreadEntry(TierNew, failing, now, 0).Sub(now); got != day*9/10 {
		t.Errorf("a failing company: due in %v, want the usual spread (%v)", got, day*9/10)
	}
}
