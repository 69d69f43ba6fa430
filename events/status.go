package events

import (
	"maps"
	"regexp"
	"slices"
	"strings"
)

// Collection statuses of an assignment (Maventa's collection_status values).
const (
	CollectionUnknown             = "unknown"
	CollectionReminderSent        = "reminder_sent"
	CollectionDebtCollection      = "debt_collection"
	CollectionLegalCollection     = "legal_collection"
	CollectionRecoveryProceedings = "recovery_proceedings"
	CollectionDebtSurveillance    = "debt_surveillance"
	CollectionLackOfMeans         = "lack_of_means"
	CollectionPaymentPlan         = "payment_plan"
)

// Assignment statuses (Maventa's status values).
const (
	StatusOpen            = "open"
	StatusClosed          = "closed"
	StatusPartiallyClosed = "partially_closed"
)

// collectionRule is one row of Maventa's collection status table: the status an
// assignment event type sets, and whether it sets it only "if not already set".
type collectionRule struct {
	status string
	// ifNotSet: the status is set only while the assignment is at an earlier step
	// of the reminder -> debt collection ladder (see CollectionStatusAfter).
	ifNotSet bool
}

// collectionRules is Maventa's table (seed: "Collection status of the assignment").
// "tratta" is the table's name for the tratta_sent event type; both are accepted.
var collectionRules = map[string]collectionRule{
	"reminder_sent":               {CollectionReminderSent, true},
	"second_reminder_sent":        {CollectionReminderSent, true},
	"collection_started":          {CollectionDebtCollection, true},
	"second_demand_sent":          {CollectionDebtCollection, true},
	"tratta_sent":                 {CollectionDebtCollection, true},
	"tratta":                      {CollectionDebtCollection, true},
	"legal_collection_started":    {CollectionLegalCollection, false},
	"application_for_enforcement": {CollectionRecoveryProceedings, false},
	"lack_of_means":               {CollectionLackOfMeans, false},
	"payment_plan":                {CollectionPaymentPlan, false},
	"credit_loss_suggestion":      {CollectionDebtSurveillance, false},
	// credit_loss: "does not change the collection status" (no row).
}

// ladder ranks the statuses the "if not already set" event types move along.
var ladder = map[string]int{
	"":                       0,
	CollectionUnknown:        0,
	CollectionReminderSent:   1,
	CollectionDebtCollection: 2,
}

// CollectionStatusOf returns the collection status Maventa's table associates
// with an assignment event type, and false for types that set none.
func CollectionStatusOf(eventType string) (string, bool) {
	r, ok := collectionRules[eventType]
	return r.status, ok
}

// CollectionStatusAfter returns the assignment's collection status after an
// assignment event of eventType, given the current one, and whether it changed.
//
// It implements Maventa's table exactly. Our reading of "sets the collection status
// to X if it is not already set" (reminder_sent, second_reminder_sent: X =
// reminder_sent; collection_started, second_demand_sent, tratta_sent: X =
// debt_collection): the status becomes X only while the assignment is at an earlier
// step of the unknown -> reminder_sent -> debt_collection ladder; it never moves an
// assignment back (a late second_reminder_sent does not undo debt_collection) and
// never overrides a status outside the ladder (legal_collection, payment_plan...).
// legal_collection_started, application_for_enforcement, lack_of_means,
// payment_plan and credit_loss_suggestion set their status unconditionally.
// credit_loss and every other type change nothing.
func CollectionStatusAfter(eventType, current string) (next string, changed bool) {
	r, ok := collectionRules[eventType]
	if !ok || r.status == current {
		return current, false
	}
	if r.ifNotSet {
		rank, onLadder := ladder[current]
		if !onLadder || rank >= ladder[r.status] {
			return current, false
		}
	}
	return r.status, true
}

