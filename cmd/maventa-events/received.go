package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
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
	state, msgs, err := natsstore.LastMessages(ctx, b.JS, name, *last)
	if err != nil && len(msgs) == 0 && state.LastSeq == 0 {
		return err
	}
	if !*asJSON {
		fmt.Fprintf(stdout, "stream %s: %d messages, %d bytes, sequences %d..%d\n", name, state.Msgs, state.Bytes, state.FirstSeq, state.LastSeq)
	}
	for _, m := range msgs {
		if *asJSON {
			obj := map[string]any{
				"seq": m.Seq, "time": m.Time.UTC().Format(time.RFC3339Nano), "subject": m.Subject,
				"headers": m.Header, "body": json.RawMessage(validJSONOrString(m.Data)),
			}
			if m.GroupSize > 1 {
				obj["group_index"], obj["group_size"] = m.Index, m.GroupSize
			}
			line, _ := json.Marshal(obj)
			fmt.Fprintln(stdout, string(line))
			continue
		}
		pos := strconv.FormatUint(m.Seq, 10)
		if m.GroupSize > 1 { // one of the webhooks of a group message (group commit)
			pos += fmt.Sprintf("[%d/%d]", m.Index+1, m.GroupSize)
		}
		fmt.Fprintf(stdout, "#%s %s %s\n  %s\n", pos, m.Time.UTC().Format(time.RFC3339), m.Subject, m.Data)
	}
	return err
}

func validJSONOrString(b []byte) []byte {
	if json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b))
	return s
}
