package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers"
	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
)

// statusReport is everything 'status' shows, in one document.
type statusReport struct {
	Time           time.Time                  `json:"time"`
	Streams        []natsstore.StreamStatus   `json:"streams"`
	Consumers      []natsstore.ConsumerStatus `json:"consumers"`
	Buckets        []bucketStatus             `json:"kv_buckets"`
	Reconciliation reconcileStatus            `json:"reconciliation"`
	// Scheduler is the poll schedule per tier and the budget use per host.
	Scheduler consumers.SchedulerStatus `json:"scheduler"`
}

type bucketStatus struct {
	Name string `json:"name"`
	// Keys is the number of stored values: one per key with history 1, delete
	// markers included until they expire.
	Keys       uint64  `json:"keys"`
	Bytes      uint64  `json:"bytes"`
	TTL        string  `json:"ttl"` // "" when values never expire
	TTLSeconds float64 `json:"ttl_seconds"`
}

type reconcileStatus struct {
	Bucket    string                   `json:"bucket"`
	Present   bool                     `json:"present"`
	Companies []consumers.CompanyState `json:"companies"`
}

// status prints the state of every stream, consumer and KV bucket, and the
// reconciliation cursors and leases when that bucket exists. It only reads.
func status(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cli, err := newCLIFlags("status", getenv, stderr, "print one JSON document", true)
	if err != nil {
		return err
	}
	cfg, fs, natsURL, asJSON := cli.cfg, cli.fs, cli.natsURL, cli.asJSON
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("status: unexpected arguments: %v", fs.Args())
	}
	b, err := openCLIBroker(ctx, cfg, *natsURL, "maventa-events-status")
	if err != nil {
		return err
	}
	defer b.Close()
	rep, err := collectStatus(ctx, b, time.Now())
	if err != nil {
		return err
	}
	if rep.Scheduler, err = natsstore.ReadSchedulerStatus(ctx, b.JS, cfg.Poller, rep.Time); err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, rep)
	}
	return printStatus(stdout, rep)
}

// collectStatus reads the streams, consumers, buckets and reconciliation
// state through the NATS adapter.
func collectStatus(ctx context.Context, b *natsstore.Broker, now time.Time) (statusReport, error) {
	rep := statusReport{Time: now.UTC(), Buckets: []bucketStatus{}}
	var err error
	if rep.Streams, rep.Consumers, err = natsstore.ReadStreams(ctx, b.JS); err != nil {
		return rep, err
	}
	buckets, err := natsstore.ReadBuckets(ctx, b.JS)
	if err != nil {
		return rep, err
	}
	for _, b := range buckets {
		bs := bucketStatus{Name: b.Name, Keys: b.Keys, Bytes: b.Bytes, TTLSeconds: b.TTL.Seconds()}
		if b.TTL > 0 {
			bs.TTL = humanDuration(b.TTL)
		}
		rep.Buckets = append(rep.Buckets, bs)
	}
	rep.Reconciliation, err = reconcileState(ctx, b, now)
	return rep, err
}

// reconcileState reads the reconcile bucket's cursors and leases; Present is
// false when no replica has created it yet.
func reconcileState(ctx context.Context, b *natsstore.Broker, now time.Time) (reconcileStatus, error) {
	rs := reconcileStatus{Bucket: natsstore.ReconcileBucket, Companies: []consumers.CompanyState{}}
	st, ok, err := natsstore.OpenReconcileStore(ctx, b.JS)
	if err != nil || !ok {
		return rs, err
	}
	rs.Present = true
	if rs.Companies, err = consumers.ReadCompanyStates(ctx, st, now); err != nil {
		return rs, fmt.Errorf("read %s: %w", natsstore.ReconcileBucket, err)
	}
	return rs, nil
}

