package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/consumers"
	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/consumers/natstest"
)

func TestStatusOfARunningService(t *testing.T) {
	s := startService(t, map[string]string{"LOG_LEVEL": "info"})
	if code, _ := s.post(t, sampleWebhook); code != 200 {
		t.Fatal("post failed")
	}
	waitForEvents(t, s, 1)

	out, errOut, err := runCLI(t, nil, "status", "-nats-url", s.natsURL)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	for _, want := range []string{"STREAM", "MAVENTA_WEBHOOKS", "MAVENTA_QUARANTINE", "MAVENTA_DEADLETTER", "RECEIVABLES_EVENTS",
		"CONSUMER", "maventa-events-webhooks", "KV BUCKET", "MAVENTA_PROCESSED", "8d"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "KV_MAVENTA_PROCESSED") {
		t.Errorf("a bucket's backing stream is listed as a stream:\n%s", out)
	}

	out, _, err = runCLI(t, nil, "status", "-nats-url", s.natsURL, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep statusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json is not one JSON document: %v\n%s", err, out)
	}
	streams := map[string]natsstore.StreamStatus{}
	for _, st := range rep.Streams {
		streams[st.Name] = st
	}
	if w := streams["MAVENTA_WEBHOOKS"]; w.Messages != 1 || w.FirstTime == nil || w.Replicas != 1 {
		t.Errorf("MAVENTA_WEBHOOKS: %+v, want 1 message", w)
	}
	if e := streams["RECEIVABLES_EVENTS"]; e.Messages < 1 {
		t.Errorf("RECEIVABLES_EVENTS: %+v", e)
	}
	if q := streams["MAVENTA_QUARANTINE"]; q.FirstTime != nil || q.Messages != 0 {
		t.Errorf("empty quarantine: %+v", q)
	}
	var found bool
	for _, c := range rep.Consumers {
		if c.Stream == "MAVENTA_WEBHOOKS" && c.Name == "maventa-events-webhooks" {
			found = true
			if c.Pending != 0 || c.AckPending != 0 || c.LastActive == nil {
				t.Errorf("consumer after processing: %+v", c)
			}
		}
	}
	if !found {
		t.Errorf("consumer missing: %+v", rep.Consumers)
	}
	if len(rep.Buckets) == 0 || rep.Buckets[0].Name != "MAVENTA_PROCESSED" || rep.Buckets[0].Keys < 1 || rep.Buckets[0].TTLSeconds != (8*24*time.Hour).Seconds() {
		t.Errorf("buckets: %+v", rep.Buckets)
	}
	if rep.Reconciliation.Bucket != natsstore.ReconcileBucket || rep.Reconciliation.Companies == nil {
		t.Errorf("reconciliation: %+v", rep.Reconciliation)
	}
}

