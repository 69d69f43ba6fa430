package maventa

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
)

// codecInputs are decoded into every type: for each, whatever a type does not
// declare is an unknown member, so together they cover known, unknown, nested,
// duplicate, differently cased, null, malformed and invalid members.
var codecInputs = []string{
	`{}`,
	`null`,
	` { "id" : "x" } `,
	`{"id":"x","ID":"y","Id":"z"}`,
	`{"status":"a","status":"b","STATUS":"c"}`,
	`{"name":"n","NAME":null,"bid":"b","bid":null}`,
	`{"sum":"12.30","paid":10,"sum_paid":-1.50,"SUM":1.000}`,
	`{"sum":1e2,"paid":-0,"sum_paid":"  7 ","ſum":5}`,
	`{"seen_at":null,"created_at":"2020-04-15T05:47:07+03:00","happened_at":"2020-04-16T00:00:00.123456789Z","updated_at":null,"closed_at":"2020-04-16T00:00:00Z"}`,
	`{"created_at":"2020-04-15t05:47:07z","seen_at":"2020-04-15T05:47:07.5-00:30"}`,
	`{"x-extra":1,"future":{"a":[1, 2 ,3]},"future":true,"Future":"\u00e9<&>\u2028","\u00e9":"é"}`,
	"{\"name\":\"a\xffb\",\"seen_by\":\"\xfe\",\"k\xff\":\"v\xff\",\"debtor\":{\"name\":\"\xff\",\"n\xffx\":1},\"ID\xff\":2}",
	`{"seenby":"a","seen-by":"b","SeenBy":"c","due-date":"d","duedate":"e","Due_Date":"f","collectionstatus":"g"}`,
	`{"debtor":{"name":"D","NAME":"E","bid":"1","x":1},"reference_ids":[{"type":"t","value":"v","scheme":"s"},null],` +
		`"events":[{"id":"e","type":"paid","data":{"sum_paid":1},"seens":[{"seen_by":"x","how":"api"},null],"origin":"a"},null],` +
		`"vfsfi":{"iban":"I","notes":[{"phrase":"p","code":"FI","lang":"x"}],"extra":1},"notes":[{"code":"SV"}]}`,
	`{"debtor":null,"events":null,"reference_ids":null,"vfsfi":null,"frozen":null,"flagged":null,"seens":null,"data":null,"profiles":null}`,
	`{"frozen":false,"flagged":true,"profiles":["a"],"events":[],"seens":[],"billing_address":{"country":"FI"},"end_date":""}`,
	`{"data": {"a" : 1 ,"b":[ ]} ,"events":[{"data":"x"}]}`,
	`{"message":"<script>\u2028</script>","comment":"a\"b\\c","phrase":"\ud83d\ude00"}`,
	`{"debtor":{"name":"a"},"debtor":{"bid":"b"},"events":[{"id":"1"}],"events":[{"id":"2"},{"id":"3"}]}`,
	`{"x":[[[[[[{"y":null}]]]]]],"y":-1.5e-3,"z":false}`,
	`{"number":"1","invoice_id":"i","credit_note_number":"c","destination_type":"WEBHOOK","events":["DOCUMENTS.*.*"]}`,
	`{"id":"\ud800","name":"\udc00x","x":"\ud800","\ud800":{"a":1,"a":2},"y":{"b":[{"c":1,"c":2}]}}`,
	"{\r\n\t\"id\" :\t\"a\" ,\"x\":\r\n[ 1E+2 , -0.0e-0 , 1e400 ]\n}\n",
	// Malformed: every one is an error for some type, some for all.
	`[]`, `"str"`, `5`, `true`, ``, ` `,
	`{"id":5}`, `{"debtor":"x"}`, `{"events":[{"seens":{}}]}`, `{"events":[{"seens":[{"seen_by":1}]}]}`,
	`{"sum":"abc"}`, `{"sum":true}`, `{"sum":1e999999}`, `{"sum_paid":[]}`, `{"sum":null,"paid":"1x"}`,
	`{"created_at":"yesterday"}`, `{"created_at":5}`, `{"seens":[{"seen_at":"2020-13-01T00:00:00Z"}]}`,
	`{"frozen":"yes"}`, `{"flagged":1}`, `{"reference_ids":[{"value":1}]}`, `{"vfsfi":{"notes":[{"code":2}]}}`,
	`{"profiles":[1]}`, `{"events":[{"data":{},"created_at":"bad"}]}`, `{"id":5,"status":6}`,
	`{"id":"a",}`, `{"id":"a"} x`, `{"id":"a"`, `{id:1}`, `{"id":"a\u12"}`, "{\"id\":\"\x01\"}",
	`{"id":5,"x":}`, `{"events":[{"id":5}],"x":[}`, `{"x":1}{"y":2}`,
}

