package consumers

import (
	"context"
	"testing"
	"time"
)

func TestWhenAReplicaGivesACompanyUp(t *testing.T) {
	// 10 companies over 3 live replicas: a share is 3 or 4.
	sh := share{known: true, floor: 3, ceil: 4}
	for _, tc := range []struct {
		name           string
		held, minOther int
		unknown        bool
		want           int
	}{
		{"above ceil while another is below it: for one below ceil", 5, 3, false, 4},
		{"above ceil while another is below floor: for one below ceil first", 6, 0, false, 4},
		{"at ceil while another is below floor: for one below floor", 4, 2, false, 3},
		{"at ceil while the others are at floor: keeps it", 4, 3, false, 0},
		{"above ceil while the others are at ceil: keeps it (nobody may take it)", 5, 4, false, 0},
		{"at floor while another is at 0: keeps it (never below floor)", 3, 0, false, 0},
		{"no other live replica: keeps it", 10, -1, false, 0},
		{"share not read yet: keeps it", 10, 0, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := sh
			s.minOther, s.known = tc.minOther, !tc.unknown
			if got := s.giveBelow(tc.held); got != tc.want {
				t.Errorf("giveBelow(%d) with %+v = %d, want %d", tc.held, s, got, tc.want)
			}
		})
	}
}

// A lease given up goes to a replica under the bound it was given for: until
// LeaseTTL after its end the others leave it, then anyone takes it.
func TestALeaseGivenUpGoesToAReplicaUnderItsShareFirst(t *testing.T) {
	ctx := context.Background()
	st := pollState{kv: newMemRecords()}
	now := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	const ttl = 3 * time.Minute
	due := now.Add(time.Minute)
	if ok, _, err := st.tryLease(ctx, "c", "giver", now, ttl); !ok || err != nil {
		t.Fatalf("first lease: %v %v", ok, err)
	}
	if err := st.holdLease(ctx, "c", "giver", due, 3); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		at     time.Time
		holder string
		held   int
		want   bool
	}{
		{"before its end nobody takes it", due.Add(-time.Second), "taker", 0, false},
		{"at its end a replica at the bound leaves it", due, "other", 3, false},
		{"just before LeaseTTL after its end still", due.Add(ttl - time.Second), "other", 5, false},
		{"at its end a replica under the bound takes it", due, "taker", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, l, err := st.tryLeaseShare(ctx, "c", tc.holder, tc.at, ttl, tc.held)
			if err != nil || ok != tc.want {
				t.Fatalf("took it: %v (%v), want %v; lease %+v", ok, err, tc.want, l)
			}
		})
	}
	// Given up again, nobody under the bound: LeaseTTL after its end anyone
	// takes it, a replica above the bound included.
	if err := st.holdLease(ctx, "c", "taker", due.Add(time.Hour), 2); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := st.tryLeaseShare(ctx, "c", "other", due.Add(time.Hour+ttl), ttl, 9); !ok || err != nil {
		t.Errorf("LeaseTTL after the end of a lease given up a replica above the bound did not take it: %v %v", ok, err)
	}
}

// The live replicas are those whose count is at most 3 intervals old and
// not stopped; the share is the companies over them, rounded down and up.
func TestTheShareCountsTheLiveReplicasOnly(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	env := newPollEnv(t, clk.Now)
	now := clk.Now()
	var names companyNames
	for i := range 10 {
		names = append(names, string(rune('a'+i)))
	}
	for _, r := range []ShareReport{
		{Holder: "live", At: now.Add(-3 * time.Minute), Companies: 2},
		{Holder: "live-later-clock", At: now.Add(time.Second), Companies: 7},
		{Holder: "dead", At: now.Add(-3*time.Minute - time.Second), Companies: 0},
		{Holder: "stopped"},
		{Holder: "me", At: now.Add(-time.Hour), Companies: 0}, // its own old report does not count twice
	} {
		if err := env.store.saveShare(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	p := NewPoller(PollerConfig{Interval: time.Minute, Holder: "me", Now: clk.Now}, nil, names, env.store.kv, env.facts, env.em, quiet)
	p.syncCompanies(ctx, now)
	p.rebalance(ctx, now)
	if want := (share{known: true, floor: 3, ceil: 4, minOther: 2}); p.sched.share != want {
		t.Errorf("share %+v, want %+v (10 companies over me and 2 live replicas)", p.sched.share, want)
	}
	// Its own report is written, and zeroed when it stops.
	reps, err := env.store.shares(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range reps {
		found = found || r.Holder == "me" && r.At.Equal(now)
	}
	if !found {
		t.Errorf("reports %+v, want this replica's at %v", reps, now)
	}
	p.stopSharing(ctx)
	p.rebalance(ctx, now) // writes again; a stopped replica's other readers see the zero one
	p.stopSharing(ctx)
	reps, _ = env.store.shares(ctx)
	for _, r := range reps {
		if r.Holder == "me" && !r.At.IsZero() {
			t.Errorf("after stopping: %+v, want a zero time", r)
		}
	}
}
