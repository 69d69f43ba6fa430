package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/events"
)

// tail prints domain events as they are published (or, with -all / -since, from
// the stream's history first), filtered by company and type, using an ordered
// consumer: it changes nothing on the server and leaves nothing behind.
func tail(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cli, err := newCLIFlags("tail", getenv, stderr, "print each CloudEvent as one JSON line", true)
	if err != nil {
		return err
	}
	cfg, fs, natsURL, asJSON := cli.cfg, cli.fs, cli.natsURL, cli.asJSON
	company := fs.String("company", "", "only this company id")
	typ := fs.String("type", "", "only this aggregate or aggregate.name, e.g. assignment or assignment.paid")
	all := fs.Bool("all", false, "start from the oldest stored event instead of new ones only")
	since := fs.Duration("since", 0, "start from events stored this long ago (e.g. 1h)")
	limit := fs.Int("n", 0, "stop after this many events (0: until interrupted)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	filter, err := tailFilter(*company, *typ)
	if err != nil {
		return err
	}
	b, err := openCLIBroker(ctx, cfg, *natsURL, "maventa-events-tail")
	if err != nil {
		return err
	}
	defer b.Close()

	if *limit < 0 {
		return nil // nothing asked for
	}
	var from natsstore.TailFrom
	switch {
	case *all:
		from.All = true
	case *since > 0:
		from.Since = time.Now().Add(-*since)
	}
	n := 0
	return natsstore.TailEvents(ctx, b.JS, cfg.Pipeline, filter, from, func(data []byte) bool {
		if *asJSON {
			fmt.Fprintln(stdout, string(data))
		} else {
			fmt.Fprintln(stdout, describeEvent(data))
		}
		n++
		return *limit == 0 || n < *limit
	})
}

// tailFilter builds the subject filter: receivables.events.<company|*>.<aggregate|*>.<name|>>.
func tailFilter(company, typ string) (string, error) {
	c := "*"
	if company != "" {
		c = events.SanitizeToken(company)
	}
	agg, name, _ := strings.Cut(typ, ".")
	switch {
	case typ == "":
		return events.SubjectRoot + "." + c + ".>", nil
	case strings.ContainsAny(typ, "*> ") || agg == "":
		return "", fmt.Errorf("-type %q: want an aggregate (assignment) or aggregate.name (assignment.paid)", typ)
	case name == "":
		return events.SubjectRoot + "." + c + "." + events.SanitizeToken(agg) + ".*", nil
	}
	return events.SubjectRoot + "." + c + "." + events.SanitizeToken(agg) + "." + events.SanitizeToken(name), nil
}

// describeEvent is one readable line: time, type, company, subject and the data.
func describeEvent(b []byte) string {
	e, err := events.Decode(b)
	if err != nil {
		return fmt.Sprintf("(not a CloudEvent: %v) %s", err, b)
	}
	short := e.Type
	if def, ok := events.LookupType(e.Type); ok {
		short = def.Name
	}
	data := string(e.Data)
	var m map[string]json.RawMessage
	if json.Unmarshal(e.Data, &m) == nil {
		delete(m, "raw") // Maventa's original data: in -json output, not in the summary
		if compact, err := json.Marshal(m); err == nil {
			data = string(compact)
		}
	}
	return fmt.Sprintf("%s  %-38s company=%s subject=%s id=%s\n    %s",
		e.Time.UTC().Format(time.RFC3339), short, e.CompanyID, e.Subject, e.ID, data)
}
