// Command maventa-events receives Maventa webhooks, stores them durably in NATS
// JetStream, and turns them into normalized domain events.
//
//	maventa-events [serve] [flags]   run the service (default)
//	maventa-events received [flags]  list the webhooks stored most recently
//	maventa-events tail [flags]      print domain events as they are published
//	maventa-events reconcile [flags] backfill a company (or all) from a time
//	maventa-events webhooks register|list|delete [flags]  manage the webhook registrations at Maventa
//	maventa-events dlq list|show|replay [flags]           inspect and replay dead letters
//	maventa-events status [flags]    streams, consumers, KV buckets and reconciliation state
//	maventa-events config [-table]   print the effective settings (or the table of options)
//	maventa-events sizing -companies N  requests/s polling needs per Maventa host, and what fits
//	maventa-events probe URL         exit 0 when URL answers 200 (container health checks)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "maventa-events:", err)
		os.Exit(1)
	}
}

// run dispatches to a subcommand. args[0] is the program name. A request for
// help (-h) is not an error.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	err := dispatch(ctx, args, getenv, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func dispatch(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd, rest := "serve", args[1:]
	switch {
	case len(rest) > 0 && slices.Contains([]string{"-h", "-help", "--help"}, rest[0]):
		cmd = "help" // the commands first, then serve's flags
	case len(rest) > 0 && len(rest[0]) > 0 && rest[0][0] != '-':
		cmd, rest = rest[0], rest[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, rest, getenv, stdout, stderr)
	case "received":
		return received(ctx, rest, getenv, stdout, stderr)
	case "reconcile":
		return reconcile(ctx, rest, getenv, stdout, stderr)
	case "tail":
		return tail(ctx, rest, getenv, stdout, stderr)
	case "webhooks":
		return webhooks(ctx, rest, getenv, stdout, stderr)
	case "dlq":
		return dlq(ctx, rest, getenv, stdout, stderr)
	case "status":
		return status(ctx, rest, getenv, stdout, stderr)
	case "command":
		return command(ctx, rest, getenv, stdout, stderr)
	case "probe":
		return probe(ctx, rest, getenv)
	case "config":
		return printConfig(rest, getenv, stdout, stderr)
	case "sizing":
		return sizing(ctx, rest, getenv, stdout, stderr)
	case "help":
		_, err := io.WriteString(stdout, usage)
		if err == nil {
			// The flags of serve, the default command, after the commands.
			_, err = parseConfig("maventa-events serve", []string{"-h"}, getenv, stdout)
		}
		return err
	default:
		return fmt.Errorf("unknown command %q ('maventa-events -h' lists the commands)", cmd)
	}
}

// usage is what 'maventa-events -h' prints before serve's flags.
const usage = `maventa-events receives Maventa webhooks, stores them in NATS JetStream and
publishes domain events.

usage: maventa-events [command] [flags]

commands:
  serve       run the service (the default)
  received    list the webhooks stored most recently
  tail        print domain events as they are published
  reconcile   backfill a company (or all) from a time
  webhooks    register, list or delete the webhook registrations at Maventa
  dlq         list, show or replay dead letters
  status      streams, consumers, KV buckets and reconciliation state
  command     send a command to Maventa through the service, show or resolve one
  config      print the settings this process would run with (-table: the options table)
  sizing      requests/s polling needs per Maventa host for N companies, and what would fit
  probe URL   exit 0 when URL answers 200 (container health checks)

'maventa-events <command> -h' lists a command's flags. Every flag of serve is
also an environment variable; the commands read the same ones.

`
