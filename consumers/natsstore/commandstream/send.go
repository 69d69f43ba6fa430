package commandstream

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/events"
)

// Send stores a command's body on its subject in the command stream of sc,
// with Nats-Msg-Id = its id: sending the same command again within the
// stream's duplicate window stores nothing and reports duplicate.
func Send(ctx context.Context, js jetstream.JetStream, sc StreamConfig, cmd events.Command, body []byte) (seq uint64, duplicate bool, err error) {
	def, ok := events.LookupCommand(cmd.Type)
	if !ok {
		return 0, false, fmt.Errorf("unknown command type %q", cmd.Type)
	}
	msg := &nats.Msg{Subject: def.Subject(cmd.CompanyID), Data: body, Header: nats.Header{}}
	msg.Header.Set("Content-Type", events.ContentType)
	msg.Header.Set(natsstore.HeaderCompanyID, cmd.CompanyID)
	ack, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(cmd.ID), jetstream.WithExpectStream(sc.CommandStreamConfig().Name))
	if err != nil {
		return 0, false, fmt.Errorf("publish: %w", err)
	}
	return ack.Sequence, ack.Duplicate, nil
}
