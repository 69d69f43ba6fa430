package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// SpecVersion is the CloudEvents specification version of every event we publish.
const SpecVersion = "1.0"

// ContentType is the content type of a published NATS message: CloudEvents in
// structured mode, where the message payload is the whole CloudEvent as JSON.
//
// Structured (not binary) mode was chosen because any NATS client or the nats CLI
// then shows a self-describing JSON document (attributes and data together), the
// envelope survives any hop that drops NATS headers, and the CloudEvents sdk-go
// decodes the payload directly with json.Unmarshal into event.Event.
const ContentType = "application/cloudevents+json"

// DataContentType is the datacontenttype of every event: its data is JSON.
const DataContentType = "application/json"

// TypePrefix starts every CloudEvents type string; the registry appends
// "<aggregate>.<name>.v<version>".
const TypePrefix = "com.maventa-bridge.receivables."

// SchemaBaseURL is where the JSON Schemas of the data (docs/schemas/) are published;
// an event's dataschema is SchemaBaseURL + "<aggregate>.<name>.v<version>.json".
// It is also each schema file's $id.
const SchemaBaseURL = "https://github.com/maventa-bridge/maventa-events/blob/main/docs/schemas/"

// idNamespace is the UUIDv5 namespace of event ids. Changing it changes every id,
// which would break de-duplication across a deployment: never change it.
var idNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/maventa-bridge/maventa-events/ids"))

// NewID returns the deterministic id of an event: the same Maventa fact always
// yields the same id, so a re-delivered webhook or a re-polled assignment event is
// de-duplicated by JetStream (the id is also the Nats-Msg-Id) and by consumers.
//
// kind is the registry name of the event type ("assignment.paid"); keyParts are the
// parts of the fact's natural key, documented per type in docs/events.md. The id is
// a UUIDv5 over a fixed namespace and the length-prefixed parts
// ("<len>:<kind>" "<len>:<part>"...), so no choice of parts can collide with
// another by moving a separator ("a.b"+"c" != "a"+"b.c").
func NewID(kind string, keyParts ...string) string {
	var b strings.Builder
	writePart := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	writePart(kind)
	for _, p := range keyParts {
		writePart(p)
	}
	return uuid.NewSHA1(idNamespace, []byte(b.String())).String()
}

// IDFor returns the id of the event of type def about the fact whose natural
// key is key (def.IDKey says which parts, in order).
func IDFor(def TypeDef, key ...string) string { return NewID(def.versioned(), key...) }

// WebhookHash returns the identity of a Maventa webhook body: the hex SHA-256 of the
// body's canonical JSON (object keys sorted, insignificant whitespace removed,
// numbers kept as written). Maventa sends no delivery id and retries with the same
// body, so this hash is what makes a retry recognisable. A body that is not JSON is
// hashed as is.
func WebhookHash(body []byte) string {
	st := canonPool.Get().(*canonState)
	sum := sha256.Sum256(st.canonical(body))
	st.release()
	var h [2 * sha256.Size]byte
	hex.Encode(h[:], sum[:])
	return string(h[:])
}

// SourceFor returns the CloudEvents source of events about a Maventa company:
// "maventa://companies/<company_id>" (a URI-reference; the id is path-escaped).
// Together with id it is unique per event, as CloudEvents requires.
func SourceFor(companyID string) string {
	return "maventa://companies/" + url.PathEscape(companyID)
}

