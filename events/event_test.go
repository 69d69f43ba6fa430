package events

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNewID(t *testing.T) {
	a := NewID("assignment.paid", "fa9781ba", "c0c56722")
	if a != NewID("assignment.paid", "fa9781ba", "c0c56722") {
		t.Fatal("same fact, different ids")
	}
	distinct := [][]string{
		{"assignment.paid", "fa9781ba", "c0c56722"},
		{"assignment.close", "fa9781ba", "c0c56722"},
		{"assignment.paid", "fa9781bac", "0c56722"}, // moved separator
		{"assignment.paid", "fa9781ba", "c0c56722", ""},
		{"assignment.paid", "fa9781ba:c0c56722"},
		{"assignment.paidfa9781ba", "c0c56722"},
	}
	seen := map[string][]string{}
	for _, k := range distinct {
		id := NewID(k[0], k[1:]...)
		if prev, dup := seen[id]; dup {
			t.Errorf("%v and %v share id %s", prev, k, id)
		}
		seen[id] = k
		if len(id) != 36 || id[14] != '5' {
			t.Errorf("id %s is not a UUIDv5", id)
		}
	}
}

func TestWebhookHashIgnoresFormatting(t *testing.T) {
	a := []byte(`{"event":"DOCUMENTS.INVOICE.DELIVERED","company_id":"c","event_data":{"sum":12.30}}`)
	b := []byte("{\n  \"company_id\": \"c\",\n  \"event_data\": {\"sum\": 12.30},\n  \"event\": \"DOCUMENTS.INVOICE.DELIVERED\"\n}\n")
	c := []byte(`{"event":"DOCUMENTS.INVOICE.DELIVERED","company_id":"c","event_data":{"sum":12.3}}`)
	if WebhookHash(a) != WebhookHash(b) {
		t.Error("the same body reformatted hashes differently")
	}
	if WebhookHash(a) == WebhookHash(c) {
		t.Error("12.30 and 12.3 must stay distinct: the hash keeps numbers as written")
	}
	if WebhookHash([]byte("not json")) == WebhookHash([]byte("not json ")) {
		t.Error("non-JSON bodies are hashed as is")
	}
}

