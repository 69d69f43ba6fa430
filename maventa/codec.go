package maventa

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/maventa-bridge/maventa-events/events"
)

// jsonOptions are encoding/json's semantics, which callers rely on
// (case-insensitive names, the last of duplicate names wins, invalid UTF-8
// replaced by U+FFFD, v1's omitempty, nil slices as null, HTML-safe escaping,
// sorted map keys, RFC 3339 times, a json.Number written as a number), with
// two differences: errors are v2's (Unmarshal turns them back into v1's), and
// an events.Decimal goes out as the exact JSON number Maventa sends and
// expects (12.30), not as the string its own MarshalJSON writes for the
// domain events.
var jsonOptions = jsonv2.JoinOptions(
	jsonv1.DefaultOptionsV1(),
	jsonv1.ReportErrorsWithLegacySemantics(false),
	jsonv2.WithMarshalers(jsonv2.JoinMarshalers(
		jsonv2.MarshalToFunc(marshalDecimal),
		jsonv2.MarshalToFunc(marshalNumber),
	)),
)

func marshalDecimal(enc *jsontext.Encoder, d events.Decimal) error {
	return enc.WriteValue(append(enc.AvailableBuffer(), d.String()...))
}

// marshalNumber writes an encoding/json Number (request bodies hold some) as
// encoding/json does; v2 knows only its own Number type.
func marshalNumber(enc *jsontext.Encoder, n json.Number) error {
	if n == "" {
		n = "0"
	}
	if jsontext.Value(n).Kind() != '0' {
		return fmt.Errorf("json: invalid number literal %q", string(n))
	}
	return enc.WriteValue(append(enc.AvailableBuffer(), n...))
}

// Marshal encodes v, a Maventa object of this package or any value holding
// some, as Maventa does: amounts as JSON numbers, each object's declared
// members in order, then its Extra members sorted by name. An Extra member
// named like a declared field is written too (Extra is meant for names no
// field declares, which is all decoding ever puts there).
func Marshal(v any) ([]byte, error) {
	b, err := jsonv2.Marshal(v, jsonOptions)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Unmarshal decodes data into v, a non-nil pointer, in one pass, with
// encoding/json's semantics and errors (see jsonOptions) and each object's
// unknown members kept in its Extra. On error *v is left zero.
func Unmarshal(data []byte, v any) error {
	err := jsonv2.Unmarshal(data, v, jsonOptions)
	if err == nil {
		return nil
	}
	p := reflect.ValueOf(v)
	if p.Kind() != reflect.Pointer || p.IsNil() {
		return err
	}
	p.Elem().SetZero()
	// Error path only: report what encoding/json reports for the same input,
	// as callers always got. To encoding/json, Extra is a member named
	// "Extra": its errors about that member are not the input's.
	err1 := json.Unmarshal(data, reflect.New(p.Type().Elem()).Interface())
	var te *json.UnmarshalTypeError
	if err1 == nil || errors.As(err1, &te) && (te.Field == "Extra" || strings.HasSuffix(te.Field, ".Extra")) {
		return err
	}
	return err1
}

// isNull reports whether raw is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}
