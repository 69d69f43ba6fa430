package sandbox

import (
	"errors"
	"time"

	"github.com/maventa-bridge/maventa-events/events"
)

// Sentinel errors of the Go API; the HTTP layers map them to statuses.
var (
	// ErrNotFound: no such company, assignment, event, invoice, thread or message.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the request is well-formed but not acceptable (HTTP 422).
	ErrInvalid = errors.New("invalid")
)

// Amount is an exact decimal that marshals as a JSON number, as Maventa writes
// money ("sum": 12.3). It unmarshals from a number or a string.
type Amount struct{ events.Decimal }

// MarshalJSON writes the amount as a bare JSON number.
func (a Amount) MarshalJSON() ([]byte, error) { return []byte(a.Decimal.String()), nil }

// Amt returns an Amount from decimal text; it panics on bad input (for tests and constants).
func Amt(s string) Amount { return Amount{events.MustDecimal(s)} }

// Debtor is the receiver of the invoice behind an assignment.
type Debtor struct {
	Name string `json:"name"`
	BID  string `json:"bid,omitempty"`
}

// ReferenceID links an assignment to other ids: agency_id, invoice_id, number.
type ReferenceID struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Seen records that a party has seen an event.
type Seen struct {
	SeenAt time.Time `json:"seen_at"`
	SeenBy string    `json:"seen_by"`
}

// Event is an assignment event, shaped like the Receivables API's.
type Event struct {
	ID string `json:"id"`
	// AssignmentID is included in every event (ASSUMED for /v1/events, where a
	// poller needs it to find the assignment).
	AssignmentID string         `json:"assignment_id"`
	Type         string         `json:"type"`
	Data         map[string]any `json:"data"`
	PartyID      string         `json:"party_id"`
	Seens        []Seen         `json:"seens"`
	CreatedAt    time.Time      `json:"created_at"`
	HappenedAt   time.Time      `json:"happened_at"`

	seq int64
}

// Assignment is an invoice's lifecycle at the collection agency, shaped like the
// Receivables API's assignment object.
type Assignment struct {
	ID                string        `json:"id"`
	Status            string        `json:"status"`
	CollectionStatus  string        `json:"collection_status"`
	ServiceLevel      string        `json:"service_level"`
	Debtor            Debtor        `json:"debtor"`
	DueDate           string        `json:"due_date"`
	IssuedAt          string        `json:"issued_at"`
	Number            string        `json:"number"`
	Sum               Amount        `json:"sum"`
	Paid              Amount        `json:"paid"`
	Currency          string        `json:"currency"`
	CreatedAt         time.Time     `json:"created_at"`
	PartiallyClosedAt *time.Time    `json:"partially_closed_at"`
	UpdatedAt         time.Time     `json:"updated_at"`
	ClosedAt          *time.Time    `json:"closed_at"`
	ReferenceIDs      []ReferenceID `json:"reference_ids"`
	Events            []*Event      `json:"events,omitempty"`

	companyID string
	provider  string
	invoiceID string
	discount  Amount // cash_discount total, counted towards closing
	frozen    bool
	seq       int64
}

// Assignment statuses.
const (
	StatusOpen            = "open"
	StatusClosed          = "closed"
	StatusPartiallyClosed = "partially_closed"
)

// Invoice is a sent invoice as GET /v1/invoices lists it.
type Invoice struct {
	ID            string    `json:"id"`
	Number        string    `json:"number"`
	Status        string    `json:"status"`
	Date          string    `json:"date"`
	DateDue       string    `json:"date_due"`
	Sum           Amount    `json:"sum"`
	Currency      string    `json:"currency"`
	RecipientName string    `json:"recipient_name"`
	RecipientBID  string    `json:"recipient_bid"`
	Destination   string    `json:"destination"`
	ErrorMessage  string    `json:"error_message,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`

	companyID    string
	assignmentID string
	seq          int64
}

// Notification is a webhook registration (POST /v1/company/notifications).
type Notification struct {
	ID              string   `json:"id"`
	DestinationType string   `json:"destination_type"`
	Destination     string   `json:"destination"`
	Events          []string `json:"events"`
	VendorKey       string   `json:"vendor_key,omitempty"`

	companyID  string
	operatorID string // set for /v1/operator/notifications registrations
	seq        int64
}

// Thread is a message thread between the company and the agency.
type Thread struct {
	ID            string    `json:"id"`
	AssignmentID  string    `json:"assignment_id"`
	Flagged       bool      `json:"flagged"`
	LatestMessage *Message  `json:"latest_message"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`

	companyID string
	seq       int64
}

// Message is one message in a thread.
type Message struct {
	ID           string     `json:"id"`
	ThreadID     string     `json:"thread_id"`
	AssignmentID string     `json:"assignment_id"`
	Message      string     `json:"message"`
	Sender       string     `json:"sender"` // "company" or "agency" (ASSUMED values)
	SeenAt       *time.Time `json:"seen_at"`
	CreatedAt    time.Time  `json:"created_at"`

	companyID string
	seq       int64
}

type tokenInfo struct {
	companyID  string
	operator   bool
	operatorID string
	scopes     map[string]bool
	scope      string
	expiresAt  time.Time
}

// store is the sandbox state; guarded by Sandbox.mu.
type store struct {
	seq           int64
	tokenLifetime time.Duration
	companies     map[string]*Company
	companyOrder  map[string]int
	operators     map[string]string
	operatorOf    map[string]map[string]bool // operator -> companies it acts for; empty: all (ASSUMED, token.go)
	tokens        map[string]*tokenInfo
	assignments   map[string]*Assignment
	events        []*Event // all events in creation order
	eventByID     map[string]*Event
	invoices      map[string]*Invoice
	notifications map[string]*Notification
	services      map[string]map[string]*service // company -> provider
	serviceLevels map[string]map[string]string   // company -> bid -> level
	threads       map[string]*Thread
	messages      map[string]*Message
	transfers     map[string]*transfer // invoice id -> its transfer to collection (commands_transfers.go)
	faults        []*faultState
}

func newStore() *store {
	return &store{
		companies:     map[string]*Company{},
		companyOrder:  map[string]int{},
		operators:     map[string]string{},
		operatorOf:    map[string]map[string]bool{},
		tokens:        map[string]*tokenInfo{},
		assignments:   map[string]*Assignment{},
		eventByID:     map[string]*Event{},
		invoices:      map[string]*Invoice{},
		notifications: map[string]*Notification{},
		services:      map[string]map[string]*service{},
		serviceLevels: map[string]map[string]string{},
		threads:       map[string]*Thread{},
		messages:      map[string]*Message{},
		transfers:     map[string]*transfer{},
	}
}

func (st *store) nextSeq() int64 { st.seq++; return st.seq }

// copyAssignment returns a snapshot that callers may keep; withEvents controls
// whether events are included.
func copyAssignment(a *Assignment, withEvents bool) *Assignment {
	c := *a
	c.ReferenceIDs = append([]ReferenceID(nil), a.ReferenceIDs...)
	c.Events = nil
	if withEvents {
		c.Events = make([]*Event, len(a.Events))
		for i, e := range a.Events {
			c.Events[i] = copyEvent(e)
		}
		// Newest first, like every list.
		for i, j := 0, len(c.Events)-1; i < j; i, j = i+1, j-1 {
			c.Events[i], c.Events[j] = c.Events[j], c.Events[i]
		}
		if c.Events == nil {
			c.Events = []*Event{}
		}
	}
	return &c
}

func copyEvent(e *Event) *Event {
	c := *e
	c.Seens = append([]Seen{}, e.Seens...)
	return &c
}
