package consumers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
)

// Maventa is what the webhook processor needs from Maventa's APIs
// (*maventa.Client); tests pass the sandbox-backed client or a fake.
type Maventa interface {
	AssignmentsForInvoice(ctx context.Context, companyID, invoiceID string) ([]maventa.Assignment, error)
	GetReceivablesService(ctx context.Context, companyID, provider string) (maventa.ServiceStatus, error)
}

// EventEmitter publishes domain events exactly once (*Emitter).
type EventEmitter interface {
	Emit(ctx context.Context, evs []events.Event) (int, error)
}

// ProcessError says how a failed message is to be handled: retried later
// (Retry true, after RetryAfter when Maventa said so) or dead-lettered now.
type ProcessError struct {
	// Reason is a short machine-readable cause: invalid_payload, forbidden,
	// maventa_error, assignment_not_found, transient...
	Reason string
	// Retry is true for transient failures.
	Retry bool
	// RetryAfter is Maventa's Retry-After, when it sent one.
	RetryAfter time.Duration
	Err        error
}

func (e *ProcessError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *ProcessError) Unwrap() error { return e.Err }

// ProcessorStats counts what the processor did, for logs and metrics.
type ProcessorStats struct {
	Processed          atomic.Int64 // messages fully handled
	Emitted            atomic.Int64 // new domain events
	EnrichmentSkipped  atomic.Int64 // company without credentials: webhook events only
	AssignmentsEmitted atomic.Int64 // assignments whose events were emitted
}

// Processor turns one stored webhook into domain events: the event the webhook
// itself describes, then what Maventa's APIs add to it (the assignments of a
// delivered invoice with their events so far; the full state of a receivables
// service).
type Processor struct {
	api   Maventa
	emit  EventEmitter
	rec   Stores
	log   *slog.Logger
	Stats ProcessorStats
	// Nudge, when set, is told the company of every webhook processed (the
	// poller pulls that company's next poll forward: Poller.Nudge).
	Nudge func(companyID string)
}

