package events

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitizeToken(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"a UUID is unchanged", "53a4e05d-42f0-4e76-acd6-968ab4558c6f", "53a4e05d-42f0-4e76-acd6-968ab4558c6f"},
		{"underscores and case are kept", "delivery_status_FAILED", "delivery_status_FAILED"},
		{"empty becomes a lone percent, which no escape produces", "", "%"},
		{"a lone underscore is kept", "_", "_"},
		{"a dot cannot add a token", "a.b", "a%2Eb"},
		{"wildcards are escaped", "*>", "%2A%3E"},
		{"whitespace is escaped", "a b\tc\n", "a%20b%09c%0A"},
		{"control characters are escaped", "\x00\x7f", "%00%7F"},
		{"percent is escaped so escapes cannot collide", "%2E", "%252E"},
		{"non-ASCII is escaped byte by byte", "ä", "%C3%A4"},
		{"invalid UTF-8 is escaped", "\xff", "%FF"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := SanitizeToken(c.in)
			if got != c.want {
				t.Errorf("SanitizeToken(%q) = %q, want %q", c.in, got, c.want)
			}
			if !ValidToken(got) {
				t.Errorf("%q is not a valid token", got)
			}
		})
	}
	if SanitizeToken("a.b") == SanitizeToken("a_b") || SanitizeToken("a b") == SanitizeToken("a.b") {
		t.Error("distinct inputs share a token")
	}
}

func TestSanitizeTokenBoundsLength(t *testing.T) {
	long := strings.Repeat("a", 200)
	got := SanitizeToken(long)
	if len(got) != MaxTokenLen || !strings.HasPrefix(got, strings.Repeat("a", MaxTokenLen-18)+"%H") {
		t.Fatalf("SanitizeToken(200 x a) = %q", got)
	}
	if SanitizeToken(long+"b") == got {
		t.Fatal("two long inputs with a common prefix share a token")
	}
	if n := len(SanitizeToken(strings.Repeat(".", 1<<20))); n > MaxTokenLen {
		t.Fatalf("a 1 MiB hostile token became %d bytes", n)
	}
}

func TestSubjectFor(t *testing.T) {
	got := TypeAssignmentPaid.Subject("53a4e05d-42f0-4e76-acd6-968ab4558c6f")
	if want := "receivables.events.53a4e05d-42f0-4e76-acd6-968ab4558c6f.assignment.paid"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got := SubjectFor("evil.>", "assignment", "paid"); got != "receivables.events.evil%2E%3E.assignment.paid" {
		t.Errorf("hostile company id gave %s", got)
	}
	if !strings.HasPrefix(TypeAssignmentPaid.Subject("x"), strings.TrimSuffix(StreamSubjects, ">")) {
		t.Error("subjects are not captured by the stream")
	}
}

func FuzzSanitizeToken(f *testing.F) {
	for _, s := range []string{"", "a.b", "*", ">", " ", "\x00", "\xff", "ä", "%", "53a4e05d-42f0-4e76-acd6-968ab4558c6f", "_"} {
		f.Add(s, "x")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ta := SanitizeToken(a)
		if !ValidToken(ta) || !utf8.ValidString(ta) || strings.ContainsAny(ta, ".*> \t\r\n") {
			t.Fatalf("SanitizeToken(%q) = %q is not a valid token", a, ta)
		}
		if len(ta) > MaxTokenLen {
			t.Fatalf("SanitizeToken(%q) is %d bytes long", a, len(ta))
		}
		// Injective (up to a hash collision for over-long tokens).
		if a != b && ta == SanitizeToken(b) {
			t.Fatalf("%q and %q share token %q", a, b, ta)
		}
		subject := SubjectFor(a, "assignment", b)
		if n := len(strings.Split(subject, ".")); n != 5 {
			t.Fatalf("subject %q has %d tokens", subject, n)
		}
	})
}
