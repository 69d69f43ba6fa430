package natsstore

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers"
	"github.com/maventa-bridge/maventa-events/maventa"
	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

// BenchmarkPollerDrain loads the sandbox (zero latency) with 100 000 assignment
// events over 100 companies (10 assignments x 100 events each) and measures
// how fast polling drains them into domain events, and how many API calls it
// makes per company. "warm": the assignments were already known (announced by
// their invoice webhooks, the normal case); "cold": nothing was known, so each
// assignment is fetched once with its history.
//
//	go test -run XXX -bench PollerDrain -benchtime 1x ./consumers/natsstore/
func BenchmarkPollerDrain(b *testing.B) {
	for _, warm := range []bool{true, false} {
		b.Run(map[bool]string{true: "warm", false: "cold"}[warm], func(b *testing.B) {
			for range b.N {
				benchDrain(b, warm, 100, 10, 100)
			}
		})
	}
}

func benchDrain(b *testing.B, warm bool, companies, assignments, perAssignment int) {
	b.StopTimer()
	ctx := context.Background()
	sb := sandbox.New(sandbox.Config{Seed: 1})
	keys := map[string]string{}
	var ids []string
	for i := range companies {
		id := fmt.Sprintf("%08d-0000-4000-8000-000000000000", i)
		sb.AddCompany(sandbox.Company{ID: id, APIKey: "k" + id, VendorAPIKey: "v"})
		keys[id] = "k" + id
		ids = append(ids, id)
	}
	srv, err := sandbox.Start(sb)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	creds := maventa.StaticCredentials(keys)
	client, err := maventa.New(maventa.Config{AXBaseURL: srv.AXURL, ReceivablesBaseURL: srv.ReceivablesURL,
		VendorAPIKey: maventa.NewSecret("v"), RequestsPerSecond: -1}, creds, quiet)
	if err != nil {
		b.Fatal(err)
	}
	nb, err := OpenBroker(ctx, BrokerConfig{DataDir: b.TempDir()}, quiet) // embedded, in-process
	if err != nil {
		b.Fatal(err)
	}
	defer nb.Close()
	pc := PipelineConfig{}
	kv, err := EnsurePipeline(ctx, nb.JS, pc, quiet)
	if err != nil {
		b.Fatal(err)
	}
	store, err := EnsureReconcileStore(ctx, nb.JS, 1, 0)
	if err != nil {
		b.Fatal(err)
	}
	em := NewEmitter(nb.JS, pc)
	p := consumers.NewPoller(consumers.PollerConfig{Concurrency: benchConcurrency}, client, creds, store, NewKVRecords(kv), em, quiet)

	var asg [][]string
	for _, c := range ids {
		var as []string
		for j := range assignments {
			r, err := sb.SendInvoice(c, sandbox.InvoiceSpec{Number: fmt.Sprint(j), Sum: sandbox.Amt("10.00"), RecipientName: "A",
				Street: "Katu 1", PostalCode: "00100", City: "Helsinki"})
			if err != nil {
				b.Fatal(err)
			}
			as = append(as, r.AssignmentID)
		}
		asg = append(asg, as)
	}
	if warm { // what the invoice webhooks would have done: the assignments are known
		drainAll(b, p, ids)
	}
	total := 0
	for ci := range ids {
		for _, a := range asg[ci] {
			n := perAssignment - 1 // plus the delivery_status of sending, when cold
			if warm {
				n = perAssignment
			}
			for range n {
				if _, err := sb.AddAgencyEvent(a, "comment", map[string]any{"comment": "x"}, time.Time{}); err != nil {
					b.Fatal(err)
				}
				total++
			}
		}
	}
	if !warm {
		total += companies * assignments // the delivery_status events too
	}
	calls0, emitted0 := p.Stats.APICalls.Load(), p.Stats.Emitted.Load()
	b.StartTimer()
	start := time.Now()
	drainAll(b, p, ids)
	elapsed := time.Since(start)
	b.StopTimer()
	calls := p.Stats.APICalls.Load() - calls0
	emitted := p.Stats.Emitted.Load() - emitted0
	perCompany := float64(total) / float64(companies)
	b.ReportMetric(float64(total)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(calls)/float64(companies), "calls/company")
	b.ReportMetric(math.Ceil(perCompany/100)+1, "target-calls/company")
	b.ReportMetric(float64(emitted), "emitted")
	b.Logf("%d assignment events over %d companies drained in %v (%.0f events/s), %d domain events emitted, %d API calls (%.1f per company; ceil(N/100)+1 = %.0f)",
		total, companies, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), emitted, calls, float64(calls)/float64(companies), math.Ceil(perCompany/100)+1)
}

// drainAll polls every company once, 8 at a time, as the poller's scheduler would.
func drainAll(b *testing.B, p *consumers.Poller, ids []string) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, benchConcurrency)
	for _, c := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := p.PollCompany(context.Background(), c, time.Time{}, true); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
}

// benchConcurrency is how many companies the benchmark polls at once.
const benchConcurrency = 8
