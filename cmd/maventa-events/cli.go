package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strconv"

	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
)

// cliFlags is what every operator command starts with: the service's own
// configuration, read from the same environment (so a command sees the same
// NATS, streams and Maventa settings as the service), and a flag set with -json
// and, for commands that talk to NATS, -nats-url.
type cliFlags struct {
	cfg     *config
	fs      *flagSet
	natsURL *string // nil unless withNATS
	asJSON  *bool
}

func newCLIFlags(name string, getenv func(string) string, stderr io.Writer, jsonUsage string, withNATS bool) (*cliFlags, error) {
	cfg, err := parseConfig("maventa-events", nil, getenv, stderr)
	if err != nil {
		return nil, err
	}
	fs := newFlagSet("maventa-events "+name, stderr)
	c := &cliFlags{cfg: cfg, fs: fs, asJSON: fs.Bool("json", false, jsonUsage)}
	if withNATS {
		c.natsURL = fs.String("nats-url", cfg.NATS.URL, "NATS to use (default: the embedded server on NATS_EMBEDDED_PORT, with the credentials in DATA_DIR)")
	}
	return c, nil
}

// flagSet is a flag.FlagSet whose -h prints the flags to out and makes Parse
// return flag.ErrHelp (run turns that into exit status 0), and whose parse errors
// are one line with a hint, instead of the error followed by every flag.
type flagSet struct {
	*flag.FlagSet
	name string
}

func newFlagSet(name string, out io.Writer) *flagSet {
	f := &flagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), name: name}
	// The flag package writes a parse error to Output and then calls Usage;
	// for -h it calls Usage alone. The sink tells the two apart.
	sink := &errorSink{}
	f.SetOutput(sink)
	f.Usage = func() {
		if sink.wrote {
			sink.wrote = false
			return
		}
		fmt.Fprintf(out, "usage: %s [flags]\n\nflags:\n", name)
		f.SetOutput(out)
		f.PrintDefaults()
		f.SetOutput(sink)
	}
	return f
}

// Parse parses args; an error names the problem and where the flags are listed.
func (f *flagSet) Parse(args []string) error {
	err := f.FlagSet.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return fmt.Errorf("%w ('%s -h' lists the flags)", err, f.name)
}

// errorSink swallows what the flag package prints for a parse error (the
// error is returned, and printed once, by main) and remembers that it did.
type errorSink struct{ wrote bool }

func (e *errorSink) Write(p []byte) (int, error) { e.wrote = true; return len(p), nil }

// openCLIBroker connects a command to the service's NATS: natsURL, or the
// embedded server's port on this machine. When the service runs an embedded
// server (NATS_URL unset), the command authenticates with the credentials
// that server wrote into DATA_DIR, so no operator ever handles them.
func openCLIBroker(ctx context.Context, cfg *config, natsURL, name string) (*natsstore.Broker, error) {
	nc := cfg.NATS
	nc.URL = natsURL
	if nc.URL == "" {
		nc.URL = "nats://127.0.0.1:" + strconv.Itoa(cfg.NATS.Port)
	}
	nc.Name = name
	hint := "is the service running?"
	if cfg.NATS.URL == "" && nc.User == "" && nc.CredsFile == "" && nc.NKeyFile == "" {
		user, password, err := natsstore.ReadEmbeddedCredentials(cfg.NATS.DataDir)
		switch {
		case err == nil:
			nc.User, nc.Password = user, password
		case errors.Is(err, fs.ErrNotExist):
			hint = fmt.Sprintf("is the service running? no NATS credentials in DATA_DIR=%s: set DATA_DIR to the service's", cfg.NATS.DataDir)
		default:
			return nil, fmt.Errorf("embedded NATS credentials (DATA_DIR): %w", err)
		}
	}
	b, err := natsstore.OpenBroker(ctx, nc, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, hint)
	}
	return b, nil
}
