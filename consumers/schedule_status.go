package consumers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/maventa-bridge/maventa-events/maventa"
)

// What `maventa-events status` shows of the scheduler, read from the
// reconcile bucket (the same figures as the maventa.reconcile.* instruments,
// for every replica at once).

// TierSummary is one tier over every company in the bucket.
type TierSummary struct {
	Tier      Tier    `json:"tier"`
	Companies int     `json:"companies"`
	Overdue   int     `json:"overdue"` // lag beyond twice the tier's ceiling
	LagP50    float64 `json:"lag_p50_seconds"`
	LagP99    float64 `json:"lag_p99_seconds"`
	LagMax    float64 `json:"lag_max_seconds"`
	// CeilingSeconds is the tier's ceiling in cfg.
	CeilingSeconds float64 `json:"ceiling_seconds"`
}

// ReplicaBudget is a replica's Maventa budget use over its last report.
type ReplicaBudget struct {
	Holder string          `json:"holder"`
	At     time.Time       `json:"at"`
	Hosts  []HostBudgetUse `json:"hosts"`
	// Sizing is what the replica's sizing check advises ("" when polling
	// fits its share of the budget; see Size).
	Sizing string `json:"sizing,omitempty"`
}

// HostBudgetUse is one host's budget use by one replica.
type HostBudgetUse struct {
	Host string `json:"host"`
	// Limit is the requests per second allowed (shrunk after a 429).
	Limit float64 `json:"limit"`
	// PerSecond and BackgroundPerSecond are the requests per second let
	// through since the replica's previous report, all and polling's.
	PerSecond           float64 `json:"per_second"`
	BackgroundPerSecond float64 `json:"background_per_second"`
}

// SchedulerStatus is the scheduler's part of `status`.
type SchedulerStatus struct {
	Tiers    []TierSummary   `json:"tiers"`
	Replicas []ReplicaBudget `json:"replicas"`
}

// ReadSchedulerStatus summarises the bucket's scheduler states per tier (lag =
// now minus each company's last poll) and the replicas' budget reports; cfg
// gives the ceilings.
func ReadSchedulerStatus(ctx context.Context, st PollStore, cfg PollerConfig, now time.Time) (SchedulerStatus, error) {
	cfg = cfg.withDefaults()
	out := SchedulerStatus{Tiers: []TierSummary{}, Replicas: []ReplicaBudget{}}
	s := pollState{kv: st}
	states, err := s.schedStates(ctx)
	if err != nil {
		return out, err
	}
	lags := map[Tier][]float64{}
	for _, st := range states {
		if st.Last.IsZero() {
			continue // listed but never polled
		}
		lags[st.Tier] = append(lags[st.Tier], now.Sub(st.Last).Seconds())
	}
	for _, t := range Tiers {
		l := lags[t]
		if len(l) == 0 {
			continue
		}
		slices.Sort(l)
		ceiling := cfg.ceiling(t).Seconds()
		ts := TierSummary{Tier: t, Companies: len(l), LagP50: quantile(l, 0.5), LagP99: quantile(l, 0.99), LagMax: l[len(l)-1], CeilingSeconds: ceiling}
		for _, x := range l {
			if x > 2*ceiling {
				ts.Overdue++
			}
		}
		out.Tiers = append(out.Tiers, ts)
	}
	reps, err := s.replicaBudgets(ctx)
	if err != nil {
		return out, err
	}
	out.Replicas = reps
	return out, nil
}

// quantile of sorted values (nearest rank).
func quantile(sorted []float64, q float64) float64 {
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// budgetReporter turns a client's cumulative budget counters into rates.
type budgetReporter struct {
	prev   map[string]maventa.BudgetStat
	prevAt time.Time
}

func (r *budgetReporter) report(holder string, now time.Time, stats []maventa.BudgetStat) ReplicaBudget {
	rb := ReplicaBudget{Holder: holder, At: now, Hosts: []HostBudgetUse{}}
	secs := now.Sub(r.prevAt).Seconds()
	for _, b := range stats {
		h := HostBudgetUse{Host: b.Host, Limit: b.Limit}
		if p, ok := r.prev[b.Host]; ok && secs > 0 {
			h.PerSecond = float64(b.Priority+b.Background-p.Priority-p.Background) / secs
			h.BackgroundPerSecond = float64(b.Background-p.Background) / secs
		}
		rb.Hosts = append(rb.Hosts, h)
	}
	r.prev = map[string]maventa.BudgetStat{}
	for _, b := range stats {
		r.prev[b.Host] = b
	}
	r.prevAt = now
	return rb
}

// saveReplicaBudget writes this replica's budget report (key replica.<holder>).
func (s pollState) saveReplicaBudget(ctx context.Context, rb ReplicaBudget) error {
	if err := s.putJSON(ctx, "replica."+kvKey(rb.Holder), rb); err != nil {
		return fmt.Errorf("replica budget: %w", err)
	}
	return nil
}

// replicaBudgets reads every replica's last budget report, by holder.
func (s pollState) replicaBudgets(ctx context.Context) ([]ReplicaBudget, error) {
	out, err := listJSON[ReplicaBudget](ctx, s, "replica.")
	if err != nil {
		return out, fmt.Errorf("read replica budgets: %w", err)
	}
	slices.SortFunc(out, func(a, b ReplicaBudget) int { return strings.Compare(a.Holder, b.Holder) })
	return out, nil
}
