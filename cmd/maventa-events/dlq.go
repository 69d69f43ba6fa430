package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"

	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/events"
)

// HeaderReplayedFrom marks a message republished by 'dlq replay' with the dead
// letter it came from ("MAVENTA_DEADLETTER:42"), so a replay can be told apart
// from Maventa's own delivery in the raw-webhook stream.
const HeaderReplayedFrom = "Replayed-From"

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

func newDeadLetter(m *jetstream.RawStreamMsg) deadLetter {
	h := m.Header
	d := deadLetter{
		Seq: m.Sequence, Time: m.Time.UTC(), Subject: m.Subject, Body: m.Data,
		Reason: h.Get(natsstore.HeaderDLReason), CompanyID: h.Get(natsstore.HeaderCompanyID),
		Event: h.Get(natsstore.HeaderEvent), Error: redactText(h.Get(natsstore.HeaderDLError)),
		Original: h.Get(natsstore.HeaderDLSubject), Stream: h.Get(natsstore.HeaderDLStream),
	}
	d.Deliveries, _ = strconv.Atoi(h.Get(natsstore.HeaderDLDeliveries))
	d.OrigSeq, _ = strconv.ParseUint(h.Get(natsstore.HeaderDLSequence), 10, 64)
	return d
}

// shownHeaders is every header of a dead letter for display. Stored webhooks
// never hold credentials (the receiver drops Authorization and the query
// string); anything whose name suggests one is still hidden, and URLs in values
// are redacted, so that no future header can leak a secret through this command.
func shownHeaders(h nats.Header) map[string][]string {
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

// dlqFilter is the subject filter of the dead-letter stream:
// maventa.deadletter.<reason|*>.<company|*>.
func dlqFilter(reason, company string) string {
	r, c := "*", "*"
	if reason != "" {
		r = events.SanitizeToken(reason)
	}
	if company != "" {
		c = events.SanitizeToken(company)
	}
	if r == "*" && c == "*" {
		return natsstore.DeadLetterSubjectRoot + ".>"
	}
	return natsstore.DeadLetterSubjectRoot + "." + r + "." + c
}

// eachDeadLetter calls fn for every dead letter matching filter, oldest first:
// one direct get per message ("next message at or after seq on this subject"),
// so deleted sequences are skipped and nothing is left behind on the server.
func eachDeadLetter(ctx context.Context, st jetstream.Stream, filter string, fn func(*jetstream.RawStreamMsg) error) error {
	info, err := st.Info(ctx)
	if err != nil {
		return err
	}
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; {
		m, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil // none left at or after seq
		}
		if err != nil {
			return fmt.Errorf("read dead letter at %d: %w", seq, err)
		}
		if m.Sequence > info.State.LastSeq {
			return nil // arrived after we started: the next run sees it
		}
		if err := fn(m); err != nil {
			return err
		}
		seq = m.Sequence + 1
	}
	return nil
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
	name := cfg.Pipeline.DeadLetterStreamConfig().Name
	st, err := b.JS.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("dead-letter stream %s does not exist (has the service ever started against this NATS?)", name)
	}
	if err != nil {
		return fmt.Errorf("dead-letter stream %s: %w", name, err)
	}

	switch sub {
	case "list":
		return dlqList(ctx, st, dlqFilter(*reason, *company), *last, *asJSON, stdout)
	case "show":
		m, err := st.GetMsg(ctx, *seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("dead letter %d not found in %s (replayed, deleted or expired?)", *seq, name)
		}
		if err != nil {
			return fmt.Errorf("dead letter %d: %w", *seq, err)
		}
		d := newDeadLetter(m)
		d.Headers = shownHeaders(m.Header)
		if *asJSON {
			return writeJSON(stdout, struct {
				deadLetter
				Body jsonBody `json:"body"`
			}{d, jsonBody(m.Data)})
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
		fmt.Fprintf(stdout, "body (%d bytes):\n%s\n", len(m.Data), m.Data)
		return nil
	default:
		rps := rate.Limit(*perSecond)
		if *perSecond == 0 {
			rps = rate.Inf
		}
		r := &replayer{js: b.JS, dl: st, dlStream: name, defaultStream: cfg.Streams.WebhookStreamConfig().Name,
			limiter: rate.NewLimiter(rps, 1), dryRun: *dryRun}
		if *seq != 0 {
			m, err := st.GetMsg(ctx, *seq)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				return fmt.Errorf("dead letter %d not found in %s (already replayed, deleted or expired?)", *seq, name)
			}
			if err != nil {
				return fmt.Errorf("dead letter %d: %w", *seq, err)
			}
			err = r.replay(ctx, m)
		} else {
			err = eachDeadLetter(ctx, st, dlqFilter(*reason, *company), func(m *jetstream.RawStreamMsg) error { return r.replay(ctx, m) })
		}
		if err != nil && ctx.Err() == nil {
			return err
		}
		return r.report(stdout, *asJSON, ctx.Err())
	}
}

