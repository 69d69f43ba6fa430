package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/time/rate"

	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
)

// deadLetter is one message of the dead-letter stream, as the dlq commands show it.
type deadLetter struct {
	Seq        uint64              `json:"seq"`
	Time       time.Time           `json:"time"`
	Subject    string              `json:"subject"`
	Reason     string              `json:"reason"`
	CompanyID  string              `json:"company_id"`
	Event      string              `json:"event"`
	Deliveries int                 `json:"deliveries"`
	Error      string              `json:"error"`
	Original   string              `json:"original_subject"`
	Stream     string              `json:"original_stream"`
	OrigSeq    uint64              `json:"original_seq,omitempty"`
	Headers    map[string][]string `json:"headers,omitempty"`
	Body       []byte              `json:"-"`
}

// newDeadLetter is d as the dlq commands show it: its error text redacted.
func newDeadLetter(d natsstore.DeadLetter) deadLetter {
	return deadLetter{
		Seq: d.Seq, Time: d.Time, Subject: d.Subject, Body: d.Body, Reason: d.Reason, CompanyID: d.CompanyID,
		Event: d.Event, Error: redactText(d.Error), Original: d.Original, Stream: d.Stream, OrigSeq: d.OrigSeq,
		Deliveries: d.Deliveries,
	}
}

// shownHeaders is every header of a dead letter for display. Stored webhooks
// never hold credentials (the receiver drops Authorization and the query
// string); anything whose name suggests one is still hidden, and URLs in values
// are redacted, so that no future header can leak a secret through this command.
func shownHeaders(h map[string][]string) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, vs := range h {
		c := make([]string, len(vs))
		for i, v := range vs {
			if secretName(k) {
				c[i] = redacted
			} else {
				c[i] = redactText(v)
			}
		}
		out[k] = c
	}
	return out
}

// dlq lists, shows and replays dead letters.
func dlq(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const usage = "usage: maventa-events dlq list|show|replay [flags]; 'maventa-events dlq replay -h' lists the flags"
	if len(args) == 0 {
		return errors.New(usage)
	}
	sub, rest := args[0], args[1:]
	cli, err := newCLIFlags("dlq "+sub, getenv, stderr, "print one JSON document", true)
	if err != nil {
		return err
	}
	cfg, fs, natsURL, asJSON := cli.cfg, cli.fs, cli.natsURL, cli.asJSON
	var (
		reason, company    *string
		last               *int
		seq                *uint64
		all, dryRun        *bool
		perSecond          *float64
		filterable, listed = sub == "list" || sub == "replay", sub == "list"
	)
	switch sub {
	case "list", "show", "replay":
	default:
		return fmt.Errorf("unknown dlq command %q; %s", sub, usage)
	}
	if filterable {
		reason = fs.String("reason", "", "only dead letters with this Dead-Letter-Reason (e.g. assignment_not_found)")
		company = fs.String("company", "", "only dead letters of this company id")
	}
	if listed {
		last = fs.Int("last", 0, "only the newest N matching dead letters (0: all)")
	}
	if sub != "list" {
		seq = fs.Uint64("seq", 0, "the dead letter's sequence number (see 'dlq list')")
	}
	if sub == "replay" {
		all = fs.Bool("all", false, "replay every dead letter")
		dryRun = fs.Bool("dry-run", false, "print what would be replayed and change nothing")
		perSecond = fs.Float64("rate", 10, "most replays per second (0: no limit)")
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("dlq %s: unexpected arguments: %v", sub, fs.Args())
	}
	switch sub {
	case "list":
		if *last < 0 {
			return errors.New("dlq list: -last must not be negative")
		}
	case "show":
		if *seq == 0 {
			return errors.New("dlq show: -seq is required (see 'maventa-events dlq list')")
		}
	case "replay":
		filtered := *reason != "" || *company != ""
		modes := 0
		for _, on := range []bool{*seq != 0, filtered, *all} {
			if on {
				modes++
			}
		}
		if modes != 1 {
			return errors.New("dlq replay: say which dead letters, exactly one of: -seq N, a filter (-reason and/or -company), or -all")
		}
		if *perSecond < 0 {
			return errors.New("dlq replay: -rate must not be negative")
		}
	}

	b, err := openCLIBroker(ctx, cfg, *natsURL, "maventa-events-dlq")
	if err != nil {
		return err
	}
	defer b.Close()
	q, err := natsstore.OpenDeadLetterQueue(ctx, b.JS, cfg.Pipeline, cfg.Streams)
	if err != nil {
		return err
	}

	switch sub {
	case "list":
		return dlqList(ctx, q, natsstore.DeadLetterFilter(*reason, *company), *last, *asJSON, stdout)
	case "show":
		m, err := q.Get(ctx, *seq)
		if err != nil {
			return err
		}
		d := newDeadLetter(m)
		d.Headers = shownHeaders(m.Header)
		if *asJSON {
			return writeJSON(stdout, struct {
				deadLetter
				Body jsonBody `json:"body"`
			}{d, jsonBody(m.Body)})
		}
		fmt.Fprintf(stdout, "dead letter #%d  %s  %s\n", d.Seq, d.Time.Format(time.RFC3339), d.Subject)
		fmt.Fprintln(stdout, "headers:")
		tw := tabwriter.NewWriter(stdout, 0, 0, 1, ' ', 0)
		for _, k := range sortedKeys(d.Headers) {
			fmt.Fprintf(tw, "  %s:\t%s\n", k, strings.Join(d.Headers[k], ", "))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "body (%d bytes):\n%s\n", len(m.Body), m.Body)
		return nil
	default:
		rps := rate.Limit(*perSecond)
		if *perSecond == 0 {
			rps = rate.Inf
		}
		r := &replayer{q: q, limiter: rate.NewLimiter(rps, 1), dryRun: *dryRun}
		if *seq != 0 {
			m, err := q.Get(ctx, *seq)
			if err != nil {
				return err
			}
			err = r.replay(ctx, m)
		} else {
			err = q.Each(ctx, natsstore.DeadLetterFilter(*reason, *company), func(m natsstore.DeadLetter) error { return r.replay(ctx, m) })
		}
		if err != nil && ctx.Err() == nil {
			return err
		}
		return r.report(stdout, *asJSON, ctx.Err())
	}
}

