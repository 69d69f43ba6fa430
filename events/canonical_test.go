package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// canonicalJSON is the canonical form WebhookHash hashes, copied out of the
// pooled state so that tests can keep and compare it.
func canonicalJSON(b []byte) []byte {
	st := canonPool.Get().(*canonState)
	out := bytes.Clone(st.canonical(b))
	st.release()
	return out
}

// canonicalJSONV1 is canonicalJSON as it was before the single pass
// (events/event.go at 148fcb7), kept verbatim as the reference the new one
// must match byte for byte.
func canonicalJSONV1(b []byte) []byte {
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

// webhookHashV1 is WebhookHash as it was, over canonicalJSONV1.
func webhookHashV1(body []byte) string {
	sum := sha256.Sum256(canonicalJSONV1(body))
	return hex.EncodeToString(sum[:])
}

// canonEnvelopeBody is the ~420-byte webhook the load tools send (maventa's
// envelopeBody, seed 004's shape).
const canonEnvelopeBody = `{"event":"DOCUMENTS.INVOICE.DELIVERED","company_id":"53a4e05d-42f0-4e76-acd6-968ab4558c6f","event_timestamp":"2019-11-23T12:03:48+02:00","event_data":{"invoice_id":"5f7c0f2e-399b-488e-a001-000000000001","invoice_number":"1","destination":"PEPPOL","recipient_name":"Recipient Oy with a reasonably long trading name","recipient_bid":"933646920","note":"padding padding padding padding padding padding padding padding"}}`

// canonTrickyCases are the inputs where encoding/json's round trip does
// something a naive canonicalizer would not.
var canonTrickyCases = []struct{ name, in string }{
	{"empty input is returned as is", ``},
	{"only whitespace is returned as is", " \n\t "},
	{"not JSON is returned as is", `not json`},
	{"truncated object is returned as is", `{"a":1`},
	{"trailing comma is returned as is", `{"a":1,}`},
	{"second value is returned as is", `{"a":1} {"b":2}`},
	{"garbage after the value is returned as is", `{"a":1}x`},
	{"closing bracket after the value is dropped", `{"b":1,"a":2}]`},
	{"closing brace after a scalar is dropped", `12 }`},
	{"scalar glued to garbage is returned as is", `123abc`},
	{"literal glued to garbage is returned as is", `truex`},
	{"leading and trailing whitespace go", "\r\n {\"b\" : 1 , \"a\" : [ 1 , 2 ] } \n\t"},
	{"keys are sorted in byte order", `{"b":1,"a":2,"B":3,"aa":4,"":5}`},
	{"nested objects are sorted", `{"z":{"y":1,"x":[{"d":1,"c":2}]},"a":null}`},
	{"duplicate key: the last wins", `{"a":1,"b":2,"a":3}`},
	{"duplicate key with an object value: the last wins whole", `{"a":{"x":1,"y":2},"a":{"z":3}}`},
	{"keys equal after unescaping collide", `{"a":1,"\u0061":2}`},
	{"escaped key sorts by its unescaped form", `{"\u003c":1,";":2,"=":3,"\\":4}`},
	{"HTML characters are escaped", `{"h":"<a href=\"x\">&amp;</a>"}`},
	{"HTML escapes in the input are kept escaped", `"\u003c\u003e\u0026"`},
	{"U+2028 and U+2029 raw are escaped", "\"a\u2028b\u2029c\""},
	{"U+2028 escaped stays escaped", `"\u2028\u2029"`},
	{"short escapes", `"\b\f\n\r\t\"\\\/"`},
	{"control characters as \\u escapes", `"\u0000\u0001\u001f\u007f"`},
	{"escaped slash is unescaped", `"http:\/\/example.com\/x"`},
	{"upper-case hex escapes", `"\u00E4\u00C5"`},
	{"non-ASCII raw is kept", `{"nimi":"Åke Öström, Jyväskylä","€":"日本"}`},
	{"non-ASCII escaped is written raw", `"\u00e5\u20ac"`},
	{"surrogate pair escaped", `"\ud83d\ude00"`},
	{"lone high surrogate becomes U+FFFD", `"\ud83d"`},
	{"lone low surrogate becomes U+FFFD", `"\ude00x"`},
	{"high surrogate then non-surrogate escape", `"\ud83d\u0041"`},
	{"two high surrogates", `"\ud83d\ud83d\ude00"`},
	{"high surrogate then a short escape", `"\ud83d\n"`},
	{"invalid UTF-8 byte becomes U+FFFD", "\"a\xffb\""},
	{"truncated UTF-8 sequence", "\"\xe2\x82\""},
	{"UTF-8 encoded surrogate", "\"\xed\xa0\x80\""},
	{"raw U+FFFD is kept", "\"\uFFFD\""},
	{"invalid UTF-8 in a key", "{\"\xff\":1,\"\xfe\":2}"},
	{"invalid escape is returned as is", `"\x"`},
	{"short \\u escape is returned as is", `"\u12"`},
	{"raw control character is returned as is", "\"a\nb\""},
	{"raw unit separator is returned as is", "\"\x1f\""},
	{"raw DEL is kept", "\"\x7f\""},
	{"numbers are kept as written", `[0,-0,1.50,1e5,1E+05,-2.5e-3,12345678901234567890123,0.000]`},
	{"leading zero is returned as is", `[01]`},
	{"bare minus is returned as is", `-`},
	{"dot without digits is returned as is", `1.`},
	{"exponent without digits is returned as is", `1e+`},
	{"empty object and array", `{"a":{},"b":[],"c":[{}]}`},
	{"top-level string", `"x"`},
	{"top-level number", ` 42 `},
	{"top-level true", `true`},
	{"top-level false", `false`},
	{"null", `null`},
	{"null inside", `{"a":null,"b":[null]}`},
	{"misspelt literal is returned as is", `nul`},
	{"byte order mark is returned as is", "\xef\xbb\xbf{}"},
	{"1000 levels of arrays", strings.Repeat("[", 1000) + strings.Repeat("]", 1000)},
	{"1001 levels of arrays", strings.Repeat("[", 1001) + strings.Repeat("]", 1001)},
	{"10000 levels of arrays", strings.Repeat("[", 10000) + strings.Repeat("]", 10000)},
	{"10001 levels of arrays are returned as is", strings.Repeat("[ ", 10001) + strings.Repeat("]", 10001)},
	{"5000 levels of objects", strings.Repeat(`{"b":1,"a":`, 5000) + "0" + strings.Repeat("}", 5000)},
	{"10001 levels of objects are returned as is", strings.Repeat(`{"b":1,"a":`, 10001) + "0" + strings.Repeat("}", 10001)},
	{"the load tools' webhook", canonEnvelopeBody},
}

func TestCanonicalJSONMatchesEncodingJSON(t *testing.T) {
	for _, tc := range canonTrickyCases {
		t.Run(tc.name, func(t *testing.T) {
			want := canonicalJSONV1([]byte(tc.in))
			if got := canonicalJSON([]byte(tc.in)); !bytes.Equal(got, want) {
				t.Errorf("canonicalJSON(%.80q)\n got %.200q\nwant %.200q", tc.in, got, want)
			}
			if got, want := WebhookHash([]byte(tc.in)), webhookHashV1([]byte(tc.in)); got != want {
				t.Errorf("WebhookHash(%.80q) = %s, want %s", tc.in, got, want)
			}
		})
	}
}

// TestCanonicalJSONDoesNotKeepTheInput checks that canonicalJSON's result
// does not share memory with a pooled buffer: a second call must not change
// the first result.
func TestCanonicalJSONDoesNotKeepTheInput(t *testing.T) {
	first := canonicalJSON([]byte(`{"b":1,"a":2}`))
	_ = canonicalJSON([]byte(`{"d":3,"c":4}`))
	if string(first) != `{"a":2,"b":1}` {
		t.Errorf("first result changed to %q", first)
	}
}

// canonSeedBodies are the JSON documents under testdata (webhooks, API
// answers, golden events): real shapes for the fuzzer to mutate.
func canonSeedBodies(tb testing.TB) [][]byte {
	tb.Helper()
	var bodies [][]byte
	for _, pattern := range []string{"testdata/seeds/*.json", "testdata/golden/*.json"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			tb.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				tb.Fatal(err)
			}
			bodies = append(bodies, b)
		}
	}
	if len(bodies) == 0 {
		tb.Fatal("no seed bodies under testdata")
	}
	return bodies
}

