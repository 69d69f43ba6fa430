package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cockroachdb/apd/v3"
)

// Decimal is an exact decimal number, used for every amount of money.
//
// Maventa sends amounts as JSON numbers (`"sum": 12.3`); decoding them into a
// float64 would silently turn 0.1+0.2 into 0.30000000000000004, so Decimal keeps
// the number's text exactly as written (12.30 stays 12.30) and does arithmetic
// with apd. The zero value is 0. Decimal is comparable with == only by text
// ("1.0" != "1.00"); use Cmp for numeric equality.
//
// In our own JSON (domain events) a Decimal is written as a string, so that no
// consumer's JSON library can round it through a binary float.
type Decimal struct {
	s string // canonical plain (non-exponent) text; "" means 0
}

// ParseDecimal parses s ("12.30", "-200.5", "1e2") into a Decimal.
// NaN, infinities and anything that is not a finite decimal number are rejected.
func ParseDecimal(s string) (Decimal, error) {
	s = strings.TrimSpace(s)
	var d apd.Decimal
	if _, _, err := d.SetString(s); err != nil {
		return Decimal{}, fmt.Errorf("invalid decimal %q: %w", s, err)
	}
	if d.Form != apd.Finite {
		return Decimal{}, fmt.Errorf("invalid decimal %q: not a finite number", s)
	}
	// No amount of money needs more; the bound keeps "1e999999999" from expanding
	// into a gigabyte of digits when printed.
	if d.Exponent > maxScale || d.Exponent < -maxScale || d.NumDigits() > maxDigits {
		return Decimal{}, fmt.Errorf("invalid decimal %q: out of range for an amount", s)
	}
	return fromAPD(&d), nil
}

const (
	maxScale  = 30 // largest accepted |exponent|
	maxDigits = 40 // most significant digits accepted
)

// MustDecimal is ParseDecimal for constants in code and tests; it panics on bad input.
func MustDecimal(s string) Decimal {
	d, err := ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return d
}

func fromAPD(d *apd.Decimal) Decimal {
	if d.IsZero() {
		// apd keeps a sign and a positive exponent on zero ("-0", "0e1" prints "00");
		// money has neither, so zero keeps only its scale ("0.00").
		d.Negative = false
		if d.Exponent >= 0 {
			return Decimal{}
		}
	}
	return Decimal{s: d.Text('f')}
}

func (d Decimal) apd() *apd.Decimal {
	var x apd.Decimal
	if d.s != "" {
		// The text was produced by apd itself, so it always parses.
		if _, _, err := x.SetString(d.s); err != nil {
			panic(fmt.Sprintf("events.Decimal holds unparseable text %q", d.s))
		}
	}
	return &x
}

// String returns the exact decimal text, without exponent ("12.30", "0").
func (d Decimal) String() string {
	if d.s == "" {
		return "0"
	}
	return d.s
}

// ctx has enough precision for any amount of money and errors on inexact results,
// so Add and Sub are exact or panic (they cannot be inexact at this precision).
var ctx = func() *apd.Context {
	c := apd.BaseContext.WithPrecision(100)
	c.Traps = apd.DefaultTraps | apd.Inexact | apd.Rounded
	return c
}()

// Add returns d+o exactly.
func (d Decimal) Add(o Decimal) Decimal {
	var r apd.Decimal
	if _, err := ctx.Add(&r, d.apd(), o.apd()); err != nil {
		panic(fmt.Sprintf("decimal add %s+%s: %v", d, o, err))
	}
	return fromAPD(&r)
}

// Sub returns d-o exactly.
func (d Decimal) Sub(o Decimal) Decimal {
	var r apd.Decimal
	if _, err := ctx.Sub(&r, d.apd(), o.apd()); err != nil {
		panic(fmt.Sprintf("decimal sub %s-%s: %v", d, o, err))
	}
	return fromAPD(&r)
}

// Neg returns -d.
func (d Decimal) Neg() Decimal {
	var r apd.Decimal
	r.Neg(d.apd())
	return fromAPD(&r)
}

// Cmp compares numerically: -1 if d<o, 0 if equal (1.0 == 1.00), +1 if d>o.
func (d Decimal) Cmp(o Decimal) int { return d.apd().Cmp(o.apd()) }

// Sign is -1, 0 or +1.
func (d Decimal) Sign() int { return d.apd().Sign() }

// IsZero reports whether d is numerically zero.
func (d Decimal) IsZero() bool { return d.Sign() == 0 }

// MarshalJSON writes d as a JSON string ("12.30").
func (d Decimal) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON accepts a JSON number (as Maventa sends) or a JSON string holding
// one (as we publish). null leaves d unchanged, like encoding/json does for numbers.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("decimal: %w", err)
		}
	}
	v, err := ParseDecimal(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalText and UnmarshalText let Decimal be used in text encodings (YAML, query strings).
func (d Decimal) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses the exact decimal text.
func (d *Decimal) UnmarshalText(b []byte) error {
	v, err := ParseDecimal(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// JSONNumber returns d as a json.Number, for APIs (Maventa's) that expect a JSON number.
func (d Decimal) JSONNumber() json.Number { return json.Number(d.String()) }