func TestEventRoundTrip(t *testing.T) {
	for name, e := range examples(t) {
		t.Run(name, func(t *testing.T) {
			b, err := e.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, e) {
				t.Errorf("round trip changed the event\n got %+v\nwant %+v", got, e)
			}
			if got.MsgID() != e.ID {
				t.Errorf("MsgID %q != id %q", got.MsgID(), e.ID)
			}
			if got.Time.Location() != time.UTC {
				t.Errorf("time not UTC: %v", got.Time)
			}
			v, err := got.DecodeData()
			if err != nil {
				t.Fatal(err)
			}
			def, _ := LookupType(got.Type)
			if reflect.TypeOf(v).Elem() != def.DataType {
				t.Errorf("DecodeData gave %T, want %s", v, def.DataType)
			}
			// Data survives typed decoding and re-encoding unchanged.
			again, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if string(again) != string(got.Data) {
				t.Errorf("typed data round trip:\n got %s\nwant %s", again, got.Data)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	golden, err := os.ReadFile(goldenPath(TypeAssignmentPaid))
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(golden, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	cases := map[string][]byte{
		"not JSON":              []byte("{"),
		"a JSON array":          []byte("[]"),
		"specversion 0.3":       mutate(func(m map[string]any) { m["specversion"] = "0.3" }),
		"no id":                 mutate(func(m map[string]any) { delete(m, "id") }),
		"no source":             mutate(func(m map[string]any) { delete(m, "source") }),
		"no type":               mutate(func(m map[string]any) { delete(m, "type") }),
		"no time":               mutate(func(m map[string]any) { delete(m, "time") }),
		"time not RFC 3339":     mutate(func(m map[string]any) { m["time"] = "yesterday" }),
		"no company id":         mutate(func(m map[string]any) { delete(m, "companyid") }),
		"no data":               mutate(func(m map[string]any) { delete(m, "data") }),
		"XML data content type": mutate(func(m map[string]any) { m["datacontenttype"] = "application/xml" }),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Decode(b); err == nil {
				t.Error("accepted")
			}
		})
	}
	t.Run("unknown attributes are ignored", func(t *testing.T) {
		if _, err := Decode(mutate(func(m map[string]any) { m["newextension"] = "x" })); err != nil {
			t.Error(err)
		}
	})
}

func TestNewRejectsWrongData(t *testing.T) {
	m := Meta{CompanyID: "c", Time: time.Unix(0, 0), Key: []string{"k"}}
	if _, err := New(TypeAssignmentPaid, m, &AssignmentClose{}); err == nil {
		t.Error("assignment.paid accepted AssignmentClose data")
	}
	if _, err := New(TypeAssignmentPaid, Meta{Time: time.Unix(0, 0), Key: []string{"k"}}, &AssignmentPaid{}); err == nil {
		t.Error("accepted an event without company")
	}
	if _, err := New(TypeAssignmentPaid, Meta{CompanyID: "c", Key: []string{"k"}}, &AssignmentPaid{}); err == nil {
		t.Error("accepted an event without time")
	}
	if _, err := New(TypeAssignmentPaid, Meta{CompanyID: "c", Time: time.Unix(0, 0)}, &AssignmentPaid{}); err == nil {
		t.Error("accepted an event without id key")
	}
}

// TestNoFloatMoney: no registered data type has a float field (money is Decimal).
func TestNoFloatMoney(t *testing.T) {
	var walk func(path string, ty reflect.Type, seen map[reflect.Type]bool)
	walk = func(path string, ty reflect.Type, seen map[reflect.Type]bool) {
		if seen[ty] {
			return
		}
		seen[ty] = true
		switch ty.Kind() {
		case reflect.Float32, reflect.Float64:
			t.Errorf("%s is a float", path)
		case reflect.Pointer, reflect.Slice:
			walk(path, ty.Elem(), seen)
		case reflect.Struct:
			for i := 0; i < ty.NumField(); i++ {
				f := ty.Field(i)
				if f.IsExported() {
					walk(path+"."+f.Name, f.Type, seen)
				}
			}
		}
	}
	for _, d := range Types() {
		walk(d.DataType.Name(), d.DataType, map[reflect.Type]bool{})
	}
	walk("Event", reflect.TypeFor[Event](), map[reflect.Type]bool{})
}

// TestRegistry: names, types, subjects and versions are consistent and unique.
func TestRegistry(t *testing.T) {
	seen := map[string]bool{}
	goTypes := map[reflect.Type]string{}
	for _, d := range Types() {
		if seen[d.Type()] || seen[d.Aggregate+"."+d.Event] {
			t.Errorf("duplicate type %s", d.Type())
		}
		seen[d.Type()], seen[d.Aggregate+"."+d.Event] = true, true
		if d.Name != d.Aggregate+"."+d.Event {
			t.Errorf("%s: name is not aggregate.event", d.Name)
		}
		if prev, ok := goTypes[d.DataType]; ok {
			t.Errorf("%s and %s share Go type %s", prev, d.Name, d.DataType)
		}
		goTypes[d.DataType] = d.Name
		if d.Description == "" || d.From == "" || d.SubjectIs == "" || d.IDKey == "" || d.Version < 1 {
			t.Errorf("%s: incomplete definition %+v", d.Name, d)
		}
		if !strings.HasPrefix(d.Type(), TypePrefix) || !strings.HasSuffix(d.Type(), ".v1") {
			t.Errorf("%s: type %s", d.Name, d.Type())
		}
		if got, ok := LookupType(d.Type()); !ok || got.Name != d.Name {
			t.Errorf("LookupType(%s) failed", d.Type())
		}
		subj := d.Subject("53a4e05d-42f0-4e76-acd6-968ab4558c6f")
		if tokens := strings.Split(subj, "."); len(tokens) != 5 {
			t.Errorf("%s: subject %s has %d tokens", d.Name, subj, len(tokens))
		}
	}
	// One assignment.<type> per Maventa assignment event type of seed 003.
	for _, typ := range []string{"paid", "close", "partially_closed", "comment", "due_date_change_request",
		"due_date_changed", "credit_note", "cancel", "freeze", "freeze_confirmed", "unfreezed", "interest_paid",
		"cash_discount", "reminder_sent", "second_reminder_sent", "collection_started", "second_demand_sent",
		"tratta_sent", "legal_collection_started", "application_for_enforcement", "lack_of_means", "payment_plan",
		"credit_loss_suggestion", "credit_loss", "service_level_changed", "delivery_status"} {
		d, ok := TypeForAssignmentEvent(typ)
		if !ok {
			t.Errorf("no event type for Maventa assignment event type %s", typ)
			continue
		}
		if d.Name != "assignment."+typ {
			t.Errorf("%s maps to %s", typ, d.Name)
		}
		if _, ok := creators[typ]; !ok {
			t.Errorf("no creator for %s", typ)
		}
	}
	if _, ok := LookupType("com.example.unknown.v1"); ok {
		t.Error("looked up an unknown type")
	}
	e := Event{Type: "com.example.unknown.v1", CompanyID: "c"}
	if e.PublishSubject() != "receivables.events.c.unrecognized.received" {
		t.Errorf("unknown type published on %s", e.PublishSubject())
	}
}

func FuzzDecode(f *testing.F) {
	for _, d := range Types() {
		if b, err := os.ReadFile(goldenPath(d)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"specversion":"1.0"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes and decodes to the same event.
		out, err := e.Marshal()
		if err != nil {
			t.Fatalf("decoded event does not marshal: %v", err)
		}
		again, err := Decode(out)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		var want bytes.Buffer
		if err := json.Compact(&want, e.Data); err != nil {
			t.Fatal(err)
		}
		if again.ID != e.ID || again.Type != e.Type || !again.Time.Equal(e.Time) || string(again.Data) != want.String() {
			t.Fatalf("round trip changed the event")
		}
		if !ValidToken(SanitizeToken(e.CompanyID)) {
			t.Fatal("company id does not make a valid token")
		}
		_ = e.PublishSubject()
		_, _ = e.DecodeData()
	})
}