func TestStatusShowsReconciliationCursorsAndLeases(t *testing.T) {
	ctx := context.Background()
	ns := natstest.Start(t, "")
	b, err := natsstore.OpenBroker(ctx, natsstore.BrokerConfig{URL: ns.ClientURL()}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	t.Run("a missing bucket is tolerated", func(t *testing.T) {
		out, _, err := runCLI(t, nil, "status", "-nats-url", ns.ClientURL())
		if err != nil || !strings.Contains(out, "no MAVENTA_RECONCILE bucket") {
			t.Fatalf("%v\n%s", err, out)
		}
		out, _, err = runCLI(t, nil, "status", "-nats-url", ns.ClientURL(), "-json")
		var rep statusReport
		if err != nil || json.Unmarshal([]byte(out), &rep) != nil || rep.Reconciliation.Present {
			t.Fatalf("%v\n%s", err, out)
		}
	})
	kv, err := b.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: natsstore.ReconcileBucket})
	if err != nil {
		t.Fatal(err)
	}
	// Relative to the real clock, since the command reads it too.
	now := time.Now().UTC().Truncate(time.Second)
	ts := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	odd := "company/with.dots" // stored under its encoded key
	for k, v := range map[string]string{
		"cursor." + companyA: `{"after":"` + ts(-5*time.Minute) + `","updated_at":"` + ts(-30*time.Second) + `"}`,
		"lease." + companyA:  `{"holder":"pod-a/1234","expires":"` + ts(30*time.Second) + `"}`,
		"cursor." + companyB: `{"after":"` + now.Add(-26*time.Hour).In(time.FixedZone("EET", 2*3600)).Format(time.RFC3339) + `","updated_at":"` + ts(-25*time.Hour) + `"}`,
		"lease." + companyB:  `{"holder":"pod-b/99","expires":"` + ts(-time.Hour) + `"}`,
		"lease.x." + base64.RawURLEncoding.EncodeToString([]byte(odd)): `{"holder":"pod-c/1","expires":"0001-01-01T00:00:00Z"}`,
		"cursor.broken":              `not json`,
		"invoicescursor." + companyA: `{"after":"2020-01-01T00:00:00Z"}`, // another kind of cursor: not the poll lag
		"assignment.abc":             `{"whatever":1}`,
	} {
		if _, err := kv.PutString(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := reconcileState(ctx, b, now)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]consumers.CompanyState{}
	for _, c := range rs.Companies {
		got[c.CompanyID] = c
	}
	tests := []struct {
		name        string
		company     string
		lag         time.Duration
		holder      string
		expired     bool
		wantProblem string
	}{
		{"polled five minutes ago, lease held", companyA, 5 * time.Minute, "pod-a/1234", false, ""},
		{"a day behind (cursor in another zone), lease expired", companyB, 26 * time.Hour, "pod-b/99", true, ""},
		{"released lease of an encoded company id", odd, -1, "pod-c/1", true, ""},
		{"unreadable cursor is reported, not fatal", "broken", 0, "", false, "cursor unreadable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := got[tt.company]
			if !ok {
				t.Fatalf("no row for %s: %+v", tt.company, rs.Companies)
			}
			if tt.wantProblem != "" {
				if !strings.Contains(c.Problem, tt.wantProblem) {
					t.Fatalf("problem %q, want %q", c.Problem, tt.wantProblem)
				}
				return
			}
			if tt.lag < 0 { // no cursor yet
				if c.Cursor != nil || c.LagSeconds != nil || c.LeaseHolder != tt.holder || c.LeaseExpired != tt.expired || c.LeaseExpires != nil {
					t.Fatalf("row %+v", c)
				}
				return
			}
			if c.LagSeconds == nil || *c.LagSeconds != tt.lag.Seconds() || c.LeaseHolder != tt.holder || c.LeaseExpired != tt.expired || c.Cursor == nil || c.CursorUpdatedAt == nil {
				t.Fatalf("row %+v, want lag %s holder %s expired %v", c, tt.lag, tt.holder, tt.expired)
			}
		})
	}
	if !rs.Present || len(rs.Companies) != 4 {
		t.Fatalf("state: %+v", rs)
	}

	out, _, err := runCLI(t, nil, "status", "-nats-url", ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"RECONCILE COMPANY", companyA, "pod-a/1234", "pod-b/99", "(expired)", "released", odd, ts(-5 * time.Minute), " 5m", " 26h0m", "cursor unreadable"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	out, _, err = runCLI(t, nil, "status", "-nats-url", ns.ClientURL(), "-json")
	if err != nil || !json.Valid([]byte(out)) {
		t.Fatalf("status -json: %v\n%s", err, out)
	}
}

func TestStatusWithoutNATSSaysSo(t *testing.T) {
	ns := natstest.Start(t, "")
	url := ns.ClientURL()
	ns.Stop()
	_, _, err := runCLI(t, nil, "status", "-nats-url", url)
	if err == nil || !strings.Contains(err.Error(), "is the service running?") {
		t.Fatalf("got %v", err)
	}
}
