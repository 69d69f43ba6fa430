package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/maventa-bridge/maventa-events/maventa"
)

// Store keeps webhooks durably. Both methods return only after the write is
// acknowledged; duplicate reports that the same body was already stored.
type Store interface {
	Store(ctx context.Context, companyID, event string, body []byte, meta http.Header) (duplicate bool, err error)
	Quarantine(ctx context.Context, reason string, body []byte, meta http.Header) (duplicate bool, err error)
}

// Defaults of WebhookConfig's zero fields (the service's options read them).
const (
	DefaultMaxBody    = 1 << 20
	DefaultTimeout    = 2 * time.Second
	DefaultRetryAfter = 5 * time.Second
)

// WebhookConfig configures the webhook endpoint.
type WebhookConfig struct {
	// Secrets accepted for authentication. Nil disables authentication, which the
	// service allows only with an explicit insecure development flag.
	Secrets *Secrets
	// MaxBody is the largest accepted body in bytes. Default 1 MiB.
	MaxBody int64
	// Timeout bounds the whole request, from reading the body to the store's
	// acknowledgement, well inside Maventa's 5 s. Default 2 s.
	Timeout time.Duration
	// RetryAfter is sent with 503 answers. Default 5 s. (Maventa itself retries
	// hourly whatever we say; other senders, like the load tool, honour it.)
	RetryAfter time.Duration
}

func (c WebhookConfig) withDefaults() WebhookConfig {
	if c.MaxBody == 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.RetryAfter == 0 {
		c.RetryAfter = DefaultRetryAfter
	}
	return c
}

// storedBody is the answer to a stored webhook.
type storedBody struct {
	Status    string `json:"status"`
	Duplicate bool   `json:"duplicate"`
}

// handleWebhook receives one Maventa webhook: authenticate, bound, validate,
// store, and answer 200 only once the store has acknowledged the write.
func handleWebhook(cfg WebhookConfig, store Store, log *slog.Logger) http.Handler {
	cfg = cfg.withDefaults()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, cancel := context.WithTimeout(r.Context(), cfg.Timeout)
		defer cancel()
		info := requestInfoFrom(r.Context())
		span := trace.SpanFromContext(ctx)

		if cfg.Secrets != nil && !cfg.Secrets.authorized(r) {
			recordWebhook(ctx, familyUnknown, outcomeUnauthorized, start)
			writeError(w, codeUnauthorized, "a valid secret is required (Basic auth password or ?secret=)", nil, 0)
			return
		}
		if r.ContentLength > cfg.MaxBody {
			recordWebhook(ctx, familyUnknown, outcomeTooLarge, start)
			writeError(w, codeTooLarge, "body exceeds the limit", nil, 0)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, cfg.MaxBody))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				recordWebhook(ctx, familyUnknown, outcomeTooLarge, start)
				writeError(w, codeTooLarge, "body exceeds the limit", nil, 0)
				return
			}
			// The body ended before its Content-Length (the sender went away, or
			// was cut off by the server's read timeout). The sender authenticated,
			// so what did arrive is kept, as every authenticated 400 is. The
			// request's deadline has usually passed by now: the quarantine gets a
			// short one of its own, inside the server's WriteTimeout.
			problem := fmt.Sprintf("the body ended after %d bytes: %v", len(body), err)
			if r.ContentLength >= 0 {
				problem = fmt.Sprintf("the body ended after %d of %d bytes: %v", len(body), r.ContentLength, err)
			}
			problems := []string{problem}
			qctx, qcancel := context.WithTimeout(context.WithoutCancel(ctx), lateQuarantineTimeout)
			defer qcancel()
			kept, qerr := keepInQuarantine(qctx, store, "incomplete_body", body, withProblems(requestMeta(r), problems))
			if qerr != nil {
				log.ErrorContext(ctx, "quarantine failed", "err", qerr)
				recordWebhook(ctx, familyUnknown, outcomeUnavailable, start)
				writeError(w, codeUnavailable, "the webhook could not be stored; retry later", nil, cfg.RetryAfter)
				return
			}
			info.add(slog.Bool("quarantined", kept))
			msg := "could not read the whole request body; what arrived was kept for inspection"
			if !kept {
				msg = "could not read the whole request body"
			}
			recordWebhook(ctx, familyUnknown, outcomeInvalid, start)
			writeError(w, codeInvalid, msg, problems, 0)
			return
		}
		meta := requestMeta(r)
		// The same parser the consumers use, so that what is accepted here can
		// always be processed later.
		env, err := maventa.ParseWebhookEnvelope(body)
		if err != nil {
			problems := []string{err.Error()}
			var we *maventa.WebhookError
			if errors.As(err, &we) {
				problems = we.Problems
			}
			kept, err := keepInQuarantine(ctx, store, "invalid_envelope", body, withProblems(meta, problems))
			info.add(slog.Bool("quarantined", kept))
			if err != nil {
				// We could not keep it: say it is our failure so the sender retries.
				log.ErrorContext(ctx, "quarantine failed", "err", err)
				recordWebhook(ctx, familyUnknown, outcomeUnavailable, start)
				writeError(w, codeUnavailable, "the webhook could not be stored; retry later", nil, cfg.RetryAfter)
				return
			}
			msg := "the webhook envelope is invalid; a copy was kept for inspection"
			if !kept {
				log.WarnContext(ctx, "invalid webhook not quarantined: the store refused it", "bytes", len(body))
				msg = "the webhook envelope is invalid"
			}
			recordWebhook(ctx, familyUnknown, outcomeInvalid, start)
			writeError(w, codeInvalid, msg, problems, 0)
			return
		}
		event, company := clip(env.Event), clip(env.CompanyID)
		info.add(slog.String("event", event))
		info.add(slog.String("company_id", company))
		span.SetAttributes(attrEvent.String(event), attrCompanyID.String(company))
		family := eventFamily(env.Event)
		dup, err := store.Store(ctx, env.CompanyID, env.Event, body, meta)
		if err != nil {
			code, kind := storeFailure(err)
			if code == codeUnavailable {
				log.ErrorContext(ctx, "store failed", "event", event, "company_id", company, "err", err)
				recordWebhook(ctx, family, outcomeUnavailable, start)
				writeError(w, codeUnavailable, "the webhook could not be stored; retry later", nil, cfg.RetryAfter)
				return
			}
			// The store can never take this message: a retry would fail the same
			// way, forever. Keep what fits in quarantine and say it is refused.
			problems := []string{"the store refused the message: " + kind}
			kept, qerr := keepInQuarantine(ctx, store, "store_refused", body, withProblems(meta, problems))
			if qerr != nil {
				log.ErrorContext(ctx, "quarantine failed", "err", qerr)
				recordWebhook(ctx, family, outcomeUnavailable, start)
				writeError(w, codeUnavailable, "the webhook could not be stored; retry later", nil, cfg.RetryAfter)
				return
			}
			log.WarnContext(ctx, "store refused the webhook", "event", event, "company_id", company,
				"kind", kind, "bytes", len(body), "quarantined", kept, "err", err)
			info.add(slog.Bool("quarantined", kept))
			msg := "the webhook was refused by the store (" + kind + "); a copy was kept for inspection"
			if !kept {
				msg = "the webhook was refused by the store (" + kind + ")"
			}
			recordWebhook(ctx, family, outcomeRefused, start)
			writeError(w, code, msg, problems, 0)
			return
		}
		info.add(slog.Bool("duplicate", dup))
		span.SetAttributes(attribute.Bool("maventa.duplicate", dup))
		if dup {
			recordWebhook(ctx, family, outcomeDuplicate, start)
		} else {
			recordWebhook(ctx, family, outcomeStored, start)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(statusOf[codeStored])
		_, _ = w.Write(storedAnswer(dup))
	})
}

