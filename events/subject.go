package events

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// SubjectRoot is the first two tokens of every subject we publish on:
// "receivables.events.<company_id>.<aggregate>.<name>".
const SubjectRoot = "receivables.events"

// SubjectFor returns the NATS subject of an event of the given aggregate and name
// about companyID: "receivables.events.<company_id>.<aggregate>.<name>", each
// variable part passed through SanitizeToken so the subject always has exactly
// five tokens. Consumers filter with wildcards, e.g. "receivables.events.*.assignment.>"
// or "receivables.events.<company_id>.>".
func SubjectFor(companyID, aggregate, name string) string {
	return SubjectRoot + "." + SanitizeToken(companyID) + "." + SanitizeToken(aggregate) + "." + SanitizeToken(name)
}

// PublishSubject is the NATS subject e is published on. Events of a type not in
// the registry go to the unrecognized subject of their company.
func (e Event) PublishSubject() string {
	def, ok := LookupType(e.Type)
	if !ok {
		def = TypeUnrecognized
	}
	return def.Subject(e.CompanyID)
}

// SanitizeToken turns s into exactly one valid NATS subject token, so that outside
// input (a company id, an event name from a webhook) can never add tokens or
// wildcards to a subject. It is used for every subject this service builds: the
// raw-webhook subjects and the domain-event subjects.
//
// Letters, digits and "-" and "_" (ASCII) are kept, so Maventa's UUIDs and event
// names pass unchanged without allocating. Every other byte, including ".", "*",
// ">", whitespace, control characters, non-ASCII, invalid UTF-8 and "%" itself,
// is escaped as "%XX" (upper-case hex), and the empty string becomes "%" (which no
// escape produces), so distinct inputs give distinct tokens. Tokens longer than
// MaxTokenLen after escaping are cut to a prefix plus "%H" and 16 hex digits of
// their SHA-256: NATS refuses protocol lines over 4 KiB, so a hostile input must
// not be able to make a subject that long.
func SanitizeToken(s string) string {
	if s == "" {
		return "%"
	}
	clean := len(s) <= MaxTokenLen
	for i := 0; clean && i < len(s); i++ {
		clean = plainTokenByte(s[i])
	}
	if clean {
		return s
	}
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plainTokenByte(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdig[c>>4])
		b.WriteByte(hexdig[c&0xF])
	}
	out := b.String()
	if len(out) > MaxTokenLen {
		sum := sha256.Sum256([]byte(s))
		out = out[:MaxTokenLen-18] + "%H" + hex.EncodeToString(sum[:8])
	}
	return out
}

// MaxTokenLen bounds the length of a SanitizeToken result.
const MaxTokenLen = 96

func plainTokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// Stream defaults: the stream every event is published to.
const (
	// StreamName is the JetStream stream name.
	StreamName = "RECEIVABLES_EVENTS"
	// StreamSubjects captures every subject of SubjectFor.
	StreamSubjects = SubjectRoot + ".>"
	// StreamMaxAge is the retention: 30 days.
	StreamMaxAge = 30 * 24 * time.Hour
	// StreamDuplicateWindow is how long JetStream remembers a Nats-Msg-Id (=
	// event id) to drop a re-published event. Maventa retries a webhook every
	// hour for 24 hours: two hours catch the first retry; later ones carry the
	// same event id, which is what consumers de-duplicate on.
	StreamDuplicateWindow = 2 * time.Hour
)