// TestCodecKeepsEncodingJSONSemantics pins, one by one, the encoding/json
// behaviours callers rely on that encoding/json/v2 does not have by default.
func TestCodecKeepsEncodingJSONSemantics(t *testing.T) {
	decode := []struct {
		name  string
		in    string
		check func(a Assignment) bool
	}{
		{"names match case-insensitively", `{"ID":"a","Sum":1.5,"DEBTOR":{"Name":"d"},"Events":[{"TYPE":"paid"}]}`,
			func(a Assignment) bool {
				return a.ID == "a" && a.Sum.String() == "1.5" && a.Debtor.Name == "d" && a.Events[0].Type == EventPaid &&
					a.Extra == nil && a.Debtor.Extra == nil && a.Events[0].Extra == nil
			}},
		{"but not ignoring underscores or dashes", `{"dueDate":"x","due-date":"y","duedate":"z"}`,
			func(a Assignment) bool { return a.DueDate == "" && len(a.Extra) == 3 }},
		{"the last of duplicate names wins, a repeated object merges into the first", `{"id":"a","Id":"b","x":1,"x":2,"debtor":{"name":"n","bid":"1"},"debtor":{"name":"m"}}`,
			func(a Assignment) bool {
				return a.ID == "b" && string(a.Extra["x"]) == "2" && a.Debtor.Name == "m" && a.Debtor.BID == "1" && len(a.Debtor.Extra) == 0
			}},
		{"invalid UTF-8 is replaced by U+FFFD", "{\"id\":\"a\xffb\",\"k\xff\":\"v\"}",
			func(a Assignment) bool { return a.ID == "a\ufffdb" && string(a.Extra["k\ufffd"]) == `"v"` }},
		{"null leaves pointers and times nil, strings and amounts alone", `{"created_at":null,"closed_at":null,"id":"a","id":null,"sum":1,"sum":null,"events":null}`,
			func(a Assignment) bool {
				return a.CreatedAt == nil && a.ClosedAt == nil && a.ID == "a" && a.Sum.String() == "1" && a.Events == nil
			}},
		{"field order does not matter", `{"events":[{"seens":[{"seen_by":"x"}],"id":"e"}],"paid":"2.00","id":"a"}`,
			func(a Assignment) bool { return a.ID == "a" && a.Events[0].ID == "e" && a.Paid.String() == "2.00" }},
		{"amounts are read from numbers and strings, exactly", `{"sum":0.1,"paid":"0.2"}`,
			func(a Assignment) bool { return a.Sum.Add(a.Paid).String() == "0.3" }},
		{"times are RFC 3339 with their offset", `{"created_at":"2020-04-15T08:47:07.5+03:00"}`,
			func(a Assignment) bool {
				return a.CreatedAt.Equal(time.Date(2020, 4, 15, 5, 47, 7, 5e8, time.UTC)) && a.CreatedAt.Format(time.RFC3339Nano) == "2020-04-15T08:47:07.5+03:00"
			}},
		{"unknown members keep their raw text", `{"x" : { "a" : [1, 2] },"y":"\u00e9"}`,
			func(a Assignment) bool {
				return string(a.Extra["x"]) == `{ "a" : [1, 2] }` && string(a.Extra["y"]) == `"\u00e9"`
			}},
	}
	for _, tt := range decode {
		t.Run(tt.name, func(t *testing.T) {
			for _, dec := range []func([]byte, *Assignment) error{
				func(b []byte, a *Assignment) error { return Unmarshal(b, a) },
				func(b []byte, a *Assignment) error { return jsonv2.Unmarshal(b, a, jsonOptions) },
			} {
				var a Assignment
				if err := dec([]byte(tt.in), &a); err != nil {
					t.Fatal(err)
				}
				if !tt.check(a) {
					t.Errorf("%s: %+v", tt.in, a)
				}
			}
		})
	}

	f := false
	encode := []struct {
		name    string
		v       any
		want    []string
		notWant []string
	}{
		{"amounts are exact JSON numbers", PaidData{SumPaid: mustDec("12.30")}, []string{`"sum_paid":12.30`}, nil},
		{"an extra of a name declared in another case is written", Debtor{Name: "n", Extra: map[string]json.RawMessage{"NAME": json.RawMessage(`"y"`)}},
			[]string{`"name":"n"`, `"NAME":"y"`}, nil},
		{"but fill in for one omitempty leaves out", Debtor{Name: "n", Extra: map[string]json.RawMessage{"bid": json.RawMessage(`"b"`)}},
			[]string{`"bid":"b"`}, nil},
		{"omitempty omits false, nil and empty as encoding/json does", MessageThread{ID: "t"}, []string{`"id":"t"`}, []string{"flagged", "assignment_id"}},
		{"but a pointer to false is written", FreezeData{Frozen: &f}, []string{`"frozen":false`}, []string{"end_date"}},
		{"nil lists are null, empty omitempty lists omitted", Assignment{Events: []Event{}}, []string{`"reference_ids":null`}, []string{"events"}},
		{"strings are escaped for HTML", CommentData{Comment: "<&>"}, []string{`"\u003c\u0026\u003e"`}, nil},
		{"unknown members are written compact, sorted, after the fields", Seen{SeenBy: "x", Extra: map[string]json.RawMessage{"b": json.RawMessage(`[1, 2]`), "a": json.RawMessage(`{ }`)}},
			[]string{`{"seen_at":null,"seen_by":"x","a":{},"b":[1,2]}`}, nil},
	}
	for _, tt := range encode {
		t.Run(tt.name, func(t *testing.T) {
			v1, err := Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(v1), w) {
					t.Errorf("%s lacks %s", v1, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(string(v1), w) {
					t.Errorf("%s has %s", v1, w)
				}
			}
		})
	}
}

