package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/maventa-bridge/maventa-events/consumers/commands"
	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/consumers/natsstore/commandstream"
	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
)

// commandConfig is the command stream configuration of cfg, with the
// replicas every stream of the service uses.
func commandConfig(cfg *config) commandstream.StreamConfig {
	sc := cfg.Commands
	sc.Replicas = cfg.Pipeline.Replicas
	return sc
}

// runCommands applies commands from the command stream until ctx ends. The
// Maventa client (and so its per-host rate limit) is the one the poller uses.
func runCommands(ctx context.Context, b *natsstore.Broker, cfg *config, store *commandstream.KVStore, api *maventa.Client, emitter *natsstore.Emitter, nudge commands.Nudger, log *slog.Logger) error {
	sc := commandConfig(cfg)
	// The holder is unique per process, not per host: a container restarted in
	// the same pod (same host name, pid 1) must not take its predecessor's
	// applying records for its own and read them back while a write may still
	// be in flight; it waits out the lease like any other replica.
	holder := cfg.Poller.Holder + "-" + uuid.NewString()[:8]
	h := commands.NewHandler(commands.Config{Holder: holder, ApplyLease: cfg.CommandLease, Nudge: nudge}, store, emitter, api, log)
	log.Info("command consumer running", "stream", sc.CommandStreamConfig().Name, "concurrency", sc.Concurrency,
		"requests", commandstream.RequestSubjectRoot+".>")
	reqDone := make(chan error, 1)
	go func() { reqDone <- commandstream.ServeRequests(ctx, b.NC, b.JS, sc, log) }()
	err := commandstream.NewRunner(sc, b.JS, h, natsstore.NewDeadLetters(b.JS, cfg.Pipeline), log).Run(ctx)
	if rerr := <-reqDone; err == nil && rerr != nil {
		log.Warn("command requests stopped", "err", rerr)
	}
	return err
}

// command sends a command, shows a command's state, or resolves an unknown outcome.
func command(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const usage = "usage: maventa-events command send|status|resolve [flags]; 'maventa-events command send -h' lists the flags"
	if len(args) == 0 {
		return errors.New(usage)
	}
	sub, args := args[0], args[1:]
	cli, err := newCLIFlags("command "+sub, getenv, stderr, "print JSON", true)
	if err != nil {
		return err
	}
	fs := cli.fs
	var (
		id, file, typ, company, subject, data, corr, source, by, note, eventID *string
		wait                                                                   *time.Duration
		applied, notApplied                                                    *bool
	)
	id = fs.String("id", "", "command id (idempotency key); send: default a new UUID")
	switch sub {
	case "send":
		file = fs.String("file", "", "the command as a CloudEvents JSON file ('-' for stdin); else build it from the flags below")
		typ = fs.String("type", "", "command name, e.g. assignment.paid (see docs/commands.md)")
		company = fs.String("company", "", "Maventa company id")
		subject = fs.String("subject", "", "the command's target, e.g. the assignment id")
		data = fs.String("data", "{}", "the command's data as JSON")
		corr = fs.String("correlation-id", "", "correlation id copied to the outcome event")
		source = fs.String("source", "cli://maventa-events", "CloudEvents source naming the sender")
		wait = fs.Duration("wait", 30*time.Second, "how long to wait for the outcome (0: do not wait)")
	case "status":
	case "resolve":
		applied = fs.Bool("applied", false, "the write is at Maventa (found by hand): publish command.succeeded")
		notApplied = fs.Bool("not-applied", false, "the write is not at Maventa: publish command.failed; send the command again with a new id if still wanted")
		by = fs.String("by", "", "who resolves (recorded in the event)")
		note = fs.String("note", "", "why, for the record")
		eventID = fs.String("maventa-event-id", "", "with -applied: the assignment event Maventa created, if known")
	default:
		return fmt.Errorf("unknown command subcommand %q: %s", sub, usage)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("command %s: unexpected arguments: %v", sub, fs.Args())
	}
	switch sub {
	case "send":
		body, cmd, err := buildCommand(*file, *id, *typ, *company, *subject, *data, *corr, *source)
		if err != nil {
			return err
		}
		b, err := openCLIBroker(ctx, cli.cfg, *cli.natsURL, "maventa-events-command")
		if err != nil {
			return err
		}
		defer b.Close()
		return sendCommand(ctx, b, commandConfig(cli.cfg), body, cmd, *wait, stdout, *cli.asJSON)
	case "status":
		if *id == "" {
			return errors.New("command status: -id is required")
		}
		b, err := openCLIBroker(ctx, cli.cfg, *cli.natsURL, "maventa-events-command")
		if err != nil {
			return err
		}
		defer b.Close()
		store, err := commandstream.OpenKVStore(ctx, b.JS, commandConfig(cli.cfg))
		if err != nil {
			return err
		}
		rec, rev, err := store.Get(ctx, *id)
		if err != nil {
			return err
		}
		if rev == 0 {
			return fmt.Errorf("command %s: no record (never received by the service, or expired after COMMAND_RECORD_TTL)", *id)
		}
		return printRecord(stdout, rec, *cli.asJSON)
	default: // resolve
		if *id == "" || *applied == *notApplied || strings.TrimSpace(*by) == "" {
			return errors.New("command resolve: give -id, exactly one of -applied or -not-applied, and -by")
		}
		if *notApplied && *eventID != "" {
			return errors.New("command resolve: -maventa-event-id goes with -applied")
		}
		b, err := openCLIBroker(ctx, cli.cfg, *cli.natsURL, "maventa-events-command")
		if err != nil {
			return err
		}
		defer b.Close()
		store, err := commandstream.OpenKVStore(ctx, b.JS, commandConfig(cli.cfg))
		if err != nil {
			return err
		}
		if _, err := natsstore.EnsurePipeline(ctx, b.JS, cli.cfg.Pipeline, slog.New(slog.DiscardHandler)); err != nil {
			return err
		}
		h := commands.NewHandler(commands.Config{}, store, natsstore.NewEmitter(b.JS, cli.cfg.Pipeline), nil, nil)
		rec, err := h.Resolve(ctx, *id, commands.Resolution{Applied: *applied, MaventaEventID: *eventID, By: *by, Note: *note})
		if err != nil {
			return err
		}
		return printRecord(stdout, rec, *cli.asJSON)
	}
}

