package main

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/consumers"
	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/consumers/natstest"
	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

// TestTwoReplicasOnAThreeNodeClusterSurviveLosingANode is the deployment shape
// in small: a 3-node JetStream cluster with replicated (R3) streams, two service
// replicas each receiving webhooks and running the command consumer, one NATS
// node killed mid-run. Every domain event must arrive exactly once, and no
// company may ever be polled by two replicas at once.
func TestTwoReplicasOnAThreeNodeClusterSurviveLosingANode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	ctx := context.Background()
	cluster := natstest.StartCluster(t, 3)
	urls := cluster.ClientURLs()

	sb := sandbox.New(sandbox.Config{Seed: 21, TimeScale: 3600})
	companies := scenarioCompanies[:2]
	var creds []string
	for _, c := range companies {
		sb.AddCompany(c)
		creds = append(creds, c.ID+"="+c.APIKey)
	}
	srv, err := sandbox.Start(sb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	const leaseTTL = time.Second
	env := func(holder string) map[string]string {
		return map[string]string{
			"NATS_URL": urls, "STREAM_REPLICAS": "3", "POLL_HOLDER": holder,
			"MAVENTA_AX_URL": srv.AXURL, "MAVENTA_RECEIVABLES_URL": srv.ReceivablesURL, "MAVENTA_VENDOR_API_KEY": "vendor-key",
			"MAVENTA_COMPANY_CREDENTIALS": strings.Join(creds, ","), "MAVENTA_REQUESTS_PER_SECOND": "1000",
			"CONSUMER_RETRY_INITIAL": "10ms", "CONSUMER_RETRY_MAX": "200ms", "CONSUMER_MAX_DELIVER": "100",
			"POLL_INTERVAL": "100ms", "POLL_LEASE_TTL": leaseTTL.String(), "POLL_ERROR_BACKOFF_MAX": "300ms", "LOG_LEVEL": "warn",
			"COMMANDS_ENABLED": "true", // the default, said here: the command consumer runs beside the others
		}
	}
	a := startService(t, env("replica-a"))
	b := startService(t, env("replica-b"))
	a.natsURL, b.natsURL = urls, urls
	// Maventa reaches the replicas through a load balancer: here company 1's
	// webhooks go to replica A and company 2's to replica B.
	for i, s := range []*service{a, b} {
		if _, err := sb.RegisterWebhook(companies[i].ID, "WEBHOOK", s.url+"/webhooks/maventa?secret="+testSecret, []string{"DOCUMENTS.*.*"}, ""); err != nil {
			t.Fatal(err)
		}
	}
	violations := watchLeases(t, urls, leaseTTL)

	ids := []string{companies[0].ID, companies[1].ID}
	if _, err := sb.RunScenario(ctx, sandbox.ScenarioConfig{CompanyIDs: ids, InvoicesPerCompany: 4}); err != nil {
		t.Fatal(err)
	}
	cluster.Servers[1].Stop() // a NATS node dies mid-run
	seed := uint64(99)
	if _, err := sb.RunScenario(ctx, sandbox.ScenarioConfig{CompanyIDs: ids, InvoicesPerCompany: 4, Seed: &seed}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := sb.WaitWebhooks(wctx); err != nil {
		t.Fatal(err)
	}
	want := expectedEvents(t, srv, companies)
	got := waitForIDs(t, a, want)
	for id, n := range got {
		if n != 1 {
			t.Errorf("event %s stored %d times", id, n)
		}
		if _, ok := want[id]; !ok {
			t.Errorf("unexpected event %s", id)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d events stored, %d expected", len(got), len(want))
	}
	if v := violations(); len(v) > 0 {
		t.Fatalf("two pollers at once: %v", v)
	}
}

// watchLeases records every change of the poll leases and returns a function
// listing the changes of holder that happened while the previous holder's lease
// was still valid (and not released).
func watchLeases(t *testing.T, urls string, ttl time.Duration) func() []string {
	t.Helper()
	b, err := natsstore.OpenBroker(context.Background(), natsstore.BrokerConfig{URL: urls}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var kv jetstream.KeyValue
	// The service creates the bucket once its streams are ready.
	natstest.WaitFor(t, 30*time.Second, "the reconcile bucket exists", func() bool {
		kv, err = b.JS.KeyValue(ctx, natsstore.ReconcileBucket)
		return err == nil
	})
	w, err := kv.Watch(ctx, "lease.>")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var problems []string
	last := map[string]consumers.Lease{}
	go func() {
		for e := range w.Updates() {
			if e == nil {
				continue
			}
			var l consumers.Lease
			if json.Unmarshal(e.Value(), &l) != nil {
				continue
			}
			mu.Lock()
			prev, ok := last[e.Key()]
			acquired := l.Expires.Add(-ttl)
			if ok && prev.Holder != l.Holder && !prev.Expires.IsZero() && acquired.Before(prev.Expires) {
				problems = append(problems, e.Key()+": "+l.Holder+" took over from "+prev.Holder+" before its lease expired")
			}
			last[e.Key()] = l
			mu.Unlock()
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}