func printStatus(w io.Writer, rep statusReport) error {
	ts := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.Format(time.RFC3339)
	}
	// One table per section, so that each has its own column widths.
	table := func(header string, rows func(tw *tabwriter.Writer)) error {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, header)
		rows(tw)
		if err := tw.Flush(); err != nil {
			return err
		}
		_, err := fmt.Fprintln(w)
		return err
	}
	err := table("STREAM\tMESSAGES\tBYTES\tFIRST\tLAST\tREPLICAS", func(tw *tabwriter.Writer) {
		for _, s := range rep.Streams {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\n", s.Name, s.Messages, humanBytes(s.Bytes), ts(s.FirstTime), ts(s.LastTime), s.Replicas)
		}
	})
	if err != nil {
		return err
	}
	err = table("CONSUMER\tSTREAM\tPENDING\tACK PENDING\tREDELIVERED\tLAST ACTIVE", func(tw *tabwriter.Writer) {
		if len(rep.Consumers) == 0 {
			fmt.Fprintln(tw, "(none)")
		}
		for _, c := range rep.Consumers {
			last := "never"
			if c.LastActive != nil {
				last = c.LastActive.Format(time.RFC3339) + " (" + humanDuration(rep.Time.Sub(*c.LastActive).Truncate(time.Second)) + " ago)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", c.Name, c.Stream, c.Pending, c.AckPending, c.Redelivered, last)
		}
	})
	if err != nil {
		return err
	}
	err = table("KV BUCKET\tKEYS\tBYTES\tTTL", func(tw *tabwriter.Writer) {
		for _, b := range rep.Buckets {
			ttl := b.TTL
			if ttl == "" {
				ttl = "none"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", b.Name, b.Keys, humanBytes(b.Bytes), ttl)
		}
	})
	if err != nil {
		return err
	}
	if err := printScheduler(w, rep.Scheduler, rep.Time); err != nil {
		return err
	}
	rc := rep.Reconciliation
	if !rc.Present {
		_, err := fmt.Fprintf(w, "reconciliation: no %s bucket (not running yet)\n", rc.Bucket)
		return err
	}
	if len(rc.Companies) == 0 {
		_, err := fmt.Fprintf(w, "reconciliation: %s holds no cursors or leases yet\n", rc.Bucket)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RECONCILE COMPANY\tCURSOR\tPOLL LAG\tLEASE HOLDER\tLEASE EXPIRES\tPROBLEM")
	for _, c := range rc.Companies {
		lag := "-"
		if c.LagSeconds != nil {
			lag = humanDuration(time.Duration(*c.LagSeconds * float64(time.Second)).Truncate(time.Second))
		}
		holder, expires := c.LeaseHolder, ts(c.LeaseExpires)
		if holder == "" {
			holder = "-"
		}
		switch {
		case c.LeaseHolder != "" && c.LeaseExpires == nil:
			expires = "released"
		case c.LeaseExpired:
			expires += " (expired)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.CompanyID, ts(c.Cursor), lag, holder, expires, c.Problem)
	}
	return tw.Flush()
}

// humanDuration prints whole days as "7d" and the rest as Go durations.
func humanDuration(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// printScheduler prints the poll tiers and each replica's budget use.
func printScheduler(w io.Writer, s consumers.SchedulerStatus, now time.Time) error {
	if len(s.Tiers) == 0 && len(s.Replicas) == 0 {
		return nil
	}
	secs := func(f float64) string {
		return humanDuration(time.Duration(f * float64(time.Second)).Truncate(time.Second))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "POLL TIER\tCOMPANIES\tLAG P50\tLAG P99\tLAG MAX\tCEILING\tOVERDUE (> 2x CEILING)")
	for _, t := range s.Tiers {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%d\n", t.Tier, t.Companies, secs(t.LagP50), secs(t.LagP99), secs(t.LagMax), secs(t.CeilingSeconds), t.Overdue)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "MAVENTA HOST\tREPLICA\tREQ/S\tPOLLING REQ/S\tLIMIT\tUSE\tREPORTED")
	for _, r := range s.Replicas {
		for _, h := range r.Hosts {
			use := "-"
			if h.Limit > 0 {
				use = fmt.Sprintf("%.0f %%", 100*h.PerSecond/h.Limit)
			}
			fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%.1f\t%s\t%s ago\n", h.Host, r.Holder, h.PerSecond, h.BackgroundPerSecond, h.Limit, use,
				humanDuration(now.Sub(r.At).Truncate(time.Second)))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range s.Replicas {
		if r.Sizing != "" {
			fmt.Fprintf(w, "%s: %s\n", r.Holder, r.Sizing)
		}
	}
	_, err := fmt.Fprintln(w)
	return err
}
