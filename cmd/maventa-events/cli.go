package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"

	"github.com/maventa-bridge/maventa-events/consumers"
)

// cliFlags is what every operator command starts with: the service's own
// configuration, read from the same environment (so a command sees the same
// NATS, streams and Maventa settings as the service), and a flag set with -json
// and, for commands that talk to NATS, -nats-url.
type cliFlags struct {
	cfg     *config
	fs      *flag.FlagSet
	natsURL *string // nil unless withNATS
	asJSON  *bool
}

func newCLIFlags(name string, getenv func(string) string, stderr io.Writer, jsonUsage string, withNATS bool) (*cliFlags, error) {
	cfg, err := parseConfig("maventa-events", nil, getenv, stderr)
	if err != nil {
		return nil, err
	}
	fs := flag.NewFlagSet("maventa-events "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &cliFlags{cfg: cfg, fs: fs, asJSON: fs.Bool("json", false, jsonUsage)}
	if withNATS {
		c.natsURL = fs.String("nats-url", cfg.NATS.URL, "NATS to use (default: the embedded server on NATS_EMBEDDED_PORT)")
	}
	return c, nil
}

// openCLIBroker connects a command to the service's NATS: natsURL, or the
// embedded server's port on this machine.
func openCLIBroker(ctx context.Context, cfg *config, natsURL, name string) (*consumers.Broker, error) {
	nc := cfg.NATS
	nc.URL = natsURL
	if nc.URL == "" {
		nc.URL = "nats://127.0.0.1:" + strconv.Itoa(cfg.NATS.Port)
	}
	nc.Name = name
	b, err := consumers.OpenBroker(ctx, nc, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, fmt.Errorf("%w (is the service running?)", err)
	}
	return b, nil
}
