package events

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

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

// Used only by the tests and the document generators they run.

// Types returns every event type of the catalog, in documentation order.
func Types() []TypeDef { return append([]TypeDef(nil), allTypes...) }

// ValidToken reports whether s is a valid single NATS subject token: non-empty
// printable UTF-8 with no ".", "*", ">" and no whitespace. Every SanitizeToken
// result is a valid token.
func ValidToken(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r == '.' || r == '*' || r == '>' || unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// SchemaFile is the file name of the data's JSON Schema under docs/schemas/.
func (d CommandDef) SchemaFile() string {
	return "commands." + d.Name + ".v" + strconv.Itoa(d.Version) + ".json"
}
