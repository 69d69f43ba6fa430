package maventa

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"net/url"
	"time"
)

// AssignmentQuery filters GET /v1/assignments. Zero fields are not sent. The query
// parameter names come from Config.Filters (they are not published).
type AssignmentQuery struct {
	// Status is "open", "closed" or "partially_closed".
	Status string
	// DebtorName filters by the debtor's name.
	DebtorName string
	// InvoiceID selects the assignments linked to one invoice (reference_ids type invoice_id).
	InvoiceID string
	// CreatedAfter and CreatedBefore bound created_at.
	CreatedAfter, CreatedBefore time.Time
	// UpdatedAfter and UpdatedBefore bound updated_at.
	UpdatedAfter, UpdatedBefore time.Time
	// ClosedAfter and ClosedBefore bound closed_at.
	ClosedAfter, ClosedBefore time.Time
	// Extra carries any other query parameter verbatim.
	Extra url.Values
}

// EventQuery filters GET /v1/events. Zero fields are not sent.
type EventQuery struct {
	// CreatedAfter and CreatedBefore bound the events' created_at.
	CreatedAfter, CreatedBefore time.Time
	// Type keeps only events of this type.
	Type EventType
	// Extra carries any other query parameter verbatim.
	Extra url.Values
}

// setTime adds a time filter in the configured layout, in UTC.
func (c *Client) setTime(q url.Values, name string, t time.Time) {
	if !t.IsZero() {
		q.Set(name, t.UTC().Format(c.cfg.Filters.TimeLayout))
	}
}

func (c *Client) assignmentValues(f AssignmentQuery) url.Values {
	n := c.cfg.Filters
	q := url.Values{}
	for k, v := range f.Extra {
		q[k] = append([]string(nil), v...)
	}
	if f.Status != "" {
		q.Set(n.AssignmentsStatus, f.Status)
	}
	if f.DebtorName != "" {
		q.Set(n.AssignmentsDebtorName, f.DebtorName)
	}
	if f.InvoiceID != "" {
		q.Set(n.AssignmentsInvoiceID, f.InvoiceID)
	}
	c.setTime(q, n.AssignmentsCreatedStart, f.CreatedAfter)
	c.setTime(q, n.AssignmentsCreatedEnd, f.CreatedBefore)
	c.setTime(q, n.AssignmentsUpdatedStart, f.UpdatedAfter)
	c.setTime(q, n.AssignmentsUpdatedEnd, f.UpdatedBefore)
	c.setTime(q, n.AssignmentsClosedStart, f.ClosedAfter)
	c.setTime(q, n.AssignmentsClosedEnd, f.ClosedBefore)
	return q
}

func (c *Client) eventValues(f EventQuery) url.Values {
	n := c.cfg.Filters
	q := url.Values{}
	for k, v := range f.Extra {
		q[k] = append([]string(nil), v...)
	}
	c.setTime(q, n.EventsCreatedStart, f.CreatedAfter)
	c.setTime(q, n.EventsCreatedEnd, f.CreatedBefore)
	if f.Type != "" {
		q.Set(n.EventsType, string(f.Type))
	}
	return q
}

// rcv builds a Receivables API request.
func (c *Client) rcv(method, path string, query url.Values, body, out any) request {
	return request{base: c.receivablesBase, scope: c.cfg.Scopes.Receivables, method: method, path: path, query: query, body: body, out: out}
}

// ListAssignments fetches one page of the company's assignments (one request).
func (c *Client) ListAssignments(ctx context.Context, companyID string, q AssignmentQuery, p PageOptions) (Page[Assignment], error) {
	return getPage[Assignment](ctx, c, companyID, c.rcv(http.MethodGet, "/v1/assignments", c.assignmentValues(q), nil, nil), p)
}

// Assignments iterates every assignment matching q, one request per page of
// perPage (zero: DefaultPerPage). Iteration ends after the first error.
func (c *Client) Assignments(ctx context.Context, companyID string, q AssignmentQuery, perPage int) iter.Seq2[Assignment, error] {
	return all[Assignment](ctx, c, companyID, c.rcv(http.MethodGet, "/v1/assignments", c.assignmentValues(q), nil, nil), perPage)
}

// GetAssignment fetches one assignment with its events.
func (c *Client) GetAssignment(ctx context.Context, companyID, assignmentID string) (Assignment, error) {
	var a Assignment
	_, err := c.do(ctx, companyID, c.rcv(http.MethodGet, "/v1/assignments/"+escape(assignmentID), nil, nil, &a))
	return a, err
}