// Event is the envelope of every published event: a CloudEvents 1.0 event in
// structured JSON mode. Attributes are fields; Data is the type's data as JSON.
//
// Extensions (lower-case alphanumeric names, as CloudEvents requires):
// companyid, maventaeventid (Maventa's assignment event id), webhookid (WebhookHash
// of the originating webhook), traceparent/tracestate (CloudEvents distributed
// tracing extension, W3C Trace Context) and sequence (ordering, see Sequence).
type Event struct {
	// SpecVersion is the CloudEvents version, "1.0".
	SpecVersion string `json:"specversion"`
	// ID is the deterministic event id (NewID); also the Nats-Msg-Id.
	ID string `json:"id"`
	// Source is maventa://companies/<company_id> (SourceFor).
	Source string `json:"source"`
	// Type is the versioned CloudEvents type, e.g. com.maventa-bridge.receivables.assignment.paid.v1.
	Type string `json:"type"`
	// Subject is what the event is about: the assignment id, invoice id, network, provider or thread id.
	Subject string `json:"subject,omitempty"`
	// Time is when the fact happened at Maventa, in UTC.
	Time time.Time `json:"time"`
	// DataContentType is always application/json.
	DataContentType string `json:"datacontenttype"`
	// DataSchema is the URL of the JSON Schema of Data (TypeDef.SchemaURL).
	DataSchema string `json:"dataschema,omitempty"`

	// CompanyID is the Maventa company the event is about (extension companyid).
	CompanyID string `json:"companyid"`
	// MaventaEventID is the id of the Maventa assignment event the event derives
	// from, when there is one (extension maventaeventid).
	MaventaEventID string `json:"maventaeventid,omitempty"`
	// WebhookID is the WebhookHash of the Maventa webhook the event derives from,
	// when there is one (extension webhookid).
	WebhookID string `json:"webhookid,omitempty"`
	// TraceParent is the W3C traceparent of the handling that produced the event
	// (CloudEvents distributed tracing extension).
	TraceParent string `json:"traceparent,omitempty"`
	// TraceState is the W3C tracestate that goes with TraceParent.
	TraceState string `json:"tracestate,omitempty"`
	// Sequence orders events of one subject (CloudEvents sequence extension): the
	// time Maventa recorded the fact (webhook event_timestamp, assignment event
	// created_at, assignment updated_at), UTC, fixed width, so that comparing two
	// sequences as strings compares them in time. A consumer holding state newer
	// than an event's sequence may treat the event as stale.
	Sequence string `json:"sequence,omitempty"`
	// CorrelationID is the correlation id the caller gave a command, on that
	// command's outcome event (extension correlationid).
	CorrelationID string `json:"correlationid,omitempty"`

	// Data is the type's data (see the registry), as JSON.
	Data json.RawMessage `json:"data"`
}

// SequenceFor formats t as a Sequence value: UTC, nanoseconds, fixed width.
func SequenceFor(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z")
}

// Meta is what an event needs besides its data: which fact it is and where it came from.
type Meta struct {
	// CompanyID is the Maventa company id; required.
	CompanyID string
	// Subject is the CloudEvents subject: the assignment id for assignment events,
	// the invoice id for invoice events, the network / provider / thread id otherwise.
	Subject string
	// Time is when the fact happened at Maventa (not when we saw it); required.
	Time time.Time
	// RecordedAt is when Maventa recorded the fact; it becomes the sequence.
	// Zero means Time.
	RecordedAt time.Time
	// Key is the natural key passed to NewID after the type's registry name.
	Key []string
	// MaventaEventID and WebhookID: see Event.
	MaventaEventID string
	WebhookID      string
	// TraceParent and TraceState: see Event. Empty means not traced.
	TraceParent string
	TraceState  string
	// CorrelationID: see Event.
	CorrelationID string
}

