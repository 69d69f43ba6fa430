package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

type options struct {
	duration    time.Duration
	warmup      time.Duration
	maxRequests int64
	rate        int
	concurrency int
	modes       []string
	bin         string
	sync        string
	pad         int
	retries     int
	retryDelay  time.Duration
	e2e         bool
	e2eWait     time.Duration
	startups    int
	scale       scaleOptions
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var modes string
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured load per mode (bounded: at most 10m)")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured load before each measurement")
	fs.Int64Var(&o.maxRequests, "max-requests", 5_000_000, "stop a mode after this many requests (bounded)")
	fs.IntVar(&o.rate, "rate", 0, "webhooks per second, open loop (latency counted from the scheduled send time); 0 = as fast as possible")
	fs.IntVar(&o.concurrency, "concurrency", 64, "connections / in-flight requests")
	fs.StringVar(&modes, "modes", "async,sync", "service publish modes to run, in order: async (pipelined acks), sync (naive)")
	fs.StringVar(&o.bin, "bin", "", "service binary (default: build ./cmd/maventa-events)")
	fs.StringVar(&o.sync, "nats-sync", "default", "embedded JetStream fsync policy for the service: default, always or an interval")
	fs.IntVar(&o.pad, "pad", 0, "extra bytes of event_data per webhook (the seed examples are ~300 bytes)")
	fs.IntVar(&o.retries, "retries", 3, "like Maventa: resend the same body after a non-2xx answer or transport error, at most this many times")
	fs.DurationVar(&o.retryDelay, "retry-delay", 100*time.Millisecond, "wait before a resend (Maventa waits an hour; a 503's Retry-After is capped to this)")
	fs.DurationVar(&o.e2eWait, "e2e-wait", time.Minute, "with -e2e: how long to wait after the load for every expected event (bounded: at most 30m); the retained state and RSS are read after it")
	fs.BoolVar(&o.e2e, "e2e", false, "end to end: in-process sandbox answers enrichment; latency from webhook POST to its domain events on NATS (needs -rate; async mode only)")
	fs.IntVar(&o.startups, "startup", 0, "only measure start-up: start the service this many times, process start to /readyz 200")
	fs.IntVar(&o.scale.companies, "scale", 0, "only simulate reconciliation of this many companies, time-scaled, in process (issue 15; see docs/performance.md)")
	fs.Float64Var(&o.scale.receivables, "scale-receivables", 0.1, "-scale: share of companies with the receivables service")
	fs.Float64Var(&o.scale.active, "scale-active", 0.01, "-scale: share of receivables companies active in a given hour")
	fs.Float64Var(&o.scale.hours, "scale-hours", 3, "-scale: simulated hours")
	fs.DurationVar(&o.scale.warmup, "scale-warmup", 0, "-scale: simulated span left out of the lag figures (the first pass); 0: the first third of -scale-hours")
	fs.DurationVar(&o.scale.quietMax, "scale-quiet-max", 0, "-scale: POLL_QUIET_MAX (simulated); 0: the service's default for -scale-interval")
	fs.DurationVar(&o.scale.noRecMax, "scale-no-receivables-max", 0, "-scale: POLL_NO_RECEIVABLES_MAX (simulated); 0: the service's default")
	fs.DurationVar(&o.scale.recheck, "scale-recheck", 0, "-scale: POLL_NO_RECEIVABLES_RECHECK (simulated); 0: the service's default")
	fs.StringVar(&o.scale.cpuprofile, "cpuprofile", "", "-scale: write a CPU profile of the run to this file")
	fs.Float64Var(&o.scale.speed, "scale-speed", 60, "-scale: simulated seconds per real second")
	fs.Float64Var(&o.scale.rps, "scale-rps", 10, "-scale: MAVENTA_REQUESTS_PER_SECOND, per simulated second")
	fs.DurationVar(&o.scale.interval, "scale-interval", time.Minute, "-scale: POLL_INTERVAL (simulated)")
	fs.IntVar(&o.scale.concurrency, "scale-concurrency", 16, "-scale: POLL_CONCURRENCY")
	fs.DurationVar(&o.scale.drain, "scale-drain", 30*time.Second, "-scale: real time allowed after the run for the last facts to arrive")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.scale.companies > 0 {
		return o, o.scale.validate()
	}
	for _, m := range strings.Split(modes, ",") {
		if m != "async" && m != "sync" {
			return o, fmt.Errorf("-modes: unknown mode %q", m)
		}
		o.modes = append(o.modes, m)
	}
	switch {
	case o.duration <= 0 || o.duration > 10*time.Minute:
		return o, errors.New("-duration must be in (0, 10m]")
	case o.concurrency <= 0 || o.concurrency > 4096:
		return o, errors.New("-concurrency must be in [1, 4096]")
	case o.rate < 0 || o.maxRequests <= 0:
		return o, errors.New("-rate must be >= 0 and -max-requests > 0")
	case o.retries < 0 || o.retries > 100 || o.retryDelay < 0 || o.retryDelay > time.Minute:
		return o, errors.New("-retries must be in [0, 100] and -retry-delay in [0, 1m]")
	case o.e2e && (o.rate <= 0 || int64(o.rate)*int64((o.duration+o.warmup)/time.Second+1) > maxE2EInvoices):
		return o, fmt.Errorf("-e2e needs -rate > 0 and at most %d webhooks in warm-up plus duration", maxE2EInvoices)
	case o.e2eWait <= 0 || o.e2eWait > 30*time.Minute:
		return o, errors.New("-e2e-wait must be in (0, 30m]")
	case o.startups < 0 || o.startups > 100:
		return o, errors.New("-startup must be in [0, 100]")
	}
	if o.e2e {
		o.modes = []string{"async"}
	}
	return o, nil
}