// AssignmentStatusAfter returns the assignment's status after an assignment event of
// eventType, given the current one, and whether it changed: close closes,
// partially_closed partially closes an open assignment. Closure is final (Maventa:
// "cannot be reversed"), so nothing changes a closed assignment. cancel does not
// close by itself: the agency adds a close event.
func AssignmentStatusAfter(eventType, current string) (next string, changed bool) {
	if current == StatusClosed {
		return current, false
	}
	switch eventType {
	case "close":
		return StatusClosed, true
	case "partially_closed":
		if current != StatusPartiallyClosed {
			return StatusPartiallyClosed, true
		}
	}
	return current, false
}

// Delivery statuses of the delivery_status assignment event.
const (
	DeliveryDelivered = "DELIVERED"
	DeliveryFailed    = "FAILED"
)

// DeliveryStatusFilter collapses an assignment's delivery_status events as
// Maventa's own UI does: it lets through the first DELIVERED, every FAILED, and
// the first DELIVERED after a FAILED, and suppresses repeated DELIVERED (Maventa
// adds one per operator update). A status it does not know passes, so nothing new
// is lost, and does not change the state.
//
// The zero value is ready (no status seen yet). Keep one per assignment; Last is
// exported so the state can be persisted between runs.
type DeliveryStatusFilter struct {
	// Last is the last DELIVERED/FAILED status let through ("" if none).
	Last string
}

// Allow reports whether a delivery_status event with status should be published,
// and records it. Status is compared case-insensitively.
func (f *DeliveryStatusFilter) Allow(status string) bool {
	s := strings.ToUpper(strings.TrimSpace(status))
	switch s {
	case DeliveryFailed:
		f.Last = DeliveryFailed
		return true
	case DeliveryDelivered:
		if f.Last == DeliveryDelivered {
			return false
		}
		f.Last = DeliveryDelivered
		return true
	default:
		return true
	}
}

var (
	receivablesMarker = regexp.MustCompile(`(?i)receivables[\s_-]*service`)
	errorCode         = regexp.MustCompile(`(?i)code\s*#\s*(\d+)`)
)

// ClassifyDeliveryError classifies Maventa's error text of a failed invoice. It
// reads the RECEIVABLES-SERVICE error code ("(code #5)", "(code #6 ...)",
// "(code #13)") regardless of case and spacing, and, when a message has no code,
// falls back to the phrases of Maventa's documented texts:
//
//   - #5, "Postal code for CITY_NAME xxxxxx not found": missing_address
//   - #6, "An assignment for this invoice number xxxx already exists and is still
//     open": duplicate_open_assignment
//   - #13, "The due date for the invoice is within three (3) days or has already
//     passed": due_date_too_close
//
// Anything else is other.
func ClassifyDeliveryError(msg string) Reason {
	if receivablesMarker.MatchString(msg) {
		if m := errorCode.FindStringSubmatch(msg); m != nil {
			switch strings.TrimLeft(m[1], "0") {
			case "5":
				return ReasonMissingAddress
			case "6":
				return ReasonDuplicateOpenAssignment
			case "13":
				return ReasonDueDateTooClose
			}
		}
	}
	l := strings.Join(strings.Fields(strings.ToLower(msg)), " ")
	switch {
	case strings.Contains(l, "postal code") && strings.Contains(l, "not found"):
		return ReasonMissingAddress
	case strings.Contains(l, "already exists and is still open"):
		return ReasonDuplicateOpenAssignment
	case strings.Contains(l, "due date") && (strings.Contains(l, "within three") || strings.Contains(l, "already passed")):
		return ReasonDueDateTooClose
	}
	return ReasonOther
}

