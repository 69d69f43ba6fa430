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
// divide the companies evenly (each holds companies / replicas, the last one
// to poll a company holding it): a company moves between replicas but is
// never polled by two at once. Then one replica dies (its NATS connection
// closes and its poller stops without releasing a lease, as a crashed
// process): every company it held must be polled again by a survivor within
// the dead replica's lease (LeaseTTL past the company's next poll, at most
// its ceiling away), still never by two at once, and the survivors share its
// companies evenly.
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
	// All but the last start together; whoever leases a company first polls
	// it, then the replicas above their share give companies to those below
	// (rebalance.go). The last one starts once every company is polled (a
	// scale-out): it gets its share from the others.
	start := func(rp *replica) {
		var rctx context.Context
		rctx, rp.cancel = context.WithCancel(ctx)
		go func() { defer close(rp.done); _ = rp.p.Run(rctx) }()
	}
	for _, rp := range replicas[:n-1] {
		start(rp)
	}
	defer func() {
		for _, rp := range replicas {
			if rp.cancel != nil {
				rp.cancel()
				<-rp.done
			}
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
	start(replicas[n-1])
	// byHolder divides the companies by the replica that polled each last.
	byHolder := func() map[string][]string {
		api.mu.Lock()
		defer api.mu.Unlock()
		out := map[string][]string{}
		for _, c := range companies {
			if ps := api.polls[c]; len(ps) > 0 {
				out[ps[len(ps)-1].holder] = append(out[ps[len(ps)-1].holder], c)
			}
		}
		return out
	}
	// even: each live replica holds companies / replicas, rounded down or
	// up (4 of 16 for 4, 5 or 6 for 3), so none is at 0.
	even := func(live []*replica) func() bool {
		return func() bool {
			by := byHolder()
			lo, hi := len(companies)/len(live), (len(companies)+len(live)-1)/len(live)
			for _, rp := range live {
				if n := len(by[rp.holder]); n < lo || n > hi {
					return false
				}
			}
			return true
		}
	}
	late := time.Now()
	natstest.WaitFor(t, 30*time.Second, "an even split with the late replica", even(replicas))
	split := func(by map[string][]string) []int {
		var out []int
		for _, rp := range replicas {
			out = append(out, len(by[rp.holder]))
		}
		return out
	}
	before := byHolder()
	t.Logf("split %v of %d companies %v after %s started", split(before), len(companies), time.Since(late).Round(time.Millisecond), replicas[n-1].holder)
	victim := replicas[0]

	// The victim crashes: connection gone first, so stopping its poller can
	// release nothing (Run's release on shutdown fails, as in a killed process).
	victim.b.NC.Close()
	victim.cancel()
	<-victim.done
	api.mu.Lock()
	lastByVictim := map[string]time.Time{}
	for _, c := range before[victim.holder] {
		for _, p := range api.polls[c] {
			if p.holder == victim.holder {
				lastByVictim[c] = p.at
			}
		}
	}
	api.mu.Unlock()
	killed := time.Now()
	natstest.WaitFor(t, 30*time.Second, "every company polled twice after the crash", polledTimes(2, killed))
	natstest.WaitFor(t, 30*time.Second, "an even split among the survivors", even(replicas[1:]))
	t.Logf("split %v after %s died, in %v", split(byHolder()), victim.holder, time.Since(killed).Round(time.Millisecond))

	api.mu.Lock()
	defer api.mu.Unlock()
	var slowest time.Duration
	for _, c := range companies {
		if slices.Contains(api.holders(c, killed), victim.holder) {
			t.Errorf("company %s polled by the dead %s", c[:9], victim.holder)
		}
		last, ok := lastByVictim[c]
		if !ok {
			continue
		}
		// The dead replica's lease ends LeaseTTL after the poll it missed,
		// which was due at most its ceiling (spread only early) after its last one.
		var first time.Time
		for _, p := range api.polls[c] {
			if p.at.After(last) {
				first = p.at
				break
			}
		}
		slowest = max(slowest, first.Sub(last))
		if bound := last.Add(ceiling + leaseTTL + grace); first.After(bound) {
			t.Errorf("company %s: survivor's first poll %v after the dead replica's last, want within its lease (ceiling + TTL = %v, + %v grace)",
				c[:9], first.Sub(last).Round(time.Millisecond), ceiling+leaseTTL, grace)
		}
	}
	taken := map[string]int{}
	for c := range lastByVictim {
		taken[api.holders(c, killed)[0]]++
	}
	t.Logf("%s died holding %d companies; taken over: %v; longest from its last poll to a survivor's: %v (lease: ceiling + TTL = %v)",
		victim.holder, len(lastByVictim), taken, slowest.Round(time.Millisecond), ceiling+leaseTTL)
	if api.overlaps != 0 {
		t.Errorf("%d polls overlapping another poll of the same company", api.overlaps)
	}
}
