package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers"
	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
)

// reconcile backfills one company or all from a given time: it polls Maventa
// for that window through the same emitter and states as the running service,
// so it can run while the service runs and emits nothing twice. It never moves
// the service's cursors.
func reconcile(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cli, err := newCLIFlags("reconcile", getenv, stderr, "one JSON object per company", true)
	if err != nil {
		return err
	}
	cfg, fs, natsURL, asJSON := cli.cfg, cli.fs, cli.natsURL, cli.asJSON
	company := fs.String("company", "", "backfill this company")
	all := fs.Bool("all", false, "backfill every company with credentials")
	sinceFlag := fs.String("since", "", "start of the window: RFC 3339 time or a duration ago (e.g. 48h, 3d)")
	force := fs.Bool("force", false, "allow a window older than PROCESSED_TTL (facts older than the invoice records' memory may be emitted again)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*company == "") == !*all {
		return errors.New("give -company ID or -all")
	}
	since, err := parseSince(*sinceFlag, time.Now())
	if err != nil {
		return err
	}
	ttl := cfg.Pipeline.ProcessedTTL
	if !*force && time.Since(since) > ttl {
		return fmt.Errorf("-since %s is older than PROCESSED_TTL (%s): facts from before the invoice records' memory could be emitted twice; use -force to do it anyway", since.Format(time.RFC3339), ttl)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	api, creds, err := newMaventaClient(cfg, getenv, log)
	if err != nil {
		return err
	}
	companies := creds.Companies()
	if *company != "" {
		companies = []string{*company}
	}
	if len(companies) == 0 {
		return errors.New("no company credentials configured (MAVENTA_CREDENTIALS_FILE / MAVENTA_COMPANY_CREDENTIALS)")
	}
	b, err := openCLIBroker(ctx, cfg, *natsURL, "maventa-events-reconcile")
	if err != nil {
		return err
	}
	defer b.Close()
	kv, err := natsstore.EnsurePipeline(ctx, b.JS, cfg.Pipeline, log)
	if err != nil {
		return err
	}
	state, err := natsstore.EnsureReconcileStore(ctx, b.JS, cfg.Pipeline.Replicas, 0)
	if err != nil {
		return err
	}
	poller := consumers.NewPoller(cfg.Poller, api, creds, state, natsstore.NewKVRecords(kv), natsstore.NewEmitter(b.JS, cfg.Pipeline), log)
	var failed error
	for _, c := range companies {
		res, err := poller.PollCompany(ctx, c, since, false)
		if err != nil {
			failed = errors.Join(failed, fmt.Errorf("company %s: %w", c, err))
		}
		if *asJSON {
			line, _ := json.Marshal(map[string]any{"company_id": c, "since": since, "api_calls": res.Calls,
				"events_read": res.Events, "emitted": res.Emitted, "error": errString(err)})
			fmt.Fprintln(stdout, string(line))
			continue
		}
		fmt.Fprintf(stdout, "%s  since %s: %d API calls, %d assignment events read, %d new domain events%s\n",
			c, since.UTC().Format(time.RFC3339), res.Calls, res.Events, res.Emitted, map[bool]string{true: ", FAILED: " + errString(err)}[err != nil])
	}
	return failed
}

// parseSince reads an RFC 3339 time or a duration ago ("48h", "3d").
func parseSince(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, errors.New("give -since (an RFC 3339 time or a duration ago such as 48h or 3d)")
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	d, err := positiveDuration(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("-since %q: want an RFC 3339 time or a duration ago", v)
	}
	return now.Add(-d), nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