// go test -run '^$' -fuzz FuzzCanonicalJSONMatchesEncodingJSON -fuzztime 90s ./events/
// (testdata/fuzz/FuzzCanonicalJSONMatchesEncodingJSON also holds seed 004's
// example webhooks.)
func FuzzCanonicalJSONMatchesEncodingJSON(f *testing.F) {
	for _, tc := range canonTrickyCases {
		if len(tc.in) < 1000 {
			f.Add([]byte(tc.in))
		}
	}
	for _, b := range canonSeedBodies(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want := canonicalJSONV1(b)
		if got := canonicalJSON(b); !bytes.Equal(got, want) {
			t.Errorf("canonicalJSON(%q)\n got %q\nwant %q", b, got, want)
		}
	})
}

// TestCanonicalJSONMatchesOnSeedBodies runs every seed body, compact and
// re-indented, through both implementations.
func TestCanonicalJSONMatchesOnSeedBodies(t *testing.T) {
	for i, b := range canonSeedBodies(t) {
		var indented bytes.Buffer
		if err := json.Indent(&indented, b, "", "\t"); err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		for _, in := range [][]byte{b, indented.Bytes()} {
			if got, want := canonicalJSON(in), canonicalJSONV1(in); !bytes.Equal(got, want) {
				t.Errorf("seed %d:\n got %q\nwant %q", i, got, want)
			}
		}
	}
}