// New builds the event of type def about a fact described by m, with data (which
// must be of def's Go data type). The id is NewID of the versioned type name
// ("assignment.paid.v1": a new major version of a type is a new fact) and m.Key.
func New(def TypeDef, m Meta, data any) (Event, error) {
	if m.CompanyID == "" {
		return Event{}, errors.New("events: company id is required")
	}
	if err := CheckTime(m.Time); err != nil {
		return Event{}, err
	}
	if !inRange(m.RecordedAt) {
		return Event{}, errOutOfRange
	}
	if len(m.Key) == 0 {
		return Event{}, errors.New("events: an id key is required")
	}
	if t := reflect.TypeOf(data); def.DataType != nil && t != nil {
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t != def.DataType {
			return Event{}, fmt.Errorf("events: %s carries %s, not %T", def.Name, def.DataType, data)
		}
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("events: %s data: %w", def.Name, err)
	}
	rec := m.RecordedAt
	if rec.IsZero() {
		rec = m.Time
	}
	return Event{
		SpecVersion:     SpecVersion,
		ID:              NewID(def.versioned(), m.Key...),
		Source:          SourceFor(m.CompanyID),
		Type:            def.Type(),
		Subject:         m.Subject,
		Time:            m.Time.UTC(),
		DataContentType: DataContentType,
		DataSchema:      def.SchemaURL(),
		CompanyID:       m.CompanyID,
		MaventaEventID:  m.MaventaEventID,
		WebhookID:       m.WebhookID,
		TraceParent:     m.TraceParent,
		TraceState:      m.TraceState,
		Sequence:        SequenceFor(rec),
		CorrelationID:   m.CorrelationID,
		Data:            raw,
	}, nil
}

var errOutOfRange = errors.New("events: time outside years 1-9999 in UTC")

// CheckTime reports whether t can be the time of an event: set, and within
// years 1-9999 in UTC (RFC 3339 cannot write others). The webhook intake uses
// it too, so that what it accepts the consumers can process.
func CheckTime(t time.Time) error {
	if t.IsZero() {
		return errors.New("events: time is required")
	}
	if !inRange(t) {
		return errOutOfRange
	}
	return nil
}

// inRange reports whether t (in UTC) can be written as RFC 3339; the zero time is in range.
func inRange(t time.Time) bool {
	y := t.UTC().Year()
	return t.IsZero() || (y >= 1 && y <= 9999)
}

// MsgID is the NATS message id (Nats-Msg-Id header) to publish e with: its id, so
// JetStream's duplicate window drops a re-published fact.
func (e Event) MsgID() string { return e.ID }

// Marshal returns e as the structured-mode CloudEvent JSON that is the NATS payload.
//
// The bytes are exactly encoding/json's for Event with HTML escaping off
// (TestMarshalMatchesEncodingJSON, the golden payloads), written by hand:
// every emitted event passes here, and the reflective encoder with its
// separate validity scan of Data cost about 3 % of the service's CPU at
// 1 000 enriched webhooks/s (docs/performance.md). Data is checked and
// compacted in one pass.
func (e Event) Marshal() ([]byte, error) {
	errs := e.attributeErrors()
	// Room for every attribute quoted, so the one buffer is the only allocation.
	b := make([]byte, 0, 256+len(e.Data)+len(e.ID)+len(e.Source)+len(e.Type)+len(e.Subject)+len(e.DataSchema)+
		len(e.CompanyID)+len(e.MaventaEventID)+len(e.WebhookID)+len(e.TraceParent)+len(e.TraceState)+len(e.Sequence)+len(e.CorrelationID))
	b = append(b, `{"specversion":`...)
	b = appendJSONString(b, e.SpecVersion)
	b = appendJSONField(b, "id", e.ID, false)
	b = appendJSONField(b, "source", e.Source, false)
	b = appendJSONField(b, "type", e.Type, false)
	b = appendJSONField(b, "subject", e.Subject, true)
	b = append(b, `,"time":"`...)
	b, err := e.Time.AppendText(b)
	if err != nil && len(errs) == 0 {
		return nil, fmt.Errorf("events: marshal: %w", err)
	}
	b = append(b, '"')
	b = appendJSONField(b, "datacontenttype", e.DataContentType, false)
	b = appendJSONField(b, "dataschema", e.DataSchema, true)
	b = appendJSONField(b, "companyid", e.CompanyID, false)
	b = appendJSONField(b, "maventaeventid", e.MaventaEventID, true)
	b = appendJSONField(b, "webhookid", e.WebhookID, true)
	b = appendJSONField(b, "traceparent", e.TraceParent, true)
	b = appendJSONField(b, "tracestate", e.TraceState, true)
	b = appendJSONField(b, "sequence", e.Sequence, true)
	b = appendJSONField(b, "correlationid", e.CorrelationID, true)
	b = append(b, `,"data":`...)
	// json.Compact (no HTML escaping) is what the encoder applies to a
	// RawMessage, and it fails exactly when json.Valid does.
	out := bytes.NewBuffer(b)
	if len(e.Data) == 0 || json.Compact(out, e.Data) != nil {
		errs = append(errs, errDataNotJSON)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("events: invalid event: %w", err)
	}
	return append(out.Bytes(), '}'), nil
}

