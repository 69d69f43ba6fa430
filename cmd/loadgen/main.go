// Command loadgen drives real HTTP webhooks at the real service, for a bounded
// time and count, and reports throughput, latency percentiles and the service's
// CPU and peak memory. It verifies by counting: the number of webhooks stored in
// JetStream must equal the number of 2xx answers, or it fails.
//
// By default it builds the service, starts it with embedded file-backed
// JetStream for each publish mode (async, the real design; sync, the naive one)
// and runs the same load against both, so the ratio comes from one run:
//
//	go run ./cmd/loadgen -duration 10s -concurrency 64
//	go run ./cmd/loadgen -rate 10000 -duration 10s -modes async
//	go run ./cmd/loadgen -e2e -rate 1000 -duration 10s   # webhook POST -> domain event, sandbox answering enrichment
//	go run ./cmd/loadgen -startup 10                      # process start -> /readyz 200
//	go run ./cmd/loadgen -scale 50000 -scale-hours 3      # reconciliation at scale, time-scaled, in process
//
// A non-2xx answer is handled as Maventa handles it: the same body is resent
// later (-retries, -retry-delay), and the resends are counted.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	opts, err := parseFlags(args[1:], stderr)
	if err != nil {
		return err
	}
	if opts.scale.companies > 0 {
		return runScale(ctx, opts.scale, stdout, stderr)
	}
	bin := opts.bin
	if bin == "" {
		dir, err := os.MkdirTemp("", "loadgen-bin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if bin, err = buildService(ctx, dir, stderr); err != nil {
			return err
		}
	}
	if opts.startups > 0 {
		return measureStartup(ctx, bin, opts.startups, stdout, stderr)
	}
	var results []result
	for _, mode := range opts.modes {
		r, err := runMode(ctx, bin, mode, opts, stderr)
		if err != nil {
			return fmt.Errorf("%s: %w", mode, err)
		}
		results = append(results, r)
		r.print(stdout)
	}
	if len(results) == 2 && results[1].rate() > 0 {
		fmt.Fprintf(stdout, "\nratio %s/%s: %.2fx throughput\n", results[0].mode, results[1].mode, results[0].rate()/results[1].rate())
	}
	for _, r := range results {
		if r.stored != r.totalOK {
			return fmt.Errorf("%s: %d webhooks answered 2xx but %d stored", r.mode, r.totalOK, r.stored)
		}
		if r.e2e != nil && !r.e2e.ok() {
			return fmt.Errorf("%s: end to end: %d expected domain events missing, %d duplicated", r.mode, r.e2e.missing, r.e2e.duplicated)
		}
	}
	return nil
}
