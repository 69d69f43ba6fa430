package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// received lists the most recently stored webhooks (or quarantined requests),
// reading the stream over NATS: it proves what the service has kept.
func received(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cli, err := newCLIFlags("received", getenv, stderr, "one JSON object per line", true)
	if err != nil {
		return err
	}
	cfg, fs, natsURL, asJSON := cli.cfg, cli.fs, cli.natsURL, cli.asJSON
	last := fs.Int("last", 10, "how many of the newest messages to show")
	quarantine := fs.Bool("quarantine", false, "show the quarantine stream instead of stored webhooks")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := openCLIBroker(ctx, cfg, *natsURL, "maventa-events-cli")
	if err != nil {
		return err
	}
	defer b.Close()

	name := cfg.Streams.WebhookStreamConfig().Name
	if *quarantine {
		name = cfg.Streams.QuarantineStreamConfig().Name
	}
	st, err := b.JS.Stream(ctx, name)
	if err != nil {
		return fmt.Errorf("stream %s: %w", name, err)
	}
	state := st.CachedInfo().State
	if !*asJSON {
		fmt.Fprintf(stdout, "stream %s: %d messages, %d bytes, sequences %d..%d\n", name, state.Msgs, state.Bytes, state.FirstSeq, state.LastSeq)
	}
	first := state.FirstSeq
	if state.LastSeq >= uint64(*last) && state.LastSeq-uint64(*last)+1 > first {
		first = state.LastSeq - uint64(*last) + 1
	}
	for seq := first; seq <= state.LastSeq && state.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // removed by age limits or deleted
		}
		if err != nil {
			return fmt.Errorf("read message %d: %w", seq, err)
		}
		if *asJSON {
			line, _ := json.Marshal(map[string]any{
				"seq": m.Sequence, "time": m.Time.UTC().Format(time.RFC3339Nano), "subject": m.Subject,
				"headers": m.Header, "body": json.RawMessage(validJSONOrString(m.Data)),
			})
			fmt.Fprintln(stdout, string(line))
			continue
		}
		fmt.Fprintf(stdout, "#%d %s %s\n  %s\n", m.Sequence, m.Time.UTC().Format(time.RFC3339), m.Subject, m.Data)
	}
	return nil
}

func validJSONOrString(b []byte) []byte {
	if json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b))
	return s
}
