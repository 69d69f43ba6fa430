package events

// decodeFact reads an assignment event's JSON as package maventa does (set by
// maventa_test.go's init: this package cannot import maventa, its external
// tests can), so that the catalog's tests feed it what production feeds it.
var decodeFact func(t, id, data, partyID string) AssignmentValues

// decodeWebhook parses a webhook body as package maventa does (set with
// decodeFact).
var decodeWebhook func(body []byte) (Webhook, error)

// decodeService reads a receivables service state as package maventa does
// (set with decodeFact).
var decodeService func(provider string, data []byte) (ReceivablesService, error)

// decodeAssignment reads an assignment as package maventa does (set with
// decodeFact).
var decodeAssignment func(b []byte) (AssignmentSnapshot, error)

// SetAssignmentDecoder sets decodeAssignment.
func SetAssignmentDecoder(f func(b []byte) (AssignmentSnapshot, error)) { decodeAssignment = f }

// SetServiceDecoder sets decodeService.
func SetServiceDecoder(f func(provider string, data []byte) (ReceivablesService, error)) {
	decodeService = f
}

// SetWebhookDecoder sets decodeWebhook.
func SetWebhookDecoder(f func(body []byte) (Webhook, error)) { decodeWebhook = f }

// fromWebhookBody is FromWebhook of a body as the consumers parse it.
func fromWebhookBody(body []byte, tc TraceContext) (Event, error) {
	w, err := decodeWebhook(body)
	if err != nil {
		return Event{}, err
	}
	return FromWebhook(w, tc)
}

// SetFactDecoder sets decodeFact.
func SetFactDecoder(f func(typ, id, data, partyID string) AssignmentValues) { decodeFact = f }