// creators is who may create each assignment event type, per Maventa's docs
// (seed 003, "Event types and usage"). With collectionRules it is this
// service's one copy of seed 003's tables: the client and the sandbox read it
// through the functions below.
var creators = map[string][]Party{
	"comment": {PartyCompany, PartyAgency}, "paid": {PartyCompany, PartyAgency},
	"close": {PartyAgency}, "partially_closed": {PartyAgency},
	"due_date_change_request": {PartyCompany}, "due_date_changed": {PartyAgency},
	"credit_note": {PartyCompany}, "cancel": {PartyCompany}, "freeze": {PartyCompany},
	"freeze_confirmed": {PartyAgency}, "unfreezed": {PartyAgency}, "interest_paid": {PartyAgency},
	"cash_discount": {PartyAgency}, "reminder_sent": {PartyAgency}, "second_reminder_sent": {PartyAgency},
	"collection_started": {PartyAgency}, "second_demand_sent": {PartyAgency}, "tratta_sent": {PartyAgency},
	"legal_collection_started": {PartyAgency}, "application_for_enforcement": {PartyAgency},
	"lack_of_means": {PartyAgency}, "payment_plan": {PartyAgency}, "credit_loss_suggestion": {PartyAgency},
	"credit_loss": {PartyCompany}, "service_level_changed": {PartyAgency}, "delivery_status": {PartyMaventa},
}

// CreatorsOf returns who may create an assignment event type (the company,
// the agency, Maventa), nil for a type Maventa does not document.
func CreatorsOf(eventType string) []Party { return slices.Clone(creators[eventType]) }

// AssignmentEventTypes returns, sorted, every assignment event type Maventa
// documents.
func AssignmentEventTypes() []string { return slices.Sorted(maps.Keys(creators)) }

// CompanyMayCreate reports whether a company may create assignment events of
// eventType (seed 003: "both" and "only sender company").
func CompanyMayCreate(eventType string) bool {
	return slices.Contains(creators[eventType], PartyCompany)
}

// agencyOnly reports whether only the agency may create eventType.
func agencyOnly(eventType string) bool {
	ps := creators[eventType]
	return len(ps) == 1 && ps[0] == PartyAgency
}

// CollectionStarted reports whether an assignment in collection status has
// gone past reminders: debt collection or a later step (legal collection,
// payment plan...).
func CollectionStarted(status string) bool {
	rank, onLadder := ladder[status]
	return !onLadder || rank >= ladder[CollectionDebtCollection]
}

// PartyFor returns who created an assignment event. A type only one party may
// create (per Maventa's docs) is that party's. For a type both may create (paid,
// comment), party_id equal to the company id means the company, and party_id
// among agencyParties (the party ids seen on the assignment's agency-only events,
// see AgencyPartyIDs) means the agency; otherwise unknown, because Maventa does
// not document what party_id holds (it could be a user of the company).
func PartyFor(eventType, partyID, companyID string, agencyParties []string) Party {
	ps := creators[eventType]
	if len(ps) == 1 {
		return ps[0]
	}
	switch {
	case partyID != "" && partyID == companyID:
		return PartyCompany
	case partyID != "" && slices.Contains(agencyParties, partyID):
		return PartyAgency
	}
	return PartyUnknown
}

// AgencyPartyIDs returns the party ids of the events only the agency may create
// (reminders, collection steps, close...): whoever created those is the agency,
// so the same party id on a paid or comment event is the agency too.
func AgencyPartyIDs(evs []AssignmentFact) []string {
	var ids []string
	for _, ev := range evs {
		if agencyOnly(ev.Type) && ev.PartyID != "" && !slices.Contains(ids, ev.PartyID) {
			ids = append(ids, ev.PartyID)
		}
	}
	return ids
}

// reactionRank orders assignment events that Maventa stamped with the same
// times: what the agency does in answer to an event (closing, confirming)
// comes after the events that caused it.
func reactionRank(eventType string) int {
	switch eventType {
	case "close", "partially_closed", "freeze_confirmed", "unfreezed", "due_date_changed":
		return 1
	}
	return 0
}

// SortAssignmentFacts orders assignment events as Maventa's history does:
// happened_at (created_at when absent), then created_at, then agency reactions
// after what caused them, then id, so that one order holds everywhere.
func SortAssignmentFacts(evs []AssignmentFact) {
	slices.SortStableFunc(evs, func(a, b AssignmentFact) int {
		return compareEvents(eventTime(a), a.CreatedAt, a.Type, a.ID, eventTime(b), b.CreatedAt, b.Type, b.ID)
	})
}
