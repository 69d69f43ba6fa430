package maventa

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/maventa-bridge/maventa-events/events"
)

// knownFieldsCache maps a struct type to the JSON names of its fields.
var knownFieldsCache sync.Map

// knownFields returns the JSON field names declared on struct type t.
func knownFields(t reflect.Type) map[string]bool {
	if v, ok := knownFieldsCache.Load(t); ok {
		return v.(map[string]bool)
	}
	m := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		m[name] = true
	}
	knownFieldsCache.Store(t, m)
	return m
}

// unmarshalKeepingExtra decodes data into v (a pointer to a plain struct with no
// custom UnmarshalJSON) and returns the top-level fields v does not declare, so
// that fields Maventa adds later are kept rather than dropped.
func unmarshalKeepingExtra(data []byte, v any) (map[string]json.RawMessage, error) {
	if err := json.Unmarshal(data, v); err != nil {
		return nil, err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil {
		return nil, err
	}
	known := knownFields(reflect.TypeOf(v).Elem())
	var extra map[string]json.RawMessage
	for k, raw := range all {
		// encoding/json matches names case-insensitively; so must we.
		if known[k] || matchesFold(known, k) {
			continue
		}
		if extra == nil {
			extra = map[string]json.RawMessage{}
		}
		extra[k] = raw
	}
	return extra, nil
}

func matchesFold(known map[string]bool, k string) bool {
	for name := range known {
		if strings.EqualFold(name, k) {
			return true
		}
	}
	return false
}

// marshalWithExtra encodes v (a plain struct) and merges extra fields that v does
// not already set, then overrides the money fields so that amounts go out as JSON
// numbers, as Maventa sends and expects them.
func marshalWithExtra(v any, extra map[string]json.RawMessage, money map[string]*events.Decimal) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if len(extra) == 0 && len(money) == 0 {
		return data, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	for k, raw := range extra {
		if _, ok := m[k]; !ok {
			m[k] = raw
		}
	}
	for k, d := range money {
		if _, ok := m[k]; !ok || d == nil {
			continue
		}
		m[k] = json.RawMessage(d.JSONNumber())
	}
	return json.Marshal(m)
}

// isNull reports whether raw is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// decodeData decodes an event's data into out, treating absent data as empty.
func decodeData(kind string, raw json.RawMessage, out json.Unmarshaler) error {
	if isNull(raw) {
		raw = json.RawMessage("{}")
	}
	if err := out.UnmarshalJSON(raw); err != nil {
		return fmt.Errorf("maventa: decode %s data: %w", kind, err)
	}
	return nil
}