// ListAssignmentEvents fetches every event of one assignment. Whether the endpoint
// paginates is not published: pages are followed when X-Next-Page is sent.
func (c *Client) ListAssignmentEvents(ctx context.Context, companyID, assignmentID string) ([]Event, error) {
	return collect[Event](ctx, c, companyID, c.rcv(http.MethodGet, "/v1/assignments/"+escape(assignmentID)+"/events", nil, nil, nil))
}

// ListEvents fetches one page of assignment events across all assignments (one request).
func (c *Client) ListEvents(ctx context.Context, companyID string, q EventQuery, p PageOptions) (Page[Event], error) {
	return getPage[Event](ctx, c, companyID, c.rcv(http.MethodGet, "/v1/events", c.eventValues(q), nil, nil), p)
}

// Events iterates every assignment event matching q, one request per page of
// perPage (zero: DefaultPerPage). Iteration ends after the first error.
func (c *Client) Events(ctx context.Context, companyID string, q EventQuery, perPage int) iter.Seq2[Event, error] {
	return all[Event](ctx, c, companyID, c.rcv(http.MethodGet, "/v1/events", c.eventValues(q), nil, nil), perPage)
}

// Overview is the answer of GET /v1/assignments/overview (open, soon due, overdue).
// Its shape is not published, so it is kept as raw top-level fields.
type Overview map[string]json.RawMessage

// AssignmentsOverview fetches the company's assignment overview.
func (c *Client) AssignmentsOverview(ctx context.Context, companyID string) (Overview, error) {
	var o Overview
	_, err := c.do(ctx, companyID, c.rcv(http.MethodGet, "/v1/assignments/overview", nil, nil, &o))
	return o, err
}

// AddEvent adds a company event to an assignment. Types a company may not create
// (agency or Maventa only, or unknown) are refused with a *ValidationError before
// any HTTP call. The created event is returned when Maventa echoes it.
func (c *Client) AddEvent(ctx context.Context, companyID, assignmentID string, ev NewEvent) (Event, error) {
	if err := ev.Validate(); err != nil {
		return Event{}, err
	}
	var out Event
	_, err := c.do(ctx, companyID, c.rcv(http.MethodPost, "/v1/assignments/"+escape(assignmentID)+"/events", nil, ev, &out))
	return out, err
}

// MarkEventSeen marks an assignment event as seen by the company.
func (c *Client) MarkEventSeen(ctx context.Context, companyID, assignmentID, eventID string) error {
	_, err := c.do(ctx, companyID, c.rcv(http.MethodPost, "/v1/assignments/"+escape(assignmentID)+"/events/"+escape(eventID)+"/seen", nil, nil, nil))
	return err
}

// ServiceLevel is a customer's service level (Amili Kassavirta only). Field names
// are ASSUMED; unknown fields are kept.
type ServiceLevel struct {
	// CustomerBID is the customer's business id (ASSUMED name "customer_bid").
	CustomerBID string `json:"customer_bid,omitempty"`
	// ServiceLevel is "default", "premium", "vip" or "service_bypass" (ASSUMED name "service_level").
	ServiceLevel string `json:"service_level"`
	// Extra holds fields this type does not declare.
	Extra map[string]json.RawMessage `json:",embed,inline"`
}

// ListServiceLevels lists every customer with a non-default service level,
// following X-Next-Page when sent.
func (c *Client) ListServiceLevels(ctx context.Context, companyID string) ([]ServiceLevel, error) {
	return collect[ServiceLevel](ctx, c, companyID, c.rcv(http.MethodGet, "/v1/service_levels", nil, nil, nil))
}

// GetServiceLevel fetches one customer's service level.
func (c *Client) GetServiceLevel(ctx context.Context, companyID, customerBID string) (ServiceLevel, error) {
	var out ServiceLevel
	_, err := c.do(ctx, companyID, c.rcv(http.MethodGet, "/v1/service_levels/"+escape(customerBID), nil, nil, &out))
	return out, err
}

// SetServiceLevel sets one customer's service level; the body
// {"service_level": level} is ASSUMED.
func (c *Client) SetServiceLevel(ctx context.Context, companyID, customerBID, level string) (ServiceLevel, error) {
	var out ServiceLevel
	body := map[string]string{"service_level": level}
	_, err := c.do(ctx, companyID, c.rcv(http.MethodPatch, "/v1/service_levels/"+escape(customerBID), nil, body, &out))
	return out, err
}