// storedAnswers are the bodies of the two 200 answers, encoded once (exactly
// as writeJSON would) since every accepted webhook gets one of them.
var storedAnswers = func() (a [2][]byte) {
	for i, dup := range []bool{false, true} {
		b, err := json.Marshal(storedBody{Status: codeStored, Duplicate: dup})
		if err != nil {
			panic(err)
		}
		a[i] = append(b, '\n')
	}
	return a
}()

func storedAnswer(duplicate bool) []byte {
	if duplicate {
		return storedAnswers[1]
	}
	return storedAnswers[0]
}

// requestMeta is the request metadata stored beside the body. Credentials
// (Authorization, the query string) are never part of it. The trace context is
// not copied from the request: the store injects the context of its own publish
// span (which continues the request's trace) under the W3C names.
func requestMeta(r *http.Request) http.Header {
	// Canonical keys set directly and one backing array for the values: this
	// runs for every webhook, and Header.Set canonicalizes and allocates a
	// slice per value.
	vals := make([]string, 0, 5)
	h := make(http.Header, 8) // room for what the store adds
	put := func(k, v string) {
		vals = append(vals, v)
		h[k] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	var ts [len(time.RFC3339Nano) + 8]byte
	put("Received-At", string(time.Now().UTC().AppendFormat(ts[:0], time.RFC3339Nano)))
	put("Remote-Addr", r.RemoteAddr)
	for _, k := range [...]string{"Content-Type", "User-Agent", "X-Forwarded-For"} {
		if v := r.Header.Get(k); v != "" {
			put(k, v)
		}
	}
	return h
}

func withProblems(h http.Header, problems []string) http.Header {
	h = h.Clone()
	h.Set("Problems", strings.Join(problems, "; "))
	return h
}

// lateQuarantineTimeout bounds the quarantine of an incomplete body, which
// starts when the server's ReadTimeout (the request timeout + 1 s) has cut the
// read; the WriteTimeout (+ 2 s) leaves a second to answer.
const lateQuarantineTimeout = 500 * time.Millisecond

// quarantinePrefix is how much of a body too large for the store is kept in
// quarantine, beside the whole body's size and hash.
const quarantinePrefix = 64 << 10

// keepInQuarantine quarantines body. When the store refuses it as too large it
// keeps the first quarantinePrefix bytes instead, with headers Body-Size and
// Body-Sha256 describing the whole body. It returns an error only when the store
// is unavailable (the sender should retry); kept is false when the store
// refused even that.
func keepInQuarantine(ctx context.Context, store Store, reason string, body []byte, meta http.Header) (kept bool, err error) {
	_, err = store.Quarantine(ctx, reason, body, meta)
	if err == nil {
		return true, nil
	}
	code, kind := storeFailure(err)
	if code == codeUnavailable {
		return false, err
	}
	if kind != refusedTooLarge || len(body) <= quarantinePrefix {
		return false, nil
	}
	meta = meta.Clone()
	sum := sha256.Sum256(body)
	meta.Set("Body-Size", strconv.Itoa(len(body)))
	meta.Set("Body-Sha256", hex.EncodeToString(sum[:]))
	_, err = store.Quarantine(ctx, reason, body[:quarantinePrefix], meta)
	if err == nil {
		return true, nil
	}
	if code, _ := storeFailure(err); code == codeUnavailable {
		return false, err
	}
	return false, nil
}

// maxLogValue bounds an outside value (event name, company id) in logs and span
// attributes: an attacker must not make every log line 70 KB.
const maxLogValue = 256

func clip(s string) string {
	if len(s) <= maxLogValue {
		return s
	}
	return strings.ToValidUTF8(s[:maxLogValue], "") + "..."
}
