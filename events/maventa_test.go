package events_test

import (
	"encoding/json"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
)

func init() {
	events.SetFactDecoder(func(typ, id, data, partyID string) events.AssignmentValues {
		f, err := maventa.Event{ID: id, Type: maventa.EventType(typ), Data: json.RawMessage(data), PartyID: partyID}.Fact()
		if err != nil {
			panic(err)
		}
		return f.Values
	})
	events.SetServiceDecoder(maventa.ServiceState)
	events.SetAssignmentDecoder(func(b []byte) (events.AssignmentSnapshot, error) {
		var a maventa.Assignment
		if err := json.Unmarshal(b, &a); err != nil {
			return events.AssignmentSnapshot{}, err
		}
		return a.Snapshot()
	})
	events.SetWebhookDecoder(func(body []byte) (events.Webhook, error) {
		w, err := maventa.ParseWebhookEnvelope(body)
		if err != nil {
			return events.Webhook{}, err
		}
		return w.Input(body), nil
	})
}
