package events

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// canonicalJSONSlow is the decode and re-encode with encoding/json that
// defines the canonical form; canonState falls back to it.
func canonicalJSONSlow(b []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return b
	}
	out, err := json.Marshal(v)
	if err != nil {
		return b
	}
	return out
}

// maxCanonDepth is how deep canonState nests before handing the body to
// canonicalJSONSlow (whose decoder stops at 10000): real webhooks nest a few
// levels, and the bound keeps the recursion's stack small.
const maxCanonDepth = 1000

// maxPooledCanon is the largest buffer a pooled canonState keeps, so that one
// huge body does not pin its memory in the pool.
const maxPooledCanon = 64 << 10

var canonPool = sync.Pool{New: func() any {
	// Room for the members of a webhook's objects, so a new state grows
	// no stack while it writes one.
	return &canonState{members: make([]canonMember, 0, 32)}
}}

// canonMember is one object member written to canonState.out: out[start:end]
// is `"key":value`, and key the unescaped key it sorts by.
type canonMember struct {
	key        []byte
	start, end int
}

// canonState writes the canonical form of one JSON text. Its buffers are
// reused across calls (canonPool), so a body costs no allocation once warm.
type canonState struct {
	in      []byte
	pos     int
	out     []byte
	keys    []byte        // unescaped keys that had escapes or non-ASCII, a stack
	str     []byte        // an unescaped string value, scratch
	tmp     []byte        // an object's members while reordered, scratch
	members []canonMember // members of the open objects, a stack
}

// canonical returns the canonical JSON of b as WebhookHash hashes it; it
// aliases st.out or b, valid until st is reused.
//
// The bytes are exactly what decoding b with encoding/json (UseNumber) into
// any and re-encoding it with json.Marshal gives (canonicalJSONSlow), and b
// itself when that decode fails or more than whitespace (or a closing bracket)
// follows the value. That round trip was about 30 % of the consumer's CPU per
// webhook, so a single pass over the bytes does the work for valid JSON
// followed only by whitespace, and anything else goes to the round trip.
// FuzzCanonicalJSONMatchesEncodingJSON holds the two to the same bytes.
func (st *canonState) canonical(b []byte) []byte {
	st.in, st.pos = b, 0
	st.out, st.keys, st.members = st.out[:0], st.keys[:0], st.members[:0]
	if cap(st.out) < len(b) {
		// Compaction makes the canonical form no longer than b unless
		// it escapes more than b did: one allocation for a new state.
		st.out = make([]byte, 0, len(b)+len(b)/8)
	}
	st.skipSpace()
	ok := st.value(0)
	st.skipSpace()
	st.in = nil
	clear(st.members) // drop references to b
	if !ok || st.pos != len(b) {
		return canonicalJSONSlow(b)
	}
	return st.out
}

func (st *canonState) release() {
	if cap(st.out) > maxPooledCanon || cap(st.tmp) > maxPooledCanon ||
		cap(st.keys) > maxPooledCanon || cap(st.str) > maxPooledCanon {
		return
	}
	canonPool.Put(st)
}

func (st *canonState) skipSpace() {
	for st.pos < len(st.in) {
		switch st.in[st.pos] {
		case ' ', '\t', '\n', '\r':
			st.pos++
		default:
			return
		}
	}
}

// peek returns the byte at pos, or 0 at the end (never valid there).
func (st *canonState) peek() byte {
	if st.pos < len(st.in) {
		return st.in[st.pos]
	}
	return 0
}

// value writes the value at pos; false means b is not valid JSON or is
// beyond what this pass decides (then the caller falls back).
func (st *canonState) value(depth int) bool {
	switch c := st.peek(); {
	case c == '{':
		return st.object(depth + 1)
	case c == '[':
		return st.array(depth + 1)
	case c == '"':
		raw, plain, ok := st.scanString()
		if !ok {
			return false
		}
		if plain {
			st.out = append(st.out, st.in[st.pos-len(raw)-2:st.pos]...)
			return true
		}
		st.str, ok = unescapeJSON(st.str[:0], raw)
		st.out = appendHTMLJSONString(st.out, st.str)
		return ok
	case c == 't':
		return st.literal("true")
	case c == 'f':
		return st.literal("false")
	case c == 'n':
		return st.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return st.number()
	}
	return false
}