func dlqList(ctx context.Context, st jetstream.Stream, filter string, last int, asJSON bool, stdout io.Writer) error {
	var list []deadLetter
	err := eachDeadLetter(ctx, st, filter, func(m *jetstream.RawStreamMsg) error {
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
	js            jetstream.JetStream
	dl            jetstream.Stream
	dlStream      string
	defaultStream string // where a dead letter without Dead-Letter-Stream came from
	limiter       *rate.Limiter
	dryRun        bool

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

// replay republishes one dead letter.
//
// The message goes back to its original subject (Dead-Letter-Subject) in its
// original stream, with the original body and headers minus the Dead-Letter-*
// and Original-Msg-Id headers. It deliberately does NOT carry the original
// Nats-Msg-Id (the body hash): the raw-webhook stream drops a repeat of that id
// within its duplicate window (2 minutes), so a replay soon after the original
// delivery (or after Maventa's retry of it) would be acknowledged as a duplicate
// and silently not stored, and the dead letter deleted with nothing replayed.
// Instead the id is unique to the dead letter ("dlq-replay:<stream>:<seq>"), so
// running the same replay again after a crash between publish and delete is
// deduplicated within the window. Replaying something already processed is safe
// beyond that too: the consumer emits only what its aggregate's record lacks.
func (r *replayer) replay(ctx context.Context, m *jetstream.RawStreamMsg) error {
	res := replayResult{Seq: m.Sequence, Subject: m.Header.Get(natsstore.HeaderDLSubject), Stream: m.Header.Get(natsstore.HeaderDLStream)}
	if res.Stream == "" {
		res.Stream = r.defaultStream
	}
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
	h := nats.Header{}
	for k, vs := range m.Header {
		if strings.HasPrefix(k, "Dead-Letter-") || k == natsstore.HeaderOriginalID || strings.HasPrefix(k, "Nats-") {
			// Ours, or JetStream control headers stored with the dead letter that must
			// not be re-applied: its Nats-Expected-Stream names the dead-letter stream,
			// its Nats-Msg-Id is the dead letter's own deduplication id.
			continue
		}
		h[k] = append([]string(nil), vs...)
	}
	h.Set(HeaderReplayedFrom, r.dlStream+":"+strconv.FormatUint(m.Sequence, 10))
	msg := &nats.Msg{Subject: res.Subject, Data: m.Data, Header: h}
	ack, err := r.js.PublishMsg(ctx, msg,
		jetstream.WithMsgID("dlq-replay:"+r.dlStream+":"+strconv.FormatUint(m.Sequence, 10)),
		jetstream.WithExpectStream(res.Stream))
	if err != nil {
		res.Result, res.Error = "failed", "publish: "+err.Error()
		return nil
	}
	res.NewSeq = ack.Sequence
	// Only now, with the copy stored, may the dead letter go.
	if err := r.dl.DeleteMsg(ctx, m.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		res.Result, res.Error = "failed", "republished as "+res.Stream+":"+strconv.FormatUint(ack.Sequence, 10)+" but the dead letter was not deleted: "+err.Error()
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