// MessageThread is a conversation between the company and the agency. Only ID is
// documented; the other names are ASSUMED and unknown fields are kept.
type MessageThread struct {
	// ID is the thread id.
	ID string `json:"id"`
	// AssignmentID is the assignment the thread is about, if any (ASSUMED).
	AssignmentID string `json:"assignment_id,omitempty"`
	// Flagged reports whether the thread is flagged (ASSUMED).
	Flagged bool `json:"flagged,omitempty"`
	// Extra holds fields this type does not declare (e.g. the latest message).
	Extra map[string]json.RawMessage `json:",embed,inline"`
}

// Message is one message in a thread. Field names beyond id are ASSUMED.
type Message struct {
	// ID is the message id.
	ID string `json:"id"`
	// Message is the text (ASSUMED name).
	Message string `json:"message,omitempty"`
	// CreatedAt is when the message was written (ASSUMED name).
	CreatedAt *time.Time `json:"created_at,omitempty"`
	// Extra holds fields this type does not declare.
	Extra map[string]json.RawMessage `json:",embed,inline"`
}

// NewMessage is a message to post; the field name "message" is ASSUMED.
type NewMessage struct {
	// Message is the text.
	Message string `json:"message"`
}

// ListMessageThreads fetches one page of message threads (each with its latest message).
func (c *Client) ListMessageThreads(ctx context.Context, companyID string, p PageOptions) (Page[MessageThread], error) {
	return getPage[MessageThread](ctx, c, companyID, c.rcv(http.MethodGet, "/v1/message_threads", nil, nil, nil), p)
}

// MessageThreads iterates every message thread, one request per page.
func (c *Client) MessageThreads(ctx context.Context, companyID string, perPage int) iter.Seq2[MessageThread, error] {
	return all[MessageThread](ctx, c, companyID, c.rcv(http.MethodGet, "/v1/message_threads", nil, nil, nil), perPage)
}

// GetMessageThread fetches one thread (with its latest message).
func (c *Client) GetMessageThread(ctx context.Context, companyID, threadID string) (MessageThread, error) {
	var out MessageThread
	_, err := c.do(ctx, companyID, c.rcv(http.MethodGet, "/v1/message_threads/"+escape(threadID), nil, nil, &out))
	return out, err
}

// FlagMessageThread flags or unflags a thread; the body {"flagged": bool} is ASSUMED.
func (c *Client) FlagMessageThread(ctx context.Context, companyID, threadID string, flagged bool) (MessageThread, error) {
	var out MessageThread
	body := map[string]bool{"flagged": flagged}
	_, err := c.do(ctx, companyID, c.rcv(http.MethodPatch, "/v1/message_threads/"+escape(threadID), nil, body, &out))
	return out, err
}

// ListThreadMessages fetches every message of a thread, following X-Next-Page when sent.
func (c *Client) ListThreadMessages(ctx context.Context, companyID, threadID string) ([]Message, error) {
	return collect[Message](ctx, c, companyID, c.rcv(http.MethodGet, "/v1/message_threads/"+escape(threadID)+"/messages", nil, nil, nil))
}

// AddThreadMessage posts a message to a thread.
func (c *Client) AddThreadMessage(ctx context.Context, companyID, threadID string, m NewMessage) (Message, error) {
	var out Message
	_, err := c.do(ctx, companyID, c.rcv(http.MethodPost, "/v1/message_threads/"+escape(threadID)+"/messages", nil, m, &out))
	return out, err
}

// ListAssignmentMessages fetches every message about an assignment, following
// X-Next-Page when sent.
func (c *Client) ListAssignmentMessages(ctx context.Context, companyID, assignmentID string) ([]Message, error) {
	return collect[Message](ctx, c, companyID, c.rcv(http.MethodGet, "/v1/assignments/"+escape(assignmentID)+"/messages", nil, nil, nil))
}

// AddAssignmentMessage posts a message about an assignment, creating its thread if needed.
func (c *Client) AddAssignmentMessage(ctx context.Context, companyID, assignmentID string, m NewMessage) (Message, error) {
	var out Message
	_, err := c.do(ctx, companyID, c.rcv(http.MethodPost, "/v1/assignments/"+escape(assignmentID)+"/messages", nil, m, &out))
	return out, err
}

// MarkMessageSeen marks a message as seen.
func (c *Client) MarkMessageSeen(ctx context.Context, companyID, messageID string) error {
	_, err := c.do(ctx, companyID, c.rcv(http.MethodPut, "/v1/messages/"+escape(messageID)+"/seen", nil, nil, nil))
	return err
}