func (st *canonState) literal(lit string) bool {
	if len(st.in)-st.pos < len(lit) || string(st.in[st.pos:st.pos+len(lit)]) != lit {
		return false
	}
	st.pos += len(lit)
	st.out = append(st.out, lit...)
	return true
}

// number writes the number at pos as written (json.Number keeps it so),
// after checking JSON's number grammar.
func (st *canonState) number() bool {
	in, i := st.in, st.pos
	digits := func() bool {
		j := i
		for i < len(in) && in[i] >= '0' && in[i] <= '9' {
			i++
		}
		return i > j
	}
	if in[i] == '-' {
		i++
	}
	switch {
	case i < len(in) && in[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(in) && in[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(in) && (in[i] == 'e' || in[i] == 'E') {
		i++
		if i < len(in) && (in[i] == '+' || in[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	st.out = append(st.out, in[st.pos:i]...)
	st.pos = i
	return true
}

// scanString moves pos past the string at pos and returns its raw content.
// plain means the content is also its canonical form: printable ASCII with
// nothing that is escaped either way (no \, no <, >, &).
func (st *canonState) scanString() (raw []byte, plain, ok bool) {
	in := st.in
	start := st.pos + 1
	plain = true
	for i := start; i < len(in); i++ {
		if plainJSONByte[in[i]] {
			continue
		}
		switch c := in[i]; {
		case c == '"':
			st.pos = i + 1
			return in[start:i], plain, true
		case c < 0x20:
			return nil, false, false
		case c == '\\':
			plain = false
			i++ // the escaped byte; unescapeJSON checks the escape
		default: // non-ASCII, <, > or &
			plain = false
		}
	}
	return nil, false, false
}

// plainJSONByte reports the bytes that stand for themselves both in a JSON
// string and in json.Marshal's output (HTML escaping on).
var plainJSONByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = !strings.ContainsRune(`"\<>&`, rune(c))
	}
	return t
}()

func (st *canonState) array(depth int) bool {
	if depth > maxCanonDepth {
		return false
	}
	st.pos++
	st.out = append(st.out, '[')
	st.skipSpace()
	if st.peek() == ']' {
		st.pos++
		st.out = append(st.out, ']')
		return true
	}
	for {
		if !st.value(depth) {
			return false
		}
		st.skipSpace()
		switch st.peek() {
		case ',':
			st.pos++
			st.out = append(st.out, ',')
			st.skipSpace()
		case ']':
			st.pos++
			st.out = append(st.out, ']')
			return true
		default:
			return false
		}
	}
}

// object writes the object at pos with its members sorted by unescaped key
// in byte order, and of members with the same key only the last, as
// json.Marshal writes the map that decoding the object gives.
func (st *canonState) object(depth int) bool {
	if depth > maxCanonDepth {
		return false
	}
	st.pos++
	st.out = append(st.out, '{')
	body := len(st.out)
	base, keysBase := len(st.members), len(st.keys)
	sorted := true
	st.skipSpace()
	if st.peek() == '}' {
		st.pos++
		st.out = append(st.out, '}')
		return true
	}
	for {
		if st.peek() != '"' {
			return false
		}
		if len(st.members) > base {
			st.out = append(st.out, ',')
		}
		start := len(st.out)
		raw, plain, ok := st.scanString()
		if !ok {
			return false
		}
		key := raw
		if plain {
			st.out = append(st.out, st.in[st.pos-len(raw)-2:st.pos]...)
		} else {
			k := len(st.keys)
			if st.keys, ok = unescapeJSON(st.keys, raw); !ok {
				return false
			}
			key = st.keys[k:]
			st.out = appendHTMLJSONString(st.out, key)
		}
		st.skipSpace()
		if st.peek() != ':' {
			return false
		}
		st.pos++
		st.out = append(st.out, ':')
		st.skipSpace()
		if !st.value(depth) {
			return false
		}
		if n := len(st.members); n > base && bytes.Compare(st.members[n-1].key, key) >= 0 {
			sorted = false
		}
		st.members = append(st.members, canonMember{key: key, start: start, end: len(st.out)})
		st.skipSpace()
		switch st.peek() {
		case ',':
			st.pos++
			st.skipSpace()
			continue
		case '}':
			st.pos++
		default:
			return false
		}
		break
	}
	if !sorted {
		st.reorder(body, st.members[base:])
	}
	st.out = append(st.out, '}')
	st.members = st.members[:base]
	st.keys = st.keys[:keysBase]
	return true
}

// reorder rewrites out[body:], the members ms written in input order, in
// key order, keeping of equal keys the last written (a map decode keeps the
// last).
func (st *canonState) reorder(body int, ms []canonMember) {
	// Members are written in input order, so start breaks ties by it; an
	// unstable sort with that tie-break stays O(n log n) on many equal keys.
	slices.SortFunc(ms, func(a, b canonMember) int {
		if c := bytes.Compare(a.key, b.key); c != 0 {
			return c
		}
		return cmp.Compare(a.start, b.start)
	})
	if cap(st.tmp) < len(st.out)-body {
		st.tmp = make([]byte, 0, len(st.in)) // room for any object in the input
	}
	st.tmp = append(st.tmp[:0], st.out[body:]...)
	st.out = st.out[:body]
	for i, m := range ms {
		if i+1 < len(ms) && bytes.Equal(ms[i+1].key, m.key) {
			continue
		}
		if len(st.out) > body {
			st.out = append(st.out, ',')
		}
		st.out = append(st.out, st.tmp[m.start-body:m.end-body]...)
	}
}

// unescapeJSON appends the string whose raw JSON content is raw to dst as
// encoding/json decodes it: invalid UTF-8 and lone or invalid surrogate
// escapes become U+FFFD. false means an escape JSON does not have.
func unescapeJSON(dst, raw []byte) ([]byte, bool) {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, raw[i:i+size]...)
			}
			i += size
			continue
		}
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		if i+1 >= len(raw) {
			return dst, false
		}
		switch e := raw[i+1]; e {
		case '"', '\\', '/':
			dst = append(dst, e)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(raw[i:])
			if r < 0 {
				return dst, false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				// A pair decodes to one rune; anything else makes the
				// first escape U+FFFD and leaves the next to itself.
				if d := utf16.DecodeRune(r, hex4(raw[i:])); d != utf8.RuneError {
					r = d
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			return dst, false
		}
		i += 2
	}
	return dst, true
}

// hex4 returns the code unit of the escape \uXXXX that s starts with, or -1.
func hex4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// htmlEscapes is how json.Marshal (HTML escaping on) writes each ASCII byte
// it escapes; "" means the byte stands for itself.
var htmlEscapes = func() (t [utf8.RuneSelf]string) {
	for c := range 0x20 {
		t[c] = `\u00` + string(hexDigits[c>>4]) + string(hexDigits[c&0xF])
	}
	t['\b'], t['\f'], t['\n'], t['\r'], t['\t'] = `\b`, `\f`, `\n`, `\r`, `\t`
	t['"'], t['\\'] = `\"`, `\\`
	t['<'], t['>'], t['&'] = `\u003c`, `\u003e`, `\u0026`
	return t
}()

// appendHTMLJSONString appends s quoted as json.Marshal quotes a string:
// HTML escaping on, U+2028 and U+2029 escaped, invalid UTF-8 as \ufffd.
func appendHTMLJSONString(b, s []byte) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if esc := htmlEscapes[c]; esc != "" {
				b = append(b, s[start:i]...)
				b = append(b, esc...)
				start = i + 1
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if esc := ""; r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			switch r {
			case '\u2028':
				esc = `\u2028`
			case '\u2029':
				esc = `\u2029`
			default:
				esc = `\ufffd`
			}
			b = append(b, s[start:i]...)
			b = append(b, esc...)
			start = i + size
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