func TestWebhookHashAllocationsStayBounded(t *testing.T) {
	body := []byte(canonEnvelopeBody)
	want := webhookHashV1(body)
	got := testing.AllocsPerRun(200, func() {
		if WebhookHash(body) != want {
			t.Fatal("WebhookHash differs from the encoding/json round trip")
		}
	})
	t.Logf("%.1f allocations per WebhookHash (bound %d)", got, maxWebhookHashAllocs)
	if got > maxWebhookHashAllocs {
		t.Errorf("%.1f allocations per WebhookHash, more than the bound %d", got, maxWebhookHashAllocs)
	}
}

// go test -run '^$' -bench WebhookHash -benchmem -count 4 ./events/
func BenchmarkWebhookHash(b *testing.B) {
	body := []byte(canonEnvelopeBody)
	for _, impl := range []struct {
		name string
		hash func([]byte) string
	}{
		{"v1-encoding-json", webhookHashV1},
		{"single-pass", WebhookHash},
	} {
		b.Run(impl.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				_ = impl.hash(body)
			}
		})
	}
}

// TestCanonicalJSONMatchesOnGeneratedDocuments compares the two on random
// valid documents built from the pieces that matter: keys that collide only
// after unescaping, escapes of every kind, surrogates, HTML characters,
// invalid UTF-8, random whitespace. The fuzzer mutates bytes and seldom keeps
// such a document valid. The seed is fixed, so a failure repeats.
func TestCanonicalJSONMatchesOnGeneratedDocuments(t *testing.T) {
	pieces := []string{
		`a`, `\u0061`, `b`, `B`, ``, `aa`, `<`, `\u003c`, `&`, `>`, `\"`, `\\`, `\/`, `/`,
		`\b`, `\f`, `\n`, `\r`, `\t`, `\u0000`, `\u001F`, "\x7f", `ä`, `\u00e4`, `€`,
		"\u2028", `\u2029`, `\ud83d\ude00`, `😀`, `\ud83d`, `\ude00`, `\uD83D\uDE00`,
		"\xff", "\xed\xa0\x80", "\uFFFD", `\ufffd`,
	}
	spaces := []string{``, ``, ` `, "\n\t", "\r\n  "}
	rng := rand.New(rand.NewPCG(14, 2026))
	var gen func(b *strings.Builder, depth int)
	str := func(b *strings.Builder) {
		b.WriteByte('"')
		for range rng.IntN(3) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		b.WriteByte('"')
	}
	gen = func(b *strings.Builder, depth int) {
		b.WriteString(spaces[rng.IntN(len(spaces))])
		switch k := rng.IntN(8); {
		case k < 2 && depth < 4:
			b.WriteByte('{')
			for i := range rng.IntN(6) {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(spaces[rng.IntN(len(spaces))])
				str(b)
				b.WriteString(spaces[rng.IntN(len(spaces))] + ":")
				gen(b, depth+1)
			}
			b.WriteByte('}')
		case k < 4 && depth < 4:
			b.WriteByte('[')
			for i := range rng.IntN(4) {
				if i > 0 {
					b.WriteByte(',')
				}
				gen(b, depth+1)
			}
			b.WriteByte(']')
		case k < 6:
			str(b)
		default:
			b.WriteString([]string{`0`, `-0.50`, `1E+3`, `12345678901234567890`, `true`, `false`, `null`}[rng.IntN(7)])
		}
		b.WriteString(spaces[rng.IntN(len(spaces))])
	}
	for i := range 20000 {
		var b strings.Builder
		gen(&b, 0)
		in := []byte(b.String())
		if got, want := canonicalJSON(in), canonicalJSONV1(in); !bytes.Equal(got, want) {
			t.Fatalf("document %d %q:\n got %q\nwant %q", i, in, got, want)
		}
	}
}
