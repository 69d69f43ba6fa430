package maventa

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"strings"
	"sync"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/maventa-bridge/maventa-events/events"
)

// The types of this package that keep unknown fields in Extra decode and encode
// with github.com/go-json-experiment/json (the encoding/json/v2 prototype) in a
// single pass over the whole tree: each has UnmarshalJSONFrom and MarshalJSONTo,
// which v2 calls for nested values in the same pass, and UnmarshalJSON and
// MarshalJSON for encoding/json callers, implemented with the same code.
//
// Each type T declares a method-less copy, type tFields T, whose Extra keeps its
// `json:"-"` tag; wire wraps it so that v2 promotes its fields and collects every
// member none of them matches in Extra. The Extra tags are left unchanged so that
// encoding/json, for a type without methods, still ignores Extra.

// wire is F's fields followed by the unknown members. "embed" is this module's
// name for the option; "inline" is its name in the standard library's
// encoding/json/v2, which this module becomes when built with GOEXPERIMENT=jsonv2.
// Each ignores the other's.
type wire[F any] struct {
	Fields F                          `json:",embed,inline"`
	Extra  map[string]json.RawMessage `json:",embed,inline"`
}

// jsonOptions are encoding/json's semantics, which callers rely on:
// case-insensitive names, duplicate names (the last wins), invalid UTF-8 (replaced
// by U+FFFD), v1's omitempty, nil slices as null, HTML-safe escaping, map keys
// (Extra) sorted, loose RFC 3339 times... Two differences:
//   - errors are v2's, which spares v1's validation of every nested value before
//     decoding it (the scan per level this package is meant to avoid); the error
//     path runs encoding/json again instead (see unmarshalJSON), so callers still
//     see v1's errors;
//   - an events.Decimal goes out as the exact JSON number (12.30), as Maventa
//     sends and expects amounts, not as the string its own MarshalJSON writes.
var jsonOptions = jsonv2.JoinOptions(
	jsonv1.DefaultOptionsV1(),
	jsonv1.ReportErrorsWithLegacySemantics(false),
	jsonv2.WithMarshalers(jsonv2.MarshalToFunc(marshalDecimal)),
)

func marshalDecimal(enc *jsontext.Encoder, d events.Decimal) error {
	return enc.WriteValue(append(enc.AvailableBuffer(), d.String()...))
}

// unmarshalFrom implements UnmarshalJSONFrom for a type whose fields are F and
// whose unknown members go to *extra. Like UnmarshalJSON it replaces the whole
// value, and leaves it untouched on error.
func unmarshalFrom[F any](dec *jsontext.Decoder, dst *F, extra *map[string]json.RawMessage) error {
	w := new(wire[F])
	if err := jsonv2.UnmarshalDecode(dec, w, jsonOptions); err != nil {
		return err
	}
	*dst = w.Fields
	*extra = w.Extra
	return nil
}

// unmarshalJSON implements UnmarshalJSON (encoding/json) the same way.
func unmarshalJSON[F any](data []byte, dst *F, extra *map[string]json.RawMessage) error {
	w := new(wire[F])
	if err := jsonv2.Unmarshal(data, w, jsonOptions); err != nil {
		return v1UnmarshalError[F](data, err)
	}
	*dst = w.Fields
	*extra = w.Extra
	return nil
}

// v1UnmarshalError returns the error encoding/json reports for data decoded into
// an F: the *json.SyntaxError, *json.UnmarshalTypeError or method error (an
// amount's, a time's) callers always got. It runs on the error path only.
func v1UnmarshalError[F any](data []byte, err error) error {
	var f F
	if err1 := json.Unmarshal(data, &f); err1 != nil {
		return err1
	}
	return err
}

// marshalTo implements MarshalJSONTo for a type whose fields are f and whose
// unknown members are extra.
func marshalTo[F any](enc *jsontext.Encoder, f F, extra map[string]json.RawMessage) error {
	return jsonv2.MarshalEncode(enc, &wire[F]{Fields: f, Extra: extraToWrite(&f, extra)}, jsonOptions)
}

// marshalJSON implements MarshalJSON (encoding/json) the same way.
func marshalJSON[F any](f F, extra map[string]json.RawMessage) ([]byte, error) {
	extra = extraToWrite(&f, extra)
	b, err := jsonv2.Marshal(&wire[F]{Fields: f, Extra: extra}, jsonOptions)
	if err != nil {
		// Error path only: report what encoding/json reports, as before.
		if _, err1 := json.Marshal(f); err1 != nil {
			return nil, err1
		}
		if _, err1 := json.Marshal(extra); err1 != nil {
			return nil, err1
		}
		return nil, err
	}
	return b, nil
}

// unmarshal decodes data into out, a pointer to a zero value, exactly as
// json.Unmarshal does, but in one pass. On error it decodes again with
// encoding/json, so that both the error and what is left in out are v1's.
func unmarshal(data []byte, out any) error {
	if err := jsonv2.Unmarshal(data, out, jsonOptions); err != nil {
		if v := reflect.ValueOf(out); v.Kind() == reflect.Pointer && !v.IsNil() {
			v.Elem().SetZero()
		}
		return json.Unmarshal(data, out)
	}
	return nil
}

// declaredField is a JSON member a fields type declares.
type declaredField struct {
	index     int
	omitEmpty bool
}

// declaredFieldsCache maps a fields type to its members by JSON name.
var declaredFieldsCache sync.Map

func declaredFields(t reflect.Type) map[string]declaredField {
	if v, ok := declaredFieldsCache.Load(t); ok {
		return v.(map[string]declaredField)
	}
	m := map[string]declaredField{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		m[name] = declaredField{index: i, omitEmpty: strings.Contains(","+opts+",", ",omitempty,")}
	}
	declaredFieldsCache.Store(t, m)
	return m
}

// extraToWrite returns the unknown members to encode after f's fields: extra,
// less any whose name is that of a field f writes, so that an extra never
// overrides a declared field (it may stand in for one omitempty leaves out).
func extraToWrite[F any](f *F, extra map[string]json.RawMessage) map[string]json.RawMessage {
	if len(extra) == 0 {
		return nil
	}
	declared := declaredFields(reflect.TypeFor[F]())
	var out map[string]json.RawMessage
	for k := range extra {
		d, ok := declared[k]
		if !ok || d.omitEmpty && isEmptyValue(reflect.ValueOf(f).Elem().Field(d.index)) {
			continue
		}
		if out == nil {
			out = maps.Clone(extra)
		}
		delete(out, k)
	}
	if out == nil {
		return extra
	}
	return out
}

// isEmptyValue is encoding/json's omitempty test.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}

// isNull reports whether raw is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}
