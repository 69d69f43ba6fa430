package consumers

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/maventa"
)

func TestTierTransitions(t *testing.T) {
	cfg := PollerConfig{Interval: time.Minute, Invoices: true, Messages: true}.withDefaults()
	t0 := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	forbidden := &maventa.APIError{Status: 403, Code: "forbidden"}
	unavailable := &maventa.APIError{Status: 503, Code: "unavailable"}
	limited := &maventa.APIError{Status: 429, Code: "rate_limited", RetryAfter: time.Hour}
	all := pollParts{events: true, invoices: true, messages: true}
	invoicesOnly := pollParts{invoices: true}
	for _, tc := range []struct {
		name   string
		st     schedState
		res    CompanyPoll
		parts  pollParts
		nudged bool
		want   schedState
	}{
		{"a new company with nothing new is quiet at the base interval",
			schedState{Tier: TierNew}, CompanyPoll{}, all, false,
			schedState{Tier: TierQuiet, Delay: time.Minute}},
		{"quiet doubles",
			schedState{Tier: TierQuiet, Delay: 4 * time.Minute}, CompanyPoll{}, all, false,
			schedState{Tier: TierQuiet, Delay: 8 * time.Minute}},
		{"quiet stops at its ceiling",
			schedState{Tier: TierQuiet, Delay: 8 * time.Minute}, CompanyPoll{}, all, false,
			schedState{Tier: TierQuiet, Delay: 15 * time.Minute}},
		{"new assignment events make a company active",
			schedState{Tier: TierQuiet, Delay: 15 * time.Minute}, CompanyPoll{Emitted: 2, EventsEmitted: 2}, all, false,
			schedState{Tier: TierActive, Delay: time.Minute, Changed: t0}},
		{"a webhook or command makes it active",
			schedState{Tier: TierQuiet, Delay: 15 * time.Minute}, CompanyPoll{}, all, true,
			schedState{Tier: TierActive, Delay: time.Minute, Changed: t0}},
		{"active stays active for ActiveFor",
			schedState{Tier: TierActive, Delay: time.Minute, Changed: t0.Add(-9 * time.Minute)}, CompanyPoll{}, all, false,
			schedState{Tier: TierActive, Delay: time.Minute, Changed: t0.Add(-9 * time.Minute)}},
		{"then backs off",
			schedState{Tier: TierActive, Delay: time.Minute, Changed: t0.Add(-10 * time.Minute)}, CompanyPoll{}, all, false,
			schedState{Tier: TierQuiet, Delay: 2 * time.Minute, Changed: t0.Add(-10 * time.Minute)}},
		{"403 on events: no receivables, events asked again in a day",
			schedState{Tier: TierNew}, CompanyPoll{EventsErr: forbidden}, all, false,
			schedState{Tier: TierNoReceivables, Delay: time.Minute, EventsAt: t0.Add(24 * time.Hour)}},
		{"no receivables: invoices back off to their own ceiling",
			schedState{Tier: TierNoReceivables, Delay: 32 * time.Minute, EventsAt: t0.Add(time.Hour)}, CompanyPoll{}, invoicesOnly, false,
			schedState{Tier: TierNoReceivables, Delay: time.Hour, EventsAt: t0.Add(time.Hour)}},
		{"no receivables: a new invoice status brings the base interval back",
			schedState{Tier: TierNoReceivables, Delay: time.Hour, EventsAt: t0.Add(time.Hour)}, CompanyPoll{Emitted: 1, InvoicesEmitted: 1}, invoicesOnly, false,
			schedState{Tier: TierNoReceivables, Delay: time.Minute, EventsAt: t0.Add(time.Hour), Changed: t0}},
		{"no receivables: the daily re-check finds the service activated",
			schedState{Tier: TierNoReceivables, Delay: time.Hour, EventsAt: t0}, CompanyPoll{}, all, false,
			schedState{Tier: TierQuiet, Delay: time.Minute}},
		{"a failure backs off from the base interval",
			schedState{Tier: TierQuiet, Delay: time.Minute}, CompanyPoll{EventsErr: unavailable}, all, false,
			schedState{Tier: TierQuiet, Delay: 2 * time.Minute, Fails: 1}},
		{"Retry-After wins over the backoff",
			schedState{Tier: TierActive, Delay: time.Minute, Changed: t0}, CompanyPoll{EventsErr: limited}, all, false,
			schedState{Tier: TierActive, Delay: time.Minute, Changed: t0, Fails: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := cfg.advance(tc.st, tc.res, tc.parts, tc.nudged, t0)
			wantNext := t0.Add(tc.want.Delay)
			switch {
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

func TestPartsFollowTheTier(t *testing.T) {
	cfg := PollerConfig{Invoices: true, Messages: true}.withDefaults()
	t0 := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		st   schedState
		want pollParts
	}{
		{"receivables: everything", schedState{Tier: TierQuiet}, pollParts{true, true, true}},
		{"no receivables: invoices only", schedState{Tier: TierNoReceivables, EventsAt: t0.Add(time.Second)}, pollParts{false, true, false}},
		{"no receivables, re-check due: events too", schedState{Tier: TierNoReceivables, EventsAt: t0}, pollParts{true, true, false}},
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
