package main

import (
	"context"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/maventa-bridge/maventa-events/consumers/natstest"
)

// TestLoadgenRunsBothModesAndVerifiesCounts runs the real tool against the real
// service binary for a few hundred requests. It asserts what the tool checks
// (stored == 2xx) and reports, never how fast anything was.
func TestLoadgenRunsBothModesAndVerifiesCounts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the service binary")
	}
	var out strings.Builder
	args := []string{"loadgen", "-duration", "300ms", "-warmup", "50ms", "-concurrency", "4", "-max-requests", "300"}
	if err := run(context.Background(), args, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"publish mode async", "publish mode sync", ": match", "latency p50", "peak RSS", "ratio async/sync"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestLoadgenEndToEndMatchesEveryDomainEvent runs -e2e briefly: invoices in the
// in-process sandbox, their webhooks posted by loadgen, the domain events read
// back. It asserts the counts match, never the latency.
func TestLoadgenEndToEndMatchesEveryDomainEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the service binary")
	}
	var out strings.Builder
	args := []string{"loadgen", "-e2e", "-rate", "200", "-duration", "300ms", "-warmup", "50ms", "-concurrency", "4"}
	if err := run(context.Background(), args, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"end to end", "assignment.opened", "missing 0, duplicated 0", ": match"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestLoadgenFlagsAreBounded(t *testing.T) {
	for _, args := range [][]string{
		{"-duration", "1h"},
		{"-duration", "0s"},
		{"-concurrency", "0"},
		{"-modes", "turbo"},
		{"-rate", "-5"},
		{"-retries", "1000"},
		{"-e2e"}, // needs a rate
		{"-e2e", "-rate", "100000", "-duration", "60s"}, // too many invoices
		{"-startup", "1000"},
		{"-scale", "1000", "-scale-hours", "48", "-scale-speed", "60"}, // 48 minutes of real time
		{"-scale", "1000", "-scale-speed", "0.5"},
		{"-scale", "1000000"},
		{"-scale", "10", "-scale-receivables", "0"},
		{"-scale", "10", "-scale-hours", "2", "-scale-warmup", "2h"}, // nothing left to measure
		{"-scale", "10", "-scale-warmup", "-1m"},
		{"-scale", "10", "-scale-quiet-max", "-1m"},
		{"-scale", "10", "-scale-interval", "0s"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

// TestLoadgenCountsOnAnExternalNATS runs the service against a NATS server of
// its own (NATS_URL, inherited from loadgen): the banner then names no embedded
// server, and the stored messages must be counted on the external one.
func TestLoadgenCountsOnAnExternalNATS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the service binary")
	}
	srv := natstest.Start(t, t.TempDir())
	t.Setenv("NATS_URL", srv.ClientURL())
	var out strings.Builder
	args := []string{"loadgen", "-modes", "async", "-duration", "300ms", "-warmup", "50ms", "-concurrency", "4", "-max-requests", "200"}
	if err := run(context.Background(), args, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), ": match") {
		t.Errorf("output lacks the stored == 2xx check:\n%s", out.String())
	}
}

// TestScaleSimulationDeliversEveryFactOnce runs the -scale simulation small
// and fast: it must report every section and lose or double no fact (the tool
// fails otherwise). It asserts no figure.
func TestScaleSimulationDeliversEveryFactOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("a time-scaled simulation of a few seconds")
	}
	var out strings.Builder
	args := []string{"loadgen", "-scale", "300", "-scale-receivables", "0.5", "-scale-active", "0.2", "-scale-hours", "1",
		"-scale-speed", "360", "-scale-drain", "1m"}
	if err := run(context.Background(), args, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"fact -> domain event lag", "active", "quiet", "no_receivables", "stored more than once: 0",
		"Maventa requests", "peak second", "per no-receivables company", "tier options:", "target", "client requests per simulated second", "no_receivables  token"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// The e2e budget must never pace a run (two Receivables calls per webhook)
// yet stay far from the million-entry windows that once filled the heap.
func TestE2EMaventaRateCoversTheRunWithoutBloat(t *testing.T) {
	for _, rate := range []int{1, 50, 1000, 10_000} {
		got := e2eMaventaRate(rate)
		if got < 2*rate || got < 1000 {
			t.Errorf("rate %d: budget %d/s would pace the run (needs >= %d)", rate, got, max(2*rate, 1000))
		}
		if got > 4*max(rate, 250) {
			t.Errorf("rate %d: budget %d/s: the client keeps one timestamp per request of its window", rate, got)
		}
	}
}

// TestScaleFlagsAreDocumented: every -scale flag (and -cpuprofile) is named in
// the scale section of docs/performance.md, where the runs are explained.
func TestScaleFlagsAreDocumented(t *testing.T) {
	var usage strings.Builder
	if _, err := parseFlags([]string{"-h"}, &usage); err == nil {
		t.Fatal("-h did not stop parsing")
	}
	names := regexp.MustCompile(`(?m)^\s+-((?:scale|cpuprofile)[\w-]*)`).FindAllStringSubmatch(usage.String(), -1)
	if len(names) < 10 {
		t.Fatalf("found only %d -scale flags in the usage:\n%s", len(names), usage.String())
	}
	b, err := os.ReadFile("../../docs/performance.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start := strings.Index(doc, "## Reconciliation at vendor scale")
	if start < 0 {
		t.Fatal("docs/performance.md has no section \"Reconciliation at vendor scale\"")
	}
	section := doc[start:]
	if end := strings.Index(section[3:], "\n## "); end > 0 {
		section = section[:end+3]
	}
	for _, n := range names {
		if !strings.Contains(section, "`-"+n[1]) {
			t.Errorf("-%s is not explained in the scale section of docs/performance.md", n[1])
		}
	}
}