var errDataNotJSON = errors.New("data is not JSON")

// appendJSONField appends ,"name":value; with omitEmpty nothing when value is "".
func appendJSONField(b []byte, name, value string, omitEmpty bool) []byte {
	if omitEmpty && value == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendJSONString(b, value)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted as encoding/json does with HTML escaping
// off: invalid UTF-8 becomes \ufffd, U+2028 and U+2029 are escaped, control
// characters use the short escapes where JSON has them.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Validate checks the attributes CloudEvents requires and our own invariants.
func (e Event) Validate() error {
	errs := e.attributeErrors()
	if len(e.Data) == 0 || !json.Valid(e.Data) {
		errs = append(errs, errDataNotJSON)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("events: invalid event: %w", err)
	}
	return nil
}

// attributeErrors is what Validate finds wrong besides Data.
func (e Event) attributeErrors() []error {
	var errs []error
	if e.SpecVersion != SpecVersion {
		errs = append(errs, fmt.Errorf("specversion %q is not %q", e.SpecVersion, SpecVersion))
	}
	if e.ID == "" {
		errs = append(errs, errors.New("id is empty"))
	}
	if e.Source == "" {
		errs = append(errs, errors.New("source is empty"))
	}
	if e.Type == "" {
		errs = append(errs, errors.New("type is empty"))
	}
	if e.Time.IsZero() {
		errs = append(errs, errors.New("time is empty"))
	} else if !inRange(e.Time) {
		errs = append(errs, errors.New("time outside years 1-9999"))
	}
	if e.CompanyID == "" {
		errs = append(errs, errors.New("companyid is empty"))
	}
	if e.DataContentType != DataContentType {
		errs = append(errs, fmt.Errorf("datacontenttype %q is not %q", e.DataContentType, DataContentType))
	}
	return errs
}

// Decode parses a NATS payload (structured-mode CloudEvent JSON) into an Event and
// validates it. Unknown attributes are ignored, so a newer publisher's extensions
// do not break an older consumer.
func Decode(b []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		return Event{}, fmt.Errorf("events: decode: %w", err)
	}
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}

// DecodeData returns e's data as a pointer to its registered Go data type
// (*AssignmentPaid for assignment.paid.v1, ...). Events of an unregistered type
// decode into *Unrecognized-like generic JSON (map[string]any) so nothing is lost.
func (e Event) DecodeData() (any, error) {
	def, ok := LookupType(e.Type)
	if !ok {
		var v map[string]any
		if err := json.Unmarshal(e.Data, &v); err != nil {
			return nil, fmt.Errorf("events: data of %s: %w", e.Type, err)
		}
		return v, nil
	}
	v := def.newData()
	if err := json.Unmarshal(e.Data, v); err != nil {
		return nil, fmt.Errorf("events: data of %s: %w", e.Type, err)
	}
	return v, nil
}

// Rekeyed returns e with its id computed from another natural key (NewID of its
// type's registry name and key). A fact that more than one path can observe (an
// invoice's delivery, seen by webhook and by polling) needs a key that every
// path can compute; the builders key by what they see, and the caller that
// knows better rekeys.
func (e Event) Rekeyed(key ...string) Event {
	name := e.Type
	if def, ok := LookupType(e.Type); ok {
		name = def.versioned()
	}
	e.ID = NewID(name, key...)
	return e
}
