package maventa

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/maventa-bridge/maventa-events/events"
)

// Webhook is the envelope Maventa POSTs to a registered notification URL (seed 004):
// {"event", "company_id", "event_timestamp", "event_data"}. Input reads event_data.
type Webhook struct {
	// Event is the event name, AREA.RESOURCE.ACTION, e.g. "DOCUMENTS.INVOICE.DELIVERED".
	Event string
	// CompanyID is the UUID of the company the event is about.
	CompanyID string
	// EventTimestamp is when the event happened (with Maventa's offset).
	EventTimestamp time.Time
	// EventData is the event specific payload, kept raw (nil when absent or null).
	EventData json.RawMessage
}

// WebhookError lists every problem found in a webhook envelope.
type WebhookError struct {
	// Problems are human readable, one per missing or malformed field.
	Problems []string
}

// Error joins the problems.
func (e *WebhookError) Error() string {
	return "maventa: invalid webhook: " + strings.Join(e.Problems, "; ")
}

// ParseWebhookEnvelope decodes and validates a webhook body. It requires event,
// company_id and event_timestamp (RFC 3339) and reports every problem found in
// a *WebhookError; unknown top-level fields are never rejected. The webhook
// receiver uses it on its hot path (it stores the body bytes as they are and
// needs only the fields it routes by), the consumers before Input.
func ParseWebhookEnvelope(body []byte) (Webhook, error) {
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		return Webhook{}, &WebhookError{Problems: []string{"body is empty; a JSON object is required"}}
	case trimmed[0] != '{':
		return Webhook{}, &WebhookError{Problems: []string{"body is not a JSON object"}}
	}
	// One pass of the v2 decoder with encoding/json's semantics (jsonOptions:
	// case-insensitive names, the last of duplicate names, invalid UTF-8
	// accepted) validates the whole body and keeps the four members raw: this
	// runs for every webhook, and encoding/json scans the body twice (validate,
	// then decode) and then each string member twice more. Only when v2
	// refuses the body does encoding/json run, for its error message.
	var top envelopeMembers
	if err := jsonv2.Unmarshal(trimmed, &top, jsonOptions); err != nil {
		top = envelopeMembers{}
		var v1 struct {
			Event          json.RawMessage `json:"event"`
			CompanyID      json.RawMessage `json:"company_id"`
			EventTimestamp json.RawMessage `json:"event_timestamp"`
			EventData      json.RawMessage `json:"event_data"`
		}
		// json.Unmarshal also rejects anything after the object.
		if err := json.Unmarshal(trimmed, &v1); err != nil {
			return Webhook{}, &WebhookError{Problems: []string{"body is not valid JSON: " + err.Error()}}
		}
		top.Event, top.CompanyID = jsontext.Value(v1.Event), jsontext.Value(v1.CompanyID)
		top.EventTimestamp, top.EventData = jsontext.Value(v1.EventTimestamp), jsontext.Value(v1.EventData)
	}
	var w Webhook
	var problems []string
	str := func(name string, raw jsontext.Value) (string, bool) {
		if isNull(json.RawMessage(raw)) {
			problems = append(problems, fmt.Sprintf("missing %q", name))
			return "", false
		}
		if s, ok := plainString(raw); ok {
			if strings.TrimSpace(s) == "" {
				problems = append(problems, fmt.Sprintf("%q is empty", name))
				return "", false
			}
			return s, true
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			problems = append(problems, fmt.Sprintf("%q is not a string", name))
			return "", false
		}
		if strings.TrimSpace(s) == "" {
			problems = append(problems, fmt.Sprintf("%q is empty", name))
			return "", false
		}
		return s, true
	}
	w.Event, _ = str("event", top.Event)
	w.CompanyID, _ = str("company_id", top.CompanyID)
	if ts, ok := str("event_timestamp", top.EventTimestamp); ok {
		t, err := time.Parse(time.RFC3339, ts)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%q is not an RFC 3339 time", "event_timestamp"))
		case events.CheckTime(t) != nil:
			problems = append(problems, fmt.Sprintf("%q must be a time after 0001-01-01T00:00:00Z and before year 10000 in UTC", "event_timestamp"))
		default:
			w.EventTimestamp = t
		}
	}
	if !isNull(json.RawMessage(top.EventData)) {
		w.EventData = json.RawMessage(top.EventData)
	}
	if len(problems) > 0 {
		return Webhook{}, &WebhookError{Problems: problems}
	}
	return w, nil
}

// envelopeMembers are the members of a webhook envelope, raw.
type envelopeMembers struct {
	Event          jsontext.Value `json:"event"`
	CompanyID      jsontext.Value `json:"company_id"`
	EventTimestamp jsontext.Value `json:"event_timestamp"`
	EventData      jsontext.Value `json:"event_data"`
}

// plainString is the value of raw when it is a JSON string without escapes
// and of printable ASCII only, which is what encoding/json would decode it to
// (every event name, company id and timestamp Maventa sends); ok is false for
// anything else, which the caller decodes with encoding/json.
func plainString(raw jsontext.Value) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	in := raw[1 : len(raw)-1]
	for _, c := range in {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return "", false
		}
	}
	return string(in), true
}

// EventName is a webhook event name split into its parts.
type EventName struct {
	// Area is the first part, e.g. "DOCUMENTS", "NETWORKS", "COMPANIES".
	Area string
	// Resource is the middle part, e.g. "INVOICE", "PEPPOL", "AUTHORIZATION".
	Resource string
	// Action is the last part, e.g. "DELIVERED", "ENABLED", "VERIFIED".
	Action string
}

// ParseEventName splits "AREA.RESOURCE.ACTION"; ok is false when the name has not
// exactly three non-empty parts (it may still be a valid, just unfamiliar, name).
func ParseEventName(name string) (EventName, bool) {
	parts := strings.Split(name, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return EventName{}, false
	}
	return EventName{Area: parts[0], Resource: parts[1], Action: parts[2]}, true
}

// Name splits w.Event into AREA.RESOURCE.ACTION.
func (w Webhook) Name() (EventName, bool) { return ParseEventName(w.Event) }

// Webhook event areas documented in seed 004.
const (
	// AreaDocuments covers DOCUMENTS.<TYPE>.DELIVERED|DELIVERY_CONFIRMED|FAILED|RECEIVED.
	AreaDocuments = "DOCUMENTS"
	// AreaNetworks covers NETWORKS.<NETWORK>.CREATED|ENABLED|DISABLED.
	AreaNetworks = "NETWORKS"
	// AreaCompanies covers COMPANIES.AUTHORIZATION.VERIFIED|UNVERIFIED|UNKNOWN.
	AreaCompanies = "COMPANIES"
)
