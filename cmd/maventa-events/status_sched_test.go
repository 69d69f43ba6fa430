package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/consumers"
	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/consumers/natstest"
)

func TestStatusShowsPollTiersAndBudgetUse(t *testing.T) {
	ctx := context.Background()
	ns := natstest.Start(t, "")
	b, err := natsstore.OpenBroker(ctx, natsstore.BrokerConfig{URL: ns.ClientURL()}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	kv, err := b.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: natsstore.ReconcileBucket})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	ago := func(d time.Duration) string { return now.Add(-d).Format(time.RFC3339Nano) }
	for k, v := range map[string]string{
		// Two quiet companies, one polled 5 minutes ago, one 2h10m ago
		// (beyond twice the 1h ceiling: overdue); one without receivables.
		"sched.c1": `{"tier":"quiet","last":"` + ago(5*time.Minute) + `"}`,
		"sched.c2": `{"tier":"quiet","last":"` + ago(130*time.Minute) + `"}`,
		"sched.c3": `{"tier":"no_receivables","last":"` + ago(10*time.Minute) + `"}`,
		"replica.pod-a": `{"holder":"pod-a","at":"` + ago(time.Second) + `","hosts":[{"host":"receivables.maventa.com","limit":10,"per_second":6.5,"background_per_second":6}],` +
			`"sizing":"polling needs 34.6 requests/s on the ax host, 495 % of its share (7.0): raise MAVENTA_REQUESTS_PER_SECOND from 10 to 49.5"}`,
	} {
		if _, err := kv.Put(ctx, k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, err := runCLI(t, nil, "status", "-nats-url", ns.ClientURL())
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	for _, want := range []string{"POLL TIER", "no_receivables", "receivables.maventa.com", "65 %",
		"pod-a: polling needs 34.6 requests/s on the ax host, 495 % of its share (7.0): raise MAVENTA_REQUESTS_PER_SECOND from 10 to 49.5\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	out, _, err = runCLI(t, nil, "status", "-nats-url", ns.ClientURL(), "-json")
	var rep statusReport
	if err != nil || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	tiers := map[consumers.Tier]consumers.TierSummary{}
	for _, ts := range rep.Scheduler.Tiers {
		tiers[ts.Tier] = ts
	}
	q := tiers[consumers.TierQuiet]
	if q.Companies != 2 || q.Overdue != 1 || q.CeilingSeconds != 3600 || q.LagMax < 7800 || q.LagMax > 7860 {
		t.Errorf("quiet tier %+v, want 2 companies, 1 overdue, ceiling 3600 s, max lag 2h10m", q)
	}
	if n := tiers[consumers.TierNoReceivables]; n.Companies != 1 || n.Overdue != 0 {
		t.Errorf("no_receivables tier %+v", n)
	}
	if len(rep.Scheduler.Replicas) != 1 || rep.Scheduler.Replicas[0].Hosts[0].PerSecond != 6.5 {
		t.Errorf("replicas %+v", rep.Scheduler.Replicas)
	}
}