// TestMarshalWritesNumbersAsEncodingJSONDoes pins json.Number in request
// bodies (TransferAmounts): a number, 0 when empty, an error when not a number.
func TestMarshalWritesNumbersAsEncodingJSONDoes(t *testing.T) {
	tests := []struct {
		name    string
		n       json.Number
		want    string
		wantErr bool
	}{
		{"a number is written as it is", "1250.00", `{"n":1250.00}`, false},
		{"an empty number is 0", "", `{"n":0}`, false},
		{"a negative exponent", "-1.5e-3", `{"n":-1.5e-3}`, false},
		{"text is refused", "12,30", "", true},
		{"a quoted number is refused", `"12"`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Marshal(struct {
				N json.Number `json:"n"`
			}{tt.n})
			if (err != nil) != tt.wantErr || string(got) != tt.want {
				t.Errorf("Marshal(%q) = %s, %v; want %s, error %v", tt.n, got, err, tt.want, tt.wantErr)
			}
			if v1, err1 := json.Marshal(struct {
				N json.Number `json:"n"`
			}{tt.n}); (err1 != nil) != tt.wantErr || string(v1) != tt.want {
				t.Errorf("encoding/json disagrees: %s, %v", v1, err1)
			}
		})
	}
}

// TestUnmarshalErrorNamesTheBadMember pins the error path: the error is
// encoding/json's, but never about Extra, which encoding/json takes for a
// member named "Extra".
func TestUnmarshalErrorNamesTheBadMember(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"a bad member after an unknown one named extra", `{"extra":1,"id":5}`, `"/id"`},
		{"a bad member before it", `{"id":5,"extra":1}`, "Assignment.id"},
		{"a bad nested member after extra", `{"debtor":{"extra":1,"name":5}}`, `"/debtor/name"`},
		{"a syntax error", `{"extra":1,"id":}`, "invalid character '}'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Assignment{ID: "before"}
			err := Unmarshal([]byte(tt.in), &a)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "Extra") {
				t.Errorf("Unmarshal(%s) error %v, want one naming %s", tt.in, err, tt.want)
			}
			if !reflect.DeepEqual(a, Assignment{}) {
				t.Errorf("Unmarshal(%s) left %+v, want the zero value", tt.in, a)
			}
		})
	}
	var a Assignment
	if err := Unmarshal([]byte(`{"extra":1,"Extra":2}`), &a); err != nil || string(a.Extra["extra"]) != "1" || string(a.Extra["Extra"]) != "2" {
		t.Errorf("members named extra: %+v, %v", a.Extra, err)
	}
}
