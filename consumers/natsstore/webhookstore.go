package natsstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
)

// Headers stored with every raw webhook, beside the body bytes.
const (
	HeaderEvent      = "Maventa-Event"      // the envelope's event name, unescaped
	HeaderCompanyID  = "Maventa-Company-Id" // the envelope's company_id, unescaped
	HeaderReceivedAt = "Received-At"        // RFC 3339 time the request arrived
	HeaderRemoteAddr = "Remote-Addr"        // the sender's address as seen by us
	HeaderReason     = "Quarantine-Reason"  // why a request was quarantined
)

// PublishMode selects how the store waits for JetStream.
type PublishMode int

const (
	// PublishAsync sends without waiting and waits for the acknowledgement on a
	// future, so concurrent requests share the connection and their acks are
	// pipelined. The default.
	PublishAsync PublishMode = iota
	// PublishSync does one request/reply round trip per webhook: the naive design,
	// kept only so the load tool can measure the difference in the same run.
	PublishSync
)

// ErrStoreUnavailable wraps every failure to get a write acknowledged, except a
// refusal of the message itself (RefusedError), so the receiver can answer 503
// (our failure, retry later) rather than 400.
var ErrStoreUnavailable = errors.New("webhook store unavailable")

// Kinds of RefusedError.
const (
	RefusedTooLarge        = "too_large"         // headers and body over the server's max_payload
	RefusedHeadersTooLarge = "headers_too_large" // headers over JetStream's 64 KiB
	RefusedInvalidSubject  = "invalid_subject"
)

// RefusedError is JetStream's (or the client's) refusal of the message itself:
// sending the same message again can never succeed, unlike ErrStoreUnavailable.
type RefusedError struct {
	Kind string // one of the Refused* constants
	Err  error
}

func (e *RefusedError) Error() string {
	return "webhook store refused the message (" + e.Kind + "): " + e.Err.Error()
}
func (e *RefusedError) Unwrap() error { return e.Err }

// RefusedKind lets callers that do not import this package (the HTTP edge)
// recognise a refusal by behaviour.
func (e *RefusedError) RefusedKind() string { return e.Kind }

// storeError classifies a failed publish: a refusal of the message itself, or
// the store being unavailable (everything else, including unknown errors, so
// that the sender retries).
func storeError(err error) error {
	kind := ""
	var api *jetstream.APIError
	switch {
	case errors.Is(err, nats.ErrMaxPayload):
		kind = RefusedTooLarge
	case errors.Is(err, nats.ErrBadSubject):
		kind = RefusedInvalidSubject
	case errors.As(err, &api) && api.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum:
		kind = RefusedTooLarge
	case errors.As(err, &api) && api.ErrorCode == jsErrCodeHeaderExceedsMaximum:
		kind = RefusedHeadersTooLarge
	}
	if kind != "" {
		return &RefusedError{Kind: kind, Err: err}
	}
	return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
}

// storeFull reports JetStream's "no space" answers (the store or account
// limit reached). They stay ErrStoreUnavailable (503: space returns when old
// messages age out or the limit is raised, and Maventa's retry then succeeds),
// but are counted apart so that an alert can say what to fix.
func storeFull(err error) bool {
	var api *jetstream.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode {
	case 10023, 10047, 10002: // insufficient resources; storage resources exceeded; account limits
		return true
	}
	return false
}

// jsErrCodeHeaderExceedsMaximum is nats-server's JSStreamHeaderExceedsMaximumErr
// ("header size exceeds maximum allowed of 64k"), which nats.go does not name.
const jsErrCodeHeaderExceedsMaximum jetstream.ErrorCode = 10097

// maxHeaderValue is the most bytes of one stored header value. Values come from
// outside (event name, company id, User-Agent, X-Forwarded-For) and JetStream
// refuses a message whose headers exceed 64 KiB: a longer value is cut and
// marked with its length and hash, so the message is still stored.
const maxHeaderValue = 1024