func dlqList(ctx context.Context, q *natsstore.DeadLetterQueue, filter string, last int, asJSON bool, stdout io.Writer) error {
	var list []deadLetter
	err := q.Each(ctx, filter, func(m natsstore.DeadLetter) error {
		list = append(list, newDeadLetter(m))
		if last > 0 && len(list) > last {
			list = list[1:]
		}
		return nil
	})
	if err != nil {
		return err
	}
	if asJSON {
		if list == nil {
			list = []deadLetter{}
		}
		return writeJSON(stdout, list)
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "no dead letters")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tREASON\tCOMPANY\tEVENT\tDELIVERIES\tERROR")
	for _, d := range list {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\n", d.Seq, d.Time.Format(time.RFC3339), d.Reason, d.CompanyID, d.Event, d.Deliveries, oneLine(d.Error, 100))
	}
	return tw.Flush()
}

// replayer republishes dead letters to where they came from and deletes each
// only after its publish was acknowledged.
type replayer struct {
	q       *natsstore.DeadLetterQueue
	limiter *rate.Limiter
	dryRun  bool

	results []replayResult
}

// replayResult is what happened to one dead letter.
type replayResult struct {
	Seq     uint64 `json:"seq"`
	Subject string `json:"subject"`
	Stream  string `json:"stream"`
	Result  string `json:"result"` // would_replay, replayed, failed
	NewSeq  uint64 `json:"new_seq,omitempty"`
	Error   string `json:"error,omitempty"`
}

// replay republishes one dead letter (natsstore.DeadLetterQueue.Replay says
// how), at most at the limiter's rate, and records what happened.
func (r *replayer) replay(ctx context.Context, m natsstore.DeadLetter) error {
	res := replayResult{Seq: m.Seq}
	res.Stream, res.Subject = r.q.Source(m)
	defer func() { r.results = append(r.results, res) }()
	if res.Subject == "" {
		res.Result, res.Error = "failed", "no "+natsstore.HeaderDLSubject+" header: cannot tell where it came from"
		return nil
	}
	if r.dryRun {
		res.Result = "would_replay"
		return nil
	}
	if err := r.limiter.Wait(ctx); err != nil {
		res.Result, res.Error = "failed", err.Error()
		return err
	}
	newSeq, err := r.q.Replay(ctx, m)
	res.NewSeq = newSeq
	if err != nil {
		res.Result, res.Error = "failed", err.Error()
		return nil
	}
	res.Result = "replayed"
	return nil
}

func (r *replayer) counts() (replayed, failed, would int) {
	for _, res := range r.results {
		switch res.Result {
		case "replayed":
			replayed++
		case "would_replay":
			would++
		default:
			failed++
		}
	}
	return
}

func (r *replayer) report(w io.Writer, asJSON bool, interrupted error) error {
	replayed, failed, would := r.counts()
	if asJSON {
		results := r.results
		if results == nil {
			results = []replayResult{}
		}
		if err := writeJSON(w, map[string]any{"dry_run": r.dryRun, "replayed": replayed, "failed": failed,
			"would_replay": would, "results": results}); err != nil {
			return err
		}
	} else {
		for _, res := range r.results {
			switch res.Result {
			case "would_replay":
				fmt.Fprintf(w, "would replay #%d -> %s (stream %s)\n", res.Seq, res.Subject, res.Stream)
			case "replayed":
				fmt.Fprintf(w, "replayed #%d -> %s (stream %s, seq %d)\n", res.Seq, res.Subject, res.Stream, res.NewSeq)
			default:
				fmt.Fprintf(w, "FAILED #%d -> %s: %s\n", res.Seq, res.Subject, res.Error)
			}
		}
		if r.dryRun {
			fmt.Fprintf(w, "dry run: %d dead letters would be replayed, nothing changed\n", would)
		} else {
			fmt.Fprintf(w, "replayed %d, failed %d\n", replayed, failed)
		}
	}
	if interrupted != nil {
		return fmt.Errorf("interrupted after %d replayed: %w", replayed, interrupted)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d dead letters were not replayed", failed, len(r.results))
	}
	return nil
}

// jsonBody prints a body as JSON when it is JSON, otherwise as a string.
type jsonBody []byte

func (b jsonBody) MarshalJSON() ([]byte, error) { return validJSONOrString(b), nil }

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		return s[:max-1] + "…"
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
