package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// reflectMarshal is what Event.Marshal wrote before it was written by hand:
// encoding/json's encoder with HTML escaping off, after Validate.
func reflectMarshal(e Event) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func marshalEvent(specversion, id, subject, text string, data []byte, at time.Time) Event {
	return Event{SpecVersion: specversion, ID: id, Source: SourceFor("c-" + text), Type: "t." + text,
		Subject: subject, Time: at, DataContentType: DataContentType, DataSchema: text,
		CompanyID: "c" + text, MaventaEventID: text, WebhookID: text, TraceParent: text, TraceState: text,
		Sequence: text, CorrelationID: text, Data: data}
}

func TestMarshalMatchesEncodingJSON(t *testing.T) {
	helsinki := time.FixedZone("EET", 2*3600)
	cases := map[string]Event{}
	for name, e := range examples(t) {
		cases["example "+name] = e
	}
	for name, text := range map[string]string{
		"plain":              "abc-123",
		"empty optional":     "",
		"html":               `<a href="x">&amp;</a>`,
		"controls":           "a\x00b\x01\x1f\b\f\n\r\t\x7f",
		"quotes":             `"\\/`,
		"utf8":               "Ääkkönen €",
		"invalid utf8":       "a\xffb\xc3",
		"line separators":    "a\u2028b\u2029c",
		"escape at the ends": "\n\u2028x\xff",
	} {
		cases[name] = marshalEvent(SpecVersion, "id", text, text, []byte(` { "a" : [1, 2, "<&>"], "b":"\u2028" } `),
			time.Date(2026, 11, 30, 6, 30, 0, 123456789, helsinki))
	}
	for name, e := range cases {
		t.Run(name, func(t *testing.T) {
			want, err := reflectMarshal(e)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Marshal differs from encoding/json\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestMarshalRejectsWhatValidateRejects(t *testing.T) {
	ok := marshalEvent(SpecVersion, "id", "s", "x", []byte(`{}`), time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	tests := []struct {
		name string
		edit func(*Event)
		want string
	}{
		{"data not JSON", func(e *Event) { e.Data = []byte(`{bad`) }, "data is not JSON"},
		{"data empty", func(e *Event) { e.Data = nil }, "data is not JSON"},
		{"no id and bad data", func(e *Event) { e.ID, e.Data = "", []byte(`[`) }, "id is empty\ndata is not JSON"},
		{"time out of range", func(e *Event) { e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "time outside years 1-9999"},
		{"no time", func(e *Event) { e.Time = time.Time{} }, "time is empty"},
		{"spec version", func(e *Event) { e.SpecVersion = "0.3" }, `specversion "0.3" is not "1.0"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ok
			tt.edit(&e)
			b, err := e.Marshal()
			if err == nil {
				t.Fatalf("Marshal accepted an invalid event: %s", b)
			}
			verr := e.Validate()
			if verr == nil || err.Error() != verr.Error() {
				t.Errorf("Marshal error %q, Validate error %v: they must agree", err, verr)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
	var bad Event = ok
	bad.Time = time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("odd", 25*3600))
	if _, err := bad.Marshal(); err == nil || errors.Is(err, errDataNotJSON) {
		t.Errorf("a zone offset RFC 3339 cannot write: got %v, want the time's error", err)
	}
}

// The hand-written encoder's point is its allocations: the output buffer and
// nothing per field or for Data's compaction (the reflective encoder took 4).
func TestMarshalAllocationsStayBounded(t *testing.T) {
	e := largestExample(t)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := e.Marshal(); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("%.0f allocations per event (bound %d)", allocs, maxMarshalAllocs)
	if allocs > maxMarshalAllocs {
		t.Errorf("Event.Marshal: %.0f allocations per event, want at most %d", allocs, maxMarshalAllocs)
	}
}

func FuzzMarshalMatchesEncodingJSON(f *testing.F) {
	f.Add("id", "subject", "<&>\u2028\xff\x01", []byte(`{"a": 1}`), int64(0))
	f.Add("", "", "", []byte(`[`), int64(-1))
	f.Fuzz(func(t *testing.T, id, subject, text string, data []byte, nanos int64) {
		e := marshalEvent(SpecVersion, id, subject, text, data, time.Unix(1_700_000_000, nanos%1e9).UTC())
		want, werr := reflectMarshal(e)
		got, err := e.Marshal()
		if (err == nil) != (werr == nil) {
			t.Fatalf("Marshal error %v, encoding/json error %v", err, werr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("Marshal differs from encoding/json\n got %s\nwant %s", got, want)
		}
	})
}

// largestExample is the example event with the most data (ties by id), the
// same one every run.
func largestExample(t testing.TB) Event {
	var best Event
	for _, e := range examples(t) {
		if len(e.Data) > len(best.Data) || (len(e.Data) == len(best.Data) && e.ID < best.ID) {
			best = e
		}
	}
	return best
}

func BenchmarkEventMarshal(b *testing.B) {
	e := largestExample(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEventMarshalReflect(b *testing.B) {
	e := largestExample(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reflectMarshal(e); err != nil {
			b.Fatal(err)
		}
	}
}
