package events

import (
	"encoding/json"
	"testing"
)

func TestDecimalExact(t *testing.T) {
	tests := []struct {
		name string
		got  Decimal
		want string
	}{
		{"0.1 plus 0.2 is exactly 0.3", MustDecimal("0.1").Add(MustDecimal("0.2")), "0.3"},
		{"trailing zero is kept", MustDecimal("12.30"), "12.30"},
		{"negative credit-note payment", MustDecimal("-200.5"), "-200.5"},
		{"exponent is expanded", MustDecimal("1e2"), "100"},
		{"sum minus paid", MustDecimal("12.3").Sub(MustDecimal("10")), "2.3"},
		{"zero value prints 0", Decimal{}, "0"},
		{"negation", MustDecimal("5.00").Neg(), "-5.00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got.String() != tt.want {
				t.Fatalf("got %s, want %s", tt.got, tt.want)
			}
		})
	}
}

func TestDecimalJSON(t *testing.T) {
	var v struct {
		Sum  Decimal `json:"sum"`
		Paid Decimal `json:"paid"`
		None Decimal `json:"none"`
	}
	if err := json.Unmarshal([]byte(`{"sum": 12.30, "paid": "10", "none": null}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.Sum.String() != "12.30" || v.Paid.String() != "10" || !v.None.IsZero() {
		t.Fatalf("decoded %+v", v)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"sum":"12.30","paid":"10","none":"0"}` {
		t.Fatalf("encoded %s", out)
	}
	if MustDecimal("1.0").Cmp(MustDecimal("1.00")) != 0 {
		t.Fatal("1.0 and 1.00 must compare equal")
	}
	for _, bad := range []string{`"1e999999999"`, `"abc"`, `"NaN"`, `"Infinity"`, `true`, `""`} {
		if err := json.Unmarshal([]byte(bad), &v.Sum); err == nil {
			t.Errorf("%s: want error", bad)
		}
	}
}

func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"0", "12.30", "-200.5", "1e2", "0.000001", "abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDecimal(s)
		if err != nil {
			return
		}
		// Whatever parses must round-trip through its own text unchanged.
		again, err := ParseDecimal(d.String())
		if err != nil || again.String() != d.String() || again.Cmp(d) != 0 {
			t.Fatalf("%q -> %q -> %q (%v)", s, d, again, err)
		}
	})
}