// WebhookStore writes webhooks to the raw-webhook stream and malformed requests
// to the quarantine stream.
type WebhookStore struct {
	js         jetstream.JetStream
	webhooks   string
	quarantine string
	mode       PublishMode
	group      groupCommit // PublishAsync's webhook writes
}

// NewWebhookStore returns a store writing into the streams of c (provision them
// first with EnsureIntakeStreams).
func NewWebhookStore(js jetstream.JetStream, c StreamsConfig, mode PublishMode) *WebhookStore {
	c = c.withDefaults()
	s := &WebhookStore{js: js, webhooks: c.WebhookStream, quarantine: c.QuarantineStream, mode: mode}
	s.group = groupCommit{js: js, stream: c.WebhookStream, maxInFlight: DefaultGroupsInFlight}
	return s
}

// BodyID is the deduplication id of a webhook: a hash of its body bytes. Maventa
// sends no delivery id and a retry carries the same body, so equal bodies are the
// same delivery.
func BodyID(body []byte) string {
	sum := sha256.Sum256(body)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Store writes one webhook and returns once JetStream has acknowledged it.
// duplicate is true when JetStream already held the same body within its
// duplicate window (nothing new was stored). meta is copied into the message
// headers (request metadata worth keeping for later re-normalization).
//
// In PublishAsync mode concurrent calls are grouped (group commit): while
// earlier writes await their acknowledgement, the webhooks queued behind them
// are written as one message (WebhookGroupSubject), and each call returns
// once the message holding its webhook is acknowledged. A lone call is written
// at once, as a message of its own, exactly as without grouping (its body
// hash as Nats-Msg-Id, so JetStream's duplicate window applies); a webhook
// stored in a group is never reported as a duplicate (see groupCommit).
func (s *WebhookStore) Store(ctx context.Context, companyID, event string, body []byte, meta http.Header) (duplicate bool, err error) {
	msg, id := webhookMessage(companyID, event, body, meta)
	return s.publish(ctx, msg, s.webhooks, id, attrEvent.String(event), attrCompanyID.String(companyID))
}

// webhookMessage is a webhook as Store writes it (before publish sanitizes
// its headers and adds the trace context), and its body id.
func webhookMessage(companyID, event string, body []byte, meta http.Header) (*nats.Msg, string) {
	return &nats.Msg{Subject: WebhookSubject(companyID, event), Data: body,
		Header: headerWith(meta, HeaderEvent, event, HeaderCompanyID, companyID)}, BodyID(body)
}

// Quarantine keeps an authenticated request that could not be understood, with
// the reason, deduplicated by body like Store.
func (s *WebhookStore) Quarantine(ctx context.Context, reason string, body []byte, meta http.Header) (duplicate bool, err error) {
	msg := &nats.Msg{Subject: QuarantineSubject(reason), Data: body, Header: headerWith(meta, HeaderReason, reason)}
	return s.publish(ctx, msg, s.quarantine, BodyID(body))
}

// headerWith is a copy of meta (which stays untouched) with the canonical
// keys and values of kv set: one map and one backing array for the values,
// where Clone and Set made a map, an array and a slice per value set.
func headerWith(meta http.Header, kv ...string) nats.Header {
	n := 0
	for _, vs := range meta {
		n += len(vs)
	}
	// The room for what publish adds (trace context) avoids growing the map.
	h := make(nats.Header, len(meta)+len(kv)/2+2)
	vals := make([]string, 0, n+len(kv)/2)
	for k, vs := range meta {
		vals = append(vals, vs...)
		h[k] = vals[len(vals)-len(vs) : len(vals) : len(vals)]
	}
	for i := 0; i+1 < len(kv); i += 2 {
		vals = append(vals, kv[i+1])
		h[kv[i]] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	return h
}

// publish writes msg within a producer span whose context it injects into the
// message headers (W3C traceparent/tracestate, lower-case), so that processing
// the stored webhook continues the request's trace.
func (s *WebhookStore) publish(ctx context.Context, msg *nats.Msg, stream, id string, attrs ...attribute.KeyValue) (dup bool, err error) {
	ctx, span := startPublish(ctx, stream, msg.Subject, id, len(msg.Data), attrs...)
	defer func() {
		if err != nil {
			kind := "nats"
			var refused *RefusedError
			switch {
			case errors.As(err, &refused):
				kind = "refused"
			case storeFull(err):
				kind = "store_full"
			case ctx.Err() != nil:
				kind = "timeout"
			}
			storeFailures.Add(ctx, 1, metric.WithAttributes(attrStream.String(stream), attrErrorType.String(kind)))
			span.RecordError(err)
			span.SetStatus(codes.Error, "not acknowledged")
		} else if span.IsRecording() {
			span.SetAttributes(attrDuplicate.Bool(dup))
		}
		span.End()
	}()
	sanitizeHeader(msg.Header)
	inject(ctx, msg.Header)
	var seq uint64
	switch {
	case s.mode == PublishSync:
		var ack *jetstream.PubAck
		ack, err = s.js.PublishMsg(ctx, msg, jetstream.WithMsgID(id), jetstream.WithExpectStream(stream))
		if err != nil {
			return false, storeError(err)
		}
		dup, seq = ack.Duplicate, ack.Sequence
	case stream == s.webhooks:
		dup, seq, err = s.group.store(ctx, msg, id)
	default:
		dup, seq, err = publishAlone(ctx, s.js, msg, stream, id)
	}
	if err == nil && span.IsRecording() {
		span.SetAttributes(attrStreamSequence.Int64(int64(seq)))
	}
	return dup, err
}

// publishAlone writes msg as a message of its own with the acknowledgement
// pipelined (the connection is shared by concurrent requests) and waits for it.
func publishAlone(ctx context.Context, js jetstream.JetStream, msg *nats.Msg, stream, id string) (dup bool, seq uint64, err error) {
	f, err := js.PublishMsgAsync(msg, jetstream.WithMsgID(id), jetstream.WithExpectStream(stream))
	if err != nil {
		return false, 0, storeError(err)
	}
	select {
	case ack := <-f.Ok():
		return ack.Duplicate, ack.Sequence, nil
	case err := <-f.Err():
		return false, 0, storeError(err)
	case <-ctx.Done():
		return false, 0, errNoAck(ctx)
	}
}

// errNoAck is the error of a write whose acknowledgement did not come before
// ctx ended. The write may still land; the sender's retry is then
// deduplicated (within the window, for a webhook stored alone) or handled by
// the consumers' per-aggregate records.
func errNoAck(ctx context.Context) error {
	return fmt.Errorf("%w: no acknowledgement before the deadline: %w", ErrStoreUnavailable, ctx.Err())
}

// sanitizeHeader replaces control characters in header values: they come from
// outside (a JSON string may hold "\r\n") and would corrupt the NATS protocol.
// It also caps every value at maxHeaderValue bytes.
func sanitizeHeader(h nats.Header) {
	for k, vs := range h {
		for i, v := range vs {
			v = capHeaderValue(v)
			vs[i] = v
			if strings.IndexFunc(v, unicode.IsControl) >= 0 {
				vs[i] = strings.Map(func(r rune) rune {
					if unicode.IsControl(r) {
						return ' '
					}
					return r
				}, v)
			}
		}
		h[k] = vs
	}
}

// capHeaderValue cuts v to maxHeaderValue bytes (at a character boundary) and
// appends its original length and the start of its SHA-256, so that two long
// values stay distinguishable and an operator sees that it was cut.
func capHeaderValue(v string) string {
	if len(v) <= maxHeaderValue {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	suffix := fmt.Sprintf("...[cut: %d bytes, sha256 %x]", len(v), sum[:8])
	keep := maxHeaderValue - len(suffix)
	for keep > 0 && !utf8.RuneStart(v[keep]) {
		keep--
	}
	return v[:keep] + suffix
}
