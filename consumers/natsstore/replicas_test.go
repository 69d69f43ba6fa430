package natsstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers"
	"github.com/maventa-bridge/maventa-events/consumers/natstest"
	"github.com/maventa-bridge/maventa-events/maventa"
)

// countingPolls is a PollAPI that answers every list with nothing and counts
// the invoice polls of each company per replica, and polls of one company in
// progress at once across replicas.
type countingPolls struct {
	consumers.PollAPI // nil: a company without the receivables service needs only the methods below

	mu       sync.Mutex
	byHolder map[string]map[string]int // holder -> company -> polls
	inFlight map[string]int
	overlaps int
}

type replicaPolls struct {
	*countingPolls
	holder string
}

func (r replicaPolls) ListInvoices(ctx context.Context, c string, _ maventa.InvoiceQuery, _ maventa.PageOptions) (maventa.Page[maventa.Invoice], error) {
	r.mu.Lock()
	r.byHolder[r.holder][c]++
	r.inFlight[c]++
	if r.inFlight[c] > 1 {
		r.overlaps++
	}
	r.mu.Unlock()
	defer func() { r.mu.Lock(); r.inFlight[c]--; r.mu.Unlock() }()
	return maventa.Page[maventa.Invoice]{}, nil
}

func (r replicaPolls) ListEvents(context.Context, string, maventa.EventQuery, maventa.PageOptions) (maventa.Page[maventa.Event], error) {
	return maventa.Page[maventa.Event]{}, &maventa.APIError{Status: 403, Code: "forbidden", Method: "GET", Path: "/v1"}
}

func (r replicaPolls) ListMessageThreads(context.Context, string, maventa.PageOptions) (maventa.Page[maventa.MessageThread], error) {
	return maventa.Page[maventa.MessageThread]{}, &maventa.APIError{Status: 403, Code: "forbidden", Method: "GET", Path: "/v1"}
}

type companyList []string

func (l companyList) Companies() []string { return l }

// Replicas polling through one reconcile bucket on a 3-node JetStream cluster
// divide the companies: each is polled by one replica, never by two at once.
// (consumers' TestReplicasDivideTheCompaniesAndTakeOverADeadOne covers the
// takeover of a dead replica's companies on the in-memory store.)
func TestReplicasDivideTheCompaniesOnACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	ctx := context.Background()
	b := connect(t, natstest.StartCluster(t, 3).ClientURLs())
	pc := PipelineConfig{}
	kv, err := EnsurePipeline(ctx, b.JS, pc, quiet)
	if err != nil {
		t.Fatal(err)
	}
	state, err := EnsureReconcileStore(ctx, b.JS, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	var companies companyList
	for i := range 12 {
		companies = append(companies, fmt.Sprintf("%04d-bbbb-4bbb-8bbb-bbbbbbbbbbbb", i))
	}
	api := &countingPolls{byHolder: map[string]map[string]int{}, inFlight: map[string]int{}}
	var wg sync.WaitGroup
	rctx, cancel := context.WithCancel(ctx)
	for i := range 3 {
		holder := fmt.Sprintf("replica-%d", i)
		api.byHolder[holder] = map[string]int{}
		cfg := consumers.PollerConfig{Interval: 50 * time.Millisecond, QuietMax: 200 * time.Millisecond, LeaseTTL: time.Second,
			NoReceivablesMax: 200 * time.Millisecond, Invoices: true, Holder: holder}
		p := consumers.NewPoller(cfg, replicaPolls{api, holder}, companies, state, NewKVRecords(kv), NewEmitter(b.JS, pc), quiet)
		wg.Add(1)
		go func() { defer wg.Done(); _ = p.Run(rctx) }()
	}
	natstest.WaitFor(t, 30*time.Second, "every company polled 3 times", func() bool {
		api.mu.Lock()
		defer api.mu.Unlock()
		for _, c := range companies {
			n := 0
			for _, polls := range api.byHolder {
				n += polls[c]
			}
			if n < 3 {
				return false
			}
		}
		return true
	})
	cancel()
	wg.Wait()
	for _, c := range companies {
		var holders []string
		for h, polls := range api.byHolder {
			if polls[c] > 0 {
				holders = append(holders, h)
			}
		}
		if len(holders) != 1 {
			t.Errorf("company %s polled by %v, want one replica", c[:4], holders)
		}
	}
	if api.overlaps != 0 {
		t.Errorf("%d polls overlapping another poll of the same company", api.overlaps)
	}
}
