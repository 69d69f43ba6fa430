package commandstream

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/events"
)

// RequestSubjectRoot is where callers that want an immediate answer send a
// command as a NATS request: receivables.command-requests.<company_id>.<aggregate>.<name>.
// The command is stored in the command stream exactly as if it had been
// published there (so it survives this service and ends in one outcome event),
// and the reply says whether it was stored and whether it passed the checks
// that need no Maventa state.
const RequestSubjectRoot = "receivables.command-requests"

// RequestQueue is the queue group of the request subscription: one replica answers.
const RequestQueue = "maventa-events-command-requests"

// Reply is the answer to a command request.
type Reply struct {
	// Accepted is true when the command was stored and passed the local checks;
	// its outcome event follows.
	Accepted bool `json:"accepted"`
	// ID is the command id.
	ID string `json:"id,omitempty"`
	// StreamSeq is the command's sequence in the command stream, when stored.
	StreamSeq uint64 `json:"stream_seq,omitempty"`
	// Duplicate is true when the same id was stored already (within the window).
	Duplicate bool `json:"duplicate,omitempty"`
	// Problems lists what is wrong; a stored command with problems ends in command.rejected.
	Problems events.Problems `json:"problems,omitempty"`
	// Error is set when the command could not be stored at all.
	Error string `json:"error,omitempty"`
}

// ServeRequests answers command requests until ctx ends.
func ServeRequests(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, sc StreamConfig, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stream := sc.withDefaults().Stream
	sub, err := nc.QueueSubscribe(RequestSubjectRoot+".>", RequestQueue, func(m *nats.Msg) {
		rep := handleRequest(ctx, js, stream, m)
		b, _ := json.Marshal(rep)
		if err := m.Respond(b); err != nil {
			log.Warn("command request: reply failed", "err", err)
		}
	})
	if err != nil {
		return fmt.Errorf("command requests: %w", err)
	}
	<-ctx.Done()
	return sub.Drain()
}

func handleRequest(ctx context.Context, js jetstream.JetStream, stream string, m *nats.Msg) Reply {
	subject := events.CommandSubjectRoot + strings.TrimPrefix(m.Subject, RequestSubjectRoot)
	cmd, _, _, problems, err := events.ParseCommand(m.Data, subject)
	if err != nil {
		return Reply{Error: err.Error()}
	}
	rep := Reply{ID: cmd.ID, Problems: problems}
	if strings.TrimSpace(cmd.ID) == "" || cmd.CompanyID == "" {
		rep.Error = "not stored: a command needs an id and a companyid to be answered by an outcome event"
		return rep
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out := &nats.Msg{Subject: subject, Data: m.Data, Header: nats.Header{}}
	out.Header.Set("Content-Type", events.ContentType)
	ack, err := js.PublishMsg(pctx, out, jetstream.WithMsgID(cmd.ID), jetstream.WithExpectStream(stream))
	if err != nil {
		rep.Error = "not stored: " + err.Error()
		return rep
	}
	rep.StreamSeq, rep.Duplicate, rep.Accepted = ack.Sequence, ack.Duplicate, len(problems) == 0
	return rep
}
