package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/consumers"
	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
)

// statusReport is everything 'status' shows, in one document.
type statusReport struct {
	Time           time.Time        `json:"time"`
	Streams        []streamStatus   `json:"streams"`
	Consumers      []consumerStatus `json:"consumers"`
	Buckets        []bucketStatus   `json:"kv_buckets"`
	Reconciliation reconcileStatus  `json:"reconciliation"`
	// Scheduler is the poll schedule per tier and the budget use per host.
	Scheduler consumers.SchedulerStatus `json:"scheduler"`
}

type streamStatus struct {
	Name      string     `json:"name"`
	Messages  uint64     `json:"messages"`
	Bytes     uint64     `json:"bytes"`
	FirstTime *time.Time `json:"first_time"` // null when empty
	LastTime  *time.Time `json:"last_time"`
	Replicas  int        `json:"replicas"`
}

type consumerStatus struct {
	Stream      string     `json:"stream"`
	Name        string     `json:"name"`
	Pending     uint64     `json:"pending"`
	AckPending  int        `json:"ack_pending"`
	Redelivered int        `json:"redelivered"`
	LastActive  *time.Time `json:"last_active"` // last delivery; null when never
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
	Bucket    string             `json:"bucket"`
	Present   bool               `json:"present"`
	Companies []reconcileCompany `json:"companies"`
}

