package natsstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers"
	"github.com/maventa-bridge/maventa-events/consumers/natstest"
	"github.com/maventa-bridge/maventa-events/maventa"
)

// countingPolls is a PollAPI that answers every list with nothing and records
// the invoice polls of each company (which replica, when), and polls of one
// company in progress at once across replicas.
type countingPolls struct {
	consumers.PollAPI // nil: a company without the receivables service needs only the methods below

	mu       sync.Mutex
	polls    map[string][]poll // company -> its polls, in order
	inFlight map[string]int
	overlaps int
}

type poll struct {
	holder string
	at     time.Time
}

type replicaPolls struct {
	*countingPolls
	holder string
}

func (r replicaPolls) ListInvoices(ctx context.Context, c string, _ maventa.InvoiceQuery, _ maventa.PageOptions) (maventa.Page[maventa.Invoice], error) {
	r.mu.Lock()
	r.polls[c] = append(r.polls[c], poll{r.holder, time.Now()})
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

// holders lists who polled c (in order of first poll) at or after since.
func (a *countingPolls) holders(c string, since time.Time) []string {
	var out []string
	for _, p := range a.polls[c] {
		if !p.at.Before(since) && !slices.Contains(out, p.holder) {
			out = append(out, p.holder)
		}
	}
	return out
}

type companyList []string

func (l companyList) Companies() []string { return l }

// Replicas polling through one reconcile bucket on a 3-node JetStream cluster
// divide the companies: each is polled by one replica, never by two at once.
// Then the replica holding the most companies dies (its NATS connection
// closes and its poller stops without releasing a lease, as a crashed
// process): every company it held must be polled again by exactly one
// survivor within the dead replica's lease (LeaseTTL past the company's next
// poll, at most its ceiling away), and still never by two at once.
func TestReplicasDivideTheCompaniesOnACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	cluster := natstest.StartCluster(t, 3)
	for _, n := range []int{2, 4} {
		t.Run(fmt.Sprintf("%d replicas, one dies", n), func(t *testing.T) { replicasShareAndTakeOver(t, cluster, n) })
	}
}