// Stores are the aggregate records the processor and the poller share.
type Stores struct {
	// Assignments holds assignment and message-thread records: kept while they
	// change (the reconcile bucket: 90 days after the last change).
	Assignments Records
	// Facts holds invoice and company records (the facts bucket: PROCESSED_TTL
	// after the last change, longer than every window in which Maventa or
	// polling can bring the same fact again).
	Facts Records
	// Keep is how long a company record remembers a webhook fact (PROCESSED_TTL).
	Keep time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (s Stores) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// NewProcessor returns a processor using api for enrichment, em to publish and
// the records in st (shared with reconciliation polling) to decide what is new.
func NewProcessor(api Maventa, em EventEmitter, st Stores, log *slog.Logger) *Processor {
	return &Processor{api: api, emit: em, rec: st, log: log}
}

// traceContextFor is what the events built from a webhook carry in their
// traceparent/tracestate extensions: the current span (the consumer's process
// span), so that each domain event leads back to the handling that produced it;
// without one, the trace context stored with the webhook.
func traceContextFor(ctx context.Context, stored events.TraceContext) events.TraceContext {
	if tc := TraceContextOf(ctx); tc.TraceParent != "" {
		return tc
	}
	return stored
}

// Process handles one raw webhook: its body and the trace context stored
// with it. It returns nil when everything it yields is stored, or a
// *ProcessError. It may be called again for the same message any number of
// times: what was already emitted is skipped.
func (p *Processor) Process(ctx context.Context, body []byte, stored events.TraceContext) error {
	// The body is parsed once: the envelope here, event_data's values by Input.
	w, err := maventa.ParseWebhookEnvelope(body)
	if err != nil {
		return &ProcessError{Reason: "invalid_payload", Err: err}
	}
	tc := traceContextFor(ctx, stored)
	in := w.Input(body)
	ev, err := events.FromWebhook(in, tc)
	if err != nil {
		return &ProcessError{Reason: "invalid_payload", Err: err}
	}
	if p.Nudge != nil {
		p.Nudge(w.CompanyID)
	}

	if isServiceEvent(ev) {
		// The activation webhook's own data may lack the agency's IBAN/BIC and the
		// KYC link: the service's current state from the API replaces it.
		full, err := p.serviceEvent(ctx, w, ev, tc)
		if err != nil {
			return err
		}
		return p.publishCompanyFact(ctx, w.CompanyID, full)
	}
	name, _ := w.Name()
	if name.Area != maventa.AreaDocuments || name.Resource != "INVOICE" {
		if err := p.publishCompanyFact(ctx, w.CompanyID, ev); err != nil {
			return err
		}
		p.Stats.Processed.Add(1)
		return nil
	}
	// An invoice webhook: its invoice id serves both the shared delivery status
	// and the enrichment.
	invoiceID := in.Document.InvoiceID
	if err := p.publishInvoiceEvent(ctx, invoiceID, name.Action, w.EventTimestamp, ev); err != nil {
		return err
	}
	switch name.Action {
	case "DELIVERED", "DELIVERY_CONFIRMED", "FAILED":
		return p.enrichInvoice(ctx, w, invoiceID, name.Action, tc)
	}
	p.Stats.Processed.Add(1)
	return nil
}

// publishInvoiceEvent emits an invoice webhook's own event through the
// invoice's record, shared with polling: a Maventa retry, or polling seeing
// the same delivery, emits nothing more.
func (p *Processor) publishInvoiceEvent(ctx context.Context, invoiceID, action string, at time.Time, ev events.Event) error {
	if invoiceID == "" {
		return p.publishCompanyFact(ctx, ev.CompanyID, ev)
	}
	n, err := applyInvoice(ctx, p.rec.Facts, p.emit, invoiceID, events.InvoiceNotice{Status: action, At: at, Event: ev})
	p.Stats.Emitted.Add(int64(n))
	if err != nil {
		return storeFailure(err)
	}
	return nil
}

// publishCompanyFact emits an event about the company itself (network,
// authorization, service, unrecognized webhooks) unless its record has it.
func (p *Processor) publishCompanyFact(ctx context.Context, companyID string, ev events.Event) error {
	n, err := applySeen(ctx, p.rec.Facts, p.emit, companyKey(companyID), p.rec.now(), p.rec.Keep, ev)
	p.Stats.Emitted.Add(int64(n))
	if err != nil {
		return storeFailure(err)
	}
	return nil
}

func isServiceEvent(ev events.Event) bool {
	return slices.Contains(serviceTypes, ev.Type)
}

// serviceTypes are the event types of the service webhooks, spelt once:
// TypeDef.Type builds its string on every call, and every webhook asks.
var serviceTypes = []string{events.TypeServiceActivated.Type(), events.TypeServiceRejected.Type(), events.TypeServicePending.Type()}

// serviceEvent fetches the service's state for a service webhook. Without
// credentials, the webhook's own event stands.
func (p *Processor) serviceEvent(ctx context.Context, w maventa.Webhook, ev events.Event, tc events.TraceContext) (events.Event, error) {
	provider := ev.Subject
	st, err := p.api.GetReceivablesService(ctx, w.CompanyID, provider)
	if errors.Is(err, maventa.ErrNoCredentials) {
		p.skipEnrichment(ctx, w)
		return ev, nil
	}
	if err != nil {
		return events.Event{}, classify(err)
	}
	s, err := st.State(provider)
	if err != nil {
		return events.Event{}, &ProcessError{Reason: "maventa_error", Err: err}
	}
	full, err := events.NewServiceEvent(w.CompanyID, s, w.EventTimestamp, tc)
	if err != nil {
		// A state with no event of its own (e.g. DISABLED): keep what the webhook said.
		return ev, nil
	}
	return full, nil
}

// enrichInvoice emits, for each assignment linked to the invoice, assignment
// opened and its events so far. A delivered invoice of a company with an active
// Amili Kassavirta service must have an assignment (Kassavirta creates it when the
// invoice is sent): until it appears the message is retried, and when it never
// does, the message is dead-lettered.
func (p *Processor) enrichInvoice(ctx context.Context, w maventa.Webhook, invoiceID, action string, tc events.TraceContext) error {
	if invoiceID == "" {
		p.log.Warn("invoice webhook without invoice_id: nothing to enrich", "event", w.Event, "company_id", w.CompanyID)
		p.Stats.Processed.Add(1)
		return nil
	}
	as, err := p.api.AssignmentsForInvoice(ctx, w.CompanyID, invoiceID)
	if errors.Is(err, maventa.ErrNoCredentials) {
		p.skipEnrichment(ctx, w)
		return nil
	}
	if err != nil {
		return classify(err)
	}
	if len(as) == 0 {
		if action == "DELIVERED" {
			expected, err := p.expectsAssignment(ctx, w.CompanyID)
			if err != nil {
				return err
			}
			if expected {
				return &ProcessError{Reason: "assignment_not_found", Retry: true,
					Err: fmt.Errorf("no assignment yet for invoice %s although Amili Kassavirta is active", invoiceID)}
			}
		}
		p.Stats.Processed.Add(1)
		return nil
	}
	for _, a := range as {
		da, err := a.Snapshot()
		if err != nil {
			return &ProcessError{Reason: "invalid_payload", Err: err}
		}
		// Polling continues from this record without fetching the history again.
		n, _, err := applyAssignment(ctx, p.rec.Assignments, p.emit, p.log, w.CompanyID, a.ID, events.AssignmentFacts{Snapshot: &da}, tc)
		p.Stats.Emitted.Add(int64(n))
		if err != nil {
			return storeFailure(err)
		}
		p.Stats.AssignmentsEmitted.Add(1)
	}
	p.Stats.Processed.Add(1)
	return nil
}

// expectsAssignment reports whether the company's invoices get assignments
// automatically: Amili Kassavirta is active.
func (p *Processor) expectsAssignment(ctx context.Context, companyID string) (bool, error) {
	st, err := p.api.GetReceivablesService(ctx, companyID, "amili")
	switch {
	case err == nil:
		return strings.EqualFold(st.Status, "active"), nil
	case maventa.IsNotFound(err):
		return false, nil
	default:
		return false, classify(err)
	}
}

func (p *Processor) skipEnrichment(ctx context.Context, w maventa.Webhook) {
	p.Stats.EnrichmentSkipped.Add(1)
	enrichmentSkipped.Add(ctx, 1, metric.WithAttributes(attrReason.String("no_credentials")))
	p.Stats.Processed.Add(1)
	p.log.Info("company has no credentials: emitting webhook events without enrichment",
		"event", w.Event, "company_id", w.CompanyID)
}

// classify maps a Maventa API error to retry or dead letter.
func classify(err error) error {
	if ra, ok := maventa.RetryAfter(err); ok {
		return &ProcessError{Reason: "maventa_unavailable", Retry: true, RetryAfter: ra, Err: err}
	}
	var ae *maventa.APIError
	switch {
	case maventa.IsRetryable(err):
		return &ProcessError{Reason: "maventa_unavailable", Retry: true, Err: err}
	case errors.As(err, &ae) && ae.Status == 403:
		// A new token does not fix a token that lacks access (seed 004).
		return &ProcessError{Reason: "forbidden", Err: err}
	case maventa.IsAuth(err):
		return &ProcessError{Reason: "maventa_auth", Err: err}
	case maventa.IsNotFound(err):
		// Listed a moment ago, gone now: look again later.
		return &ProcessError{Reason: "not_found", Retry: true, Err: err}
	case maventa.IsPermanent(err):
		return &ProcessError{Reason: "maventa_error", Err: err}
	}
	return &ProcessError{Reason: "transient", Retry: true, Err: err}
}