type reconcileCompany struct {
	CompanyID       string     `json:"company_id"`
	Cursor          *time.Time `json:"cursor"`            // changes up to here are polled
	CursorUpdatedAt *time.Time `json:"cursor_updated_at"` // when the poller last moved it
	LagSeconds      *float64   `json:"lag_seconds"`       // now - cursor
	LeaseHolder     string     `json:"lease_holder"`
	LeaseExpires    *time.Time `json:"lease_expires"`
	LeaseExpired    bool       `json:"lease_expired"`
	Problem         string     `json:"problem,omitempty"` // a value that could not be read
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
	rep, err := collectStatus(ctx, b.JS, time.Now())
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

func collectStatus(ctx context.Context, js jetstream.JetStream, now time.Time) (statusReport, error) {
	rep := statusReport{Time: now.UTC(), Streams: []streamStatus{}, Consumers: []consumerStatus{}, Buckets: []bucketStatus{},
		Reconciliation: reconcileStatus{Bucket: natsstore.ReconcileBucket, Companies: []reconcileCompany{}}}
	sl := js.ListStreams(ctx)
	var streams []*jetstream.StreamInfo
	for si := range sl.Info() {
		streams = append(streams, si)
	}
	if err := sl.Err(); err != nil {
		return rep, fmt.Errorf("list streams: %w", err)
	}
	slices.SortFunc(streams, func(a, b *jetstream.StreamInfo) int { return strings.Compare(a.Config.Name, b.Config.Name) })
	for _, si := range streams {
		if strings.HasPrefix(si.Config.Name, "KV_") {
			continue // a KV bucket's backing stream: shown as a bucket below
		}
		ss := streamStatus{Name: si.Config.Name, Messages: si.State.Msgs, Bytes: si.State.Bytes, Replicas: si.Config.Replicas}
		if si.State.Msgs > 0 {
			first, last := si.State.FirstTime.UTC(), si.State.LastTime.UTC()
			ss.FirstTime, ss.LastTime = &first, &last
		}
		rep.Streams = append(rep.Streams, ss)
		st, err := js.Stream(ctx, si.Config.Name)
		if err != nil {
			return rep, fmt.Errorf("stream %s: %w", si.Config.Name, err)
		}
		cl := st.ListConsumers(ctx)
		var cons []consumerStatus
		for ci := range cl.Info() {
			c := consumerStatus{Stream: ci.Stream, Name: ci.Name, Pending: ci.NumPending, AckPending: ci.NumAckPending, Redelivered: ci.NumRedelivered}
			if ci.Delivered.Last != nil {
				t := ci.Delivered.Last.UTC()
				c.LastActive = &t
			}
			cons = append(cons, c)
		}
		if err := cl.Err(); err != nil {
			return rep, fmt.Errorf("consumers of %s: %w", si.Config.Name, err)
		}
		slices.SortFunc(cons, func(a, b consumerStatus) int { return strings.Compare(a.Name, b.Name) })
		rep.Consumers = append(rep.Consumers, cons...)
	}

	kl := js.KeyValueStores(ctx)
	for kv := range kl.Status() {
		bs := bucketStatus{Name: kv.Bucket(), Keys: kv.Values(), Bytes: kv.Bytes(), TTLSeconds: kv.TTL().Seconds()}
		if kv.TTL() > 0 {
			bs.TTL = humanDuration(kv.TTL())
		}
		rep.Buckets = append(rep.Buckets, bs)
	}
	if err := kl.Error(); err != nil {
		return rep, fmt.Errorf("list kv buckets: %w", err)
	}
	slices.SortFunc(rep.Buckets, func(a, b bucketStatus) int { return strings.Compare(a.Name, b.Name) })

	rc, err := reconcileState(ctx, js, now)
	if err != nil {
		return rep, err
	}
	rep.Reconciliation = rc
	return rep, nil
}

// reconcileState reads the reconciliation bucket; a missing bucket is not an
// error (reconciliation not deployed yet), a value it cannot read is reported
// on its company's row.
func reconcileState(ctx context.Context, js jetstream.JetStream, now time.Time) (reconcileStatus, error) {
	rs := reconcileStatus{Bucket: natsstore.ReconcileBucket, Companies: []reconcileCompany{}}
	kv, err := js.KeyValue(ctx, natsstore.ReconcileBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return rs, nil
	}
	if err != nil {
		return rs, fmt.Errorf("kv bucket %s: %w", natsstore.ReconcileBucket, err)
	}
	rs.Present = true
	// Only the company cursors and leases: the bucket also caches per-assignment
	// and per-invoice state, which can be large.
	w, err := kv.WatchFiltered(ctx, []string{"cursor.>", "lease.>"}, jetstream.IgnoreDeletes())
	if err != nil {
		return rs, fmt.Errorf("read %s: %w", natsstore.ReconcileBucket, err)
	}
	defer func() { _ = w.Stop() }()
	byCompany := map[string]*reconcileCompany{}
	row := func(id string) *reconcileCompany {
		if r, ok := byCompany[id]; ok {
			return r
		}
		r := &reconcileCompany{CompanyID: id}
		byCompany[id] = r
		return r
	}
	problem := func(r *reconcileCompany, p string) {
		if r.Problem != "" {
			r.Problem += "; "
		}
		r.Problem += p
	}
	for done := false; !done; {
		select {
		case e := <-w.Updates():
			if e == nil { // every current value has been delivered
				done = true
				continue
			}
			kind, key, _ := strings.Cut(e.Key(), ".")
			r := row(companyFromKey(key))
			switch kind {
			case "cursor":
				var c consumers.Cursor
				if err := json.Unmarshal(e.Value(), &c); err != nil {
					problem(r, "cursor unreadable: "+err.Error())
					continue
				}
				if !c.After.IsZero() {
					after := c.After.UTC()
					lag := now.Sub(after).Seconds()
					r.Cursor, r.LagSeconds = &after, &lag
				}
				if !c.UpdatedAt.IsZero() {
					upd := c.UpdatedAt.UTC()
					r.CursorUpdatedAt = &upd
				}
			case "lease":
				var l consumers.Lease
				if err := json.Unmarshal(e.Value(), &l); err != nil {
					problem(r, "lease unreadable: "+err.Error())
					continue
				}
				r.LeaseHolder = l.Holder
				r.LeaseExpired = !l.Expires.After(now) // a released lease has the zero time
				if !l.Expires.IsZero() {
					exp := l.Expires.UTC()
					r.LeaseExpires = &exp
				}
			}
		case <-ctx.Done():
			return rs, ctx.Err()
		}
	}
	for _, r := range byCompany {
		rs.Companies = append(rs.Companies, *r)
	}
	slices.SortFunc(rs.Companies, func(a, b reconcileCompany) int { return strings.Compare(a.CompanyID, b.CompanyID) })
	return rs, nil
}

// companyFromKey undoes the reconciler's key encoding: a company id that is not
// plain letters, digits, "-" and "_" is stored as "x.<base64url>".
func companyFromKey(k string) string {
	if enc, ok := strings.CutPrefix(k, "x."); ok {
		if b, err := base64.RawURLEncoding.DecodeString(enc); err == nil {
			return string(b)
		}
	}
	return k
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
	_, err := fmt.Fprintln(w)
	return err
}
