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
//	maventa-events config            print the table of options
//	maventa-events probe URL         exit 0 when URL answers 200 (container health checks)
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
		fmt.Fprintln(os.Stderr, "maventa-events:", err)
		os.Exit(1)
	}
}

// run dispatches to a subcommand. args[0] is the program name.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd, rest := "serve", args[1:]
	if len(rest) > 0 && len(rest[0]) > 0 && rest[0][0] != '-' {
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
		return probe(ctx, rest)
	case "config":
		_, err := io.WriteString(stdout, optionsMarkdown())
		return err
	case "help":
		_, err := fmt.Fprintln(stdout, "usage: maventa-events [serve|received|tail|reconcile|webhooks|dlq|status|command|config|probe] [flags]; 'maventa-events serve -h' lists the flags")
		return err
	default:
		return fmt.Errorf("unknown command %q (want serve, received, tail, reconcile, webhooks, dlq, status, command, config, probe or help)", cmd)
	}
}
