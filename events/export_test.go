package events

import "encoding/json"

// decodeFact reads an assignment event's JSON as package maventa does (set by
// maventa_test.go's init: this package cannot import maventa, its external
// tests can), so that the catalog's tests feed it what production feeds it.
var decodeFact func(t, id, data, partyID string) AssignmentValues

// SetFactDecoder sets decodeFact.
func SetFactDecoder(f func(typ, id, data, partyID string) AssignmentValues) { decodeFact = f }

// compactOf is b compacted, as the tests' raw JSON.
func compactOf(b []byte) json.RawMessage { return compact(b) }