// buildCommand reads the command from file, or builds it from the flags, and
// checks it as the service will (without Maventa's state), so that a typo is
// reported here rather than as command.rejected.
func buildCommand(file, id, typ, company, subject, data, corr, source string) ([]byte, events.Command, error) {
	var body []byte
	if file != "" {
		var err error
		if file == "-" {
			body, err = io.ReadAll(os.Stdin)
		} else {
			body, err = os.ReadFile(file)
		}
		if err != nil {
			return nil, events.Command{}, fmt.Errorf("command send: %w", err)
		}
	} else {
		def, ok := lookupCommandName(typ)
		if !ok {
			return nil, events.Command{}, fmt.Errorf("command send: -type %q is not a command; known: %s", typ, commandNames())
		}
		if id == "" {
			id = uuid.NewString()
		}
		now := time.Now().UTC()
		var err error
		body, err = events.Command{ID: id, Source: source, Type: def.Type(), Subject: subject, Time: &now,
			CompanyID: company, CorrelationID: corr, Data: json.RawMessage(data)}.Marshal()
		if err != nil {
			return nil, events.Command{}, fmt.Errorf("command send: -data: %w", err)
		}
	}
	cmd, _, _, problems, err := events.ParseCommand(body, "")
	if err != nil {
		return nil, cmd, fmt.Errorf("command send: %w", err)
	}
	if len(problems) > 0 {
		return nil, cmd, fmt.Errorf("command send: not sent, fix: %s", problems.Error())
	}
	return body, cmd, nil
}

func lookupCommandName(name string) (events.CommandDef, bool) {
	for _, d := range events.Commands() {
		if d.Name == name || d.Type() == name {
			return d, true
		}
	}
	return events.CommandDef{}, false
}

func commandNames() string {
	var n []string
	for _, d := range events.Commands() {
		n = append(n, d.Name)
	}
	return strings.Join(n, ", ")
}

// sendCommand publishes the command (Nats-Msg-Id = its id) and waits for its outcome.
func sendCommand(ctx context.Context, b *natsstore.Broker, sc commandstream.StreamConfig, body []byte, cmd events.Command, wait time.Duration, stdout io.Writer, asJSON bool) error {
	// The stream and the record bucket are provisioned here too (as the service
	// does, idempotently): a command sent while the service has never run, or is
	// still starting, is stored and waits for it.
	store, err := commandstream.Ensure(ctx, b.JS, sc, slog.New(slog.DiscardHandler))
	if err != nil {
		return fmt.Errorf("command send: %w", err)
	}
	seq, duplicate, err := commandstream.Send(ctx, b.JS, sc, cmd, body)
	if err != nil {
		return fmt.Errorf("command send: %w", err)
	}
	if wait <= 0 {
		if asJSON {
			return writeJSON(stdout, map[string]any{"id": cmd.ID, "stream_seq": seq, "duplicate": duplicate})
		}
		_, err := fmt.Fprintf(stdout, "command %s stored (stream sequence %d, duplicate %t)\n", cmd.ID, seq, duplicate)
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	rec, err := store.Wait(wctx, cmd.ID)
	if err != nil {
		return fmt.Errorf("%w; it is stored, see 'maventa-events command status -id %s'", err, cmd.ID)
	}
	return printRecord(stdout, rec, asJSON)
}

// printRecord shows a command's record: its state, outcome and resolution.
func printRecord(w io.Writer, rec commands.Record, asJSON bool) error {
	if asJSON {
		return writeJSON(w, rec)
	}
	fmt.Fprintf(w, "command %s (%s on %s, company %s)\n  state: %s\n", rec.ID, rec.Command, rec.Subject, rec.CompanyID, rec.State)
	if rec.Outcome != "" {
		fmt.Fprintf(w, "  outcome: %s at %s\n  %s\n", rec.Outcome, rec.DecidedAt.Format(time.RFC3339), rec.OutcomeData)
	}
	if rec.State == commands.StateApplying {
		fmt.Fprintf(w, "  applying since %s by %s\n", rec.Since.Format(time.RFC3339), rec.Holder)
	}
	if r := rec.Resolution; r != nil {
		fmt.Fprintf(w, "  resolved by %s at %s: applied=%t %s\n", r.By, r.At.Format(time.RFC3339), r.Applied, r.Note)
	} else if rec.Outcome == events.OutcomeUnknown {
		fmt.Fprintf(w, "  check the assignment at Maventa, then: maventa-events command resolve -id %s -applied|-not-applied -by NAME\n", rec.ID)
	}
	return nil
}