func replicasShareAndTakeOver(t *testing.T, cluster *natstest.Cluster, n int) {
	ctx := context.Background()
	const (
		interval = 100 * time.Millisecond
		ceiling  = 300 * time.Millisecond // NoReceivablesMax: every company here answers 403 on /v1/events
		leaseTTL = 3 * time.Second
		// grace covers scheduling and NATS round trips on a loaded machine
		// (70 ms were seen); it stays well below LeaseTTL - ceiling, so a
		// takeover that waited a second lease period still fails.
		grace = time.Second
	)
	var companies companyList
	for i := range 4 * n {
		companies = append(companies, fmt.Sprintf("%04d-%04d-4bbb-8bbb-bbbbbbbbbbbb", n, i))
	}
	api := &countingPolls{polls: map[string][]poll{}, inFlight: map[string]int{}}
	urls := strings.Split(cluster.ClientURLs(), ",")
	type replica struct {
		holder string
		b      *Broker
		p      *consumers.Poller
		cancel context.CancelFunc
		done   chan struct{}
	}
	var replicas []*replica
	for i := range n {
		// Each replica has its own connection, to its own node of the cluster.
		b := connect(t, urls[i%len(urls)])
		pc := PipelineConfig{}
		kv, err := EnsurePipeline(ctx, b.JS, pc, quiet)
		if err != nil {
			t.Fatal(err)
		}
		state, err := EnsureReconcileStore(ctx, b.JS, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		rp := &replica{holder: fmt.Sprintf("replica-%d", i), b: b, done: make(chan struct{})}
		cfg := consumers.PollerConfig{Interval: interval, QuietMax: ceiling, NoReceivablesMax: ceiling, LeaseTTL: leaseTTL,
			Invoices: true, Holder: rp.holder}
		rp.p = consumers.NewPoller(cfg, replicaPolls{api, rp.holder}, companies, state, NewKVRecords(kv), NewEmitter(b.JS, pc), quiet)
		replicas = append(replicas, rp)
	}
	// All start together: a replica started later finds every company leased
	// (a lease is renewed past each next poll) and gets none until one dies.
	for _, rp := range replicas {
		var rctx context.Context
		rctx, rp.cancel = context.WithCancel(ctx)
		go func() { defer close(rp.done); _ = rp.p.Run(rctx) }()
	}
	defer func() {
		for _, rp := range replicas {
			rp.cancel()
			<-rp.done
		}
	}()
	polledTimes := func(k int, since time.Time) func() bool {
		return func() bool {
			api.mu.Lock()
			defer api.mu.Unlock()
			for _, c := range companies {
				m := 0
				for _, p := range api.polls[c] {
					if !p.at.Before(since) {
						m++
					}
				}
				if m < k {
					return false
				}
			}
			return true
		}
	}
	natstest.WaitFor(t, 30*time.Second, "every company polled 3 times", polledTimes(3, time.Time{}))

	// Divided: one replica per company.
	api.mu.Lock()
	byHolder := map[string][]string{}
	for _, c := range companies {
		hs := api.holders(c, time.Time{})
		if len(hs) != 1 {
			t.Errorf("company %s polled by %v, want one replica", c[:9], hs)
			continue
		}
		byHolder[hs[0]] = append(byHolder[hs[0]], c)
	}
	api.mu.Unlock()
	victim := replicas[0]
	for _, rp := range replicas {
		t.Logf("%s polls %d of %d companies", rp.holder, len(byHolder[rp.holder]), len(companies))
		if len(byHolder[rp.holder]) > len(byHolder[victim.holder]) {
			victim = rp
		}
	}

	// The victim crashes: connection gone first, so stopping its poller can
	// release nothing (Run's release on shutdown fails, as in a killed process).
	victim.b.NC.Close()
	victim.cancel()
	<-victim.done
	api.mu.Lock()
	lastByVictim := map[string]time.Time{}
	for _, c := range byHolder[victim.holder] {
		for _, p := range api.polls[c] {
			if p.holder == victim.holder {
				lastByVictim[c] = p.at
			}
		}
	}
	api.mu.Unlock()
	killed := time.Now()
	natstest.WaitFor(t, 30*time.Second, "every company polled twice after the crash", polledTimes(2, killed))

	api.mu.Lock()
	defer api.mu.Unlock()
	var slowest time.Duration
	for _, c := range companies {
		after := api.holders(c, killed)
		switch {
		case slices.Contains(after, victim.holder):
			t.Errorf("company %s polled by the dead %s", c[:9], victim.holder)
		case len(after) != 1:
			t.Errorf("company %s polled by %v after the crash, want one survivor", c[:9], after)
		}
		last, ok := lastByVictim[c]
		if !ok {
			if !slices.Equal(after, api.holders(c, time.Time{})) {
				t.Errorf("company %s of a survivor moved to %v", c[:9], after)
			}
			continue
		}
		// The dead replica's lease ends LeaseTTL after the poll it missed,
		// which was due at most its ceiling (+10 % spread) after its last one.
		var first time.Time
		for _, p := range api.polls[c] {
			if p.holder != victim.holder {
				first = p.at
				break
			}
		}
		slowest = max(slowest, first.Sub(last))
		if bound := last.Add(ceiling*11/10 + leaseTTL + grace); first.After(bound) {
			t.Errorf("company %s: survivor's first poll %v after the dead replica's last, want within its lease (ceiling + TTL = %v, + %v grace)",
				c[:9], first.Sub(last).Round(time.Millisecond), ceiling*11/10+leaseTTL, grace)
		}
	}
	taken := map[string]int{}
	for c := range lastByVictim {
		taken[api.holders(c, killed)[0]]++
	}
	t.Logf("%s died holding %d companies; taken over: %v; longest from its last poll to a survivor's: %v (lease: ceiling + TTL = %v)",
		victim.holder, len(lastByVictim), taken, slowest.Round(time.Millisecond), ceiling*11/10+leaseTTL)
	if api.overlaps != 0 {
		t.Errorf("%d polls overlapping another poll of the same company", api.overlaps)
	}
}
