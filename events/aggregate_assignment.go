package events

import (
	"cmp"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrNeedSnapshot means facts about an assignment cannot be applied without the
// assignment itself: it was never opened here (or its record predates the
// current format). The caller reads the assignment with its history and applies
// that.
var ErrNeedSnapshot = errors.New("events: the assignment itself is needed (never seen before)")

// maxKnownEvents bounds the assignment events kept per assignment (Maventa
// assignments have tens of events, not thousands); the oldest emitted ones go
// first.
const maxKnownEvents = 1000

// AssignmentRecord is everything this service keeps about one assignment to
// emit each of its facts exactly once, whatever the order in which they
// arrive: the assignment events known (with whether their event was
// emitted), the newest snapshot's values, and which derived transitions were
// emitted. The domain events are a function of this set of facts, not of the
// order in which the facts were seen (see ApplyAssignment).
//
// The zero value is an assignment never seen.
type AssignmentRecord struct {
	// Ref is what the events of the assignment need to know about it.
	Ref AssignmentRef `json:"ref"`
	// Opened is true once assignment.opened was emitted.
	Opened bool `json:"opened"`
	// Known are the assignment events seen, in Maventa's order (SortAssignmentEvents).
	Known []KnownEvent `json:"known"`
	// Snapshot is the newest snapshot of the assignment seen.
	Snapshot *SnapshotMark `json:"snapshot,omitempty"`
	// Derived are the keys of the status transitions emitted (see transitionKey).
	Derived []string `json:"derived,omitempty"`
	// Legacy holds the applied event ids of a record written before this format
	// (consumers' former per-assignment state); it is folded into Known by the
	// next apply that has the assignment's history, without emitting again.
	Legacy []string `json:"applied,omitempty"`
}

// KnownEvent is one assignment event of a record: enough to order it and fold
// the statuses, not its data.
type KnownEvent struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	At        time.Time `json:"at"`
	CreatedAt time.Time `json:"created_at"`
	// Delivery is the status of a delivery_status event (DELIVERED, FAILED...).
	Delivery string `json:"delivery,omitempty"`
	// Emitted is true once its assignment.<type> event was emitted.
	Emitted bool `json:"emitted,omitempty"`
	// Held is a delivery_status event the filter holds back (a repeated
	// DELIVERED), kept whole so that it can still be emitted if a FAILED that
	// belongs before it in Maventa's time turns up later.
	Held *HeldEvent `json:"held,omitempty"`
}

// HeldEvent is a held delivery_status event as a record keeps it (its status
// is the KnownEvent's Delivery).
type HeldEvent struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Data       json.RawMessage `json:"data"`
	PartyID    string          `json:"party_id"`
	CreatedAt  time.Time       `json:"created_at"`
	HappenedAt *time.Time      `json:"happened_at"`
}

func heldOf(ev AssignmentFact) *HeldEvent {
	return &HeldEvent{ID: ev.ID, Type: ev.Type, Data: ev.Data, PartyID: ev.PartyID, CreatedAt: ev.CreatedAt, HappenedAt: ev.HappenedAt}
}

// fact is the held event again, as NewAssignmentEvent takes it.
func (h HeldEvent) fact(delivery string) AssignmentFact {
	return AssignmentFact{ID: h.ID, Type: h.Type, Data: h.Data, PartyID: h.PartyID, CreatedAt: h.CreatedAt,
		HappenedAt: h.HappenedAt, Values: AssignmentValues{DeliveryStatus: delivery}}
}

// SnapshotMark is what a snapshot of an assignment (GET /v1/assignments/{id})
// says about its derived values, and when.
type SnapshotMark struct {
	Status           string    `json:"status"`
	CollectionStatus string    `json:"collection_status"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// AssignmentFacts is what one look at Maventa says about an assignment: its
// snapshot with its history (an invoice webhook's enrichment, a poll of an
// assignment not known yet), or only new assignment events (a poll page).
type AssignmentFacts struct {
	// Snapshot is the assignment as read, with its events; nil for events only.
	Snapshot *AssignmentSnapshot
	// Events are assignment events read on their own (a page of GET /v1/events).
	Events []AssignmentFact
}

// ApplyAssignment adds facts to an assignment's record and returns the new
// record with the domain events that are now due and were not emitted before:
// assignment.opened (from the first snapshot), one assignment.<type> per
// assignment event (delivery_status collapsed as in Maventa's UI), and
// assignment.status_changed / collection_status_changed for every change of
// the values derived from all known events in Maventa's time order.
//
// Every id is derived from the fact: assignment events by Maventa's id,
// transitions by (assignment, new value, how many times the value was entered
// before in Maventa's time order). So applying the same facts in any order, in
// any grouping, any number of times, yields each event once with the same id.
// A snapshot whose status or collection_status differs from the value derived
// from the events it already contained wins: the transition is emitted with
// source "snapshot".
//
// companyID names the company when rec is new. It returns ErrNeedSnapshot when
// rec was never opened (or is a legacy record) and facts carry no snapshot.
func ApplyAssignment(rec AssignmentRecord, companyID string, f AssignmentFacts, tc TraceContext) (AssignmentRecord, []Event, error) {
	rec = rec.clone()
	var out []Event
	all := f.Events
	if s := f.Snapshot; s != nil {
		all = append(slices.Clip(s.Events), all...)
		if rec.Ref.AssignmentID == "" {
			rec.Ref = s.Ref(companyID)
		} else {
			rec.Ref.InvoiceID = cmp.Or(rec.Ref.InvoiceID, s.InvoiceID)
			rec.Ref.AgencyID = cmp.Or(rec.Ref.AgencyID, s.AgencyID)
			rec.Ref.Currency = cmp.Or(rec.Ref.Currency, s.Currency)
		}
		if !rec.Opened {
			if len(rec.Legacy) == 0 {
				opened, err := NewAssignmentOpened(rec.Ref.CompanyID, *s, tc)
				if err != nil {
					return AssignmentRecord{}, nil, err
				}
				out = append(out, opened)
			}
			rec.Opened = true
		}
		if rec.Snapshot == nil || !s.UpdatedAt.Before(rec.Snapshot.UpdatedAt) {
			rec.Snapshot = &SnapshotMark{Status: s.Status, CollectionStatus: s.CollectionStatus, UpdatedAt: s.UpdatedAt}
		}
	}
	if !rec.Opened || (len(rec.Legacy) > 0 && f.Snapshot == nil) {
		return AssignmentRecord{}, nil, ErrNeedSnapshot
	}
	legacy := rec.Legacy
	rec.Legacy = nil

	// Who the agency is must be known before any event of this batch is
	// normalized (a paid event's party).
	rec.Ref.AgencyPartyIDs = mergeIDs(rec.Ref.AgencyPartyIDs, AgencyPartyIDs(all))
	fresh := map[string]AssignmentFact{}
	for _, ev := range all {
		if _, seen := fresh[ev.ID]; seen || rec.known(ev.ID) >= 0 {
			continue
		}
		fresh[ev.ID] = ev
		k := KnownEvent{ID: ev.ID, Type: ev.Type, At: eventTime(ev), CreatedAt: ev.CreatedAt,
			Emitted: slices.Contains(legacy, ev.ID)}
		if ev.Type == "delivery_status" {
			k.Delivery = strings.ToUpper(ev.Values.DeliveryStatus)
		}
		rec.Known = append(rec.Known, k)
	}
	rec.sortKnown()

	// The fact events: every known event not emitted yet that the delivery
	// filter, run over all known events in Maventa's order, lets through.
	allowed := rec.deliveryAllowed()
	for i := range rec.Known {
		k := &rec.Known[i]
		if k.Emitted {
			continue
		}
		ev, isFresh := fresh[k.ID]
		if !isFresh && k.Held != nil {
			ev = k.Held.fact(k.Delivery)
		}
		if k.Type == "delivery_status" && !allowed[k.ID] {
			if isFresh {
				k.Held = heldOf(ev)
			}
			continue
		}
		if !isFresh && k.Held == nil {
			continue // cannot happen: only delivery_status events are kept unemitted
		}
		e, err := NewAssignmentEvent(rec.Ref, ev, tc)
		if err != nil {
			return AssignmentRecord{}, nil, err
		}
		out = append(out, e)
		k.Emitted, k.Held = true, nil
	}

	// The derived transitions, in Maventa's time order.
	for _, t := range rec.transitions() {
		if slices.Contains(rec.Derived, t.key) {
			continue
		}
		rec.Derived = append(rec.Derived, t.key)
		if len(legacy) > 0 && t.cause != nil && slices.Contains(legacy, t.cause.ID) {
			continue // emitted by the former format under its own id
		}
		e, err := t.event(rec.Ref, tc)
		if err != nil {
			return AssignmentRecord{}, nil, err
		}
		out = append(out, e)
	}
	rec.trim()
	return rec, out, nil
}

// Status and CollectionStatus are the values derived from the record's facts.
func (r AssignmentRecord) Status() string {
	return r.current(fieldStatus)
}

// CollectionStatus is the collection status derived from the record's facts.
func (r AssignmentRecord) CollectionStatus() string {
	return r.current(fieldCollection)
}

func (r AssignmentRecord) current(f field) string {
	v := f.initial()
	for _, t := range r.transitions() {
		if t.field == f {
			v = t.to
		}
	}
	return v
}

func (r AssignmentRecord) clone() AssignmentRecord {
	r.Known = slices.Clone(r.Known)
	r.Derived = slices.Clone(r.Derived)
	r.Legacy = slices.Clone(r.Legacy)
	r.Ref.AgencyPartyIDs = slices.Clone(r.Ref.AgencyPartyIDs)
	if r.Snapshot != nil {
		s := *r.Snapshot
		r.Snapshot = &s
	}
	return r
}

func (r AssignmentRecord) known(id string) int {
	return slices.IndexFunc(r.Known, func(k KnownEvent) bool { return k.ID == id })
}

// sortKnown orders the known events as SortAssignmentEvents orders events.
func (r *AssignmentRecord) sortKnown() {
	slices.SortStableFunc(r.Known, func(a, b KnownEvent) int {
		return compareEvents(a.At, a.CreatedAt, a.Type, a.ID, b.At, b.CreatedAt, b.Type, b.ID)
	})
}

// trim drops the oldest emitted events past maxKnownEvents.
func (r *AssignmentRecord) trim() {
	for len(r.Known) > maxKnownEvents {
		i := slices.IndexFunc(r.Known, func(k KnownEvent) bool { return k.Emitted })
		if i < 0 {
			return
		}
		r.Known = slices.Delete(r.Known, i, i+1)
	}
}

// deliveryAllowed runs the delivery_status filter over the known events in
// Maventa's order and returns the ids it lets through.
func (r AssignmentRecord) deliveryAllowed() map[string]bool {
	var f DeliveryStatusFilter
	ok := map[string]bool{}
	for _, k := range r.Known {
		if k.Type == "delivery_status" && f.Allow(k.Delivery) {
			ok[k.ID] = true
		}
	}
	return ok
}

type field int

const (
	fieldStatus field = iota
	fieldCollection
)

func (f field) initial() string {
	if f == fieldStatus {
		return StatusOpen
	}
	return CollectionUnknown
}

func (f field) after(eventType, cur string) (string, bool) {
	if f == fieldStatus {
		return AssignmentStatusAfter(eventType, cur)
	}
	return CollectionStatusAfter(eventType, cur)
}

func (f field) of(s SnapshotMark) string {
	v := s.Status
	if f == fieldCollection {
		v = s.CollectionStatus
	}
	if v == "" {
		return f.initial()
	}
	return v
}

func (f field) def() TypeDef {
	if f == fieldStatus {
		return TypeAssignmentStatusChanged
	}
	return TypeAssignmentCollectionStatusChanged
}

// transition is one change of a derived value.
type transition struct {
	field    field
	from, to string
	ordinal  int         // how many times `to` was entered before, in Maventa's order
	cause    *KnownEvent // nil when the snapshot set the value
	at       time.Time   // the snapshot's updated_at when cause is nil
	key      string
}

func (t transition) event(ref AssignmentRef, tc TraceContext) (Event, error) {
	c := StatusChange{AssignmentID: ref.AssignmentID, InvoiceID: ref.InvoiceID, From: t.from, To: t.to, Source: SourceEvent}
	m := Meta{CompanyID: ref.CompanyID, Subject: ref.AssignmentID, Key: []string{ref.AssignmentID, t.to, strconv.Itoa(t.ordinal)},
		TraceParent: tc.TraceParent, TraceState: tc.TraceState}
	if t.cause != nil {
		c.CauseEventType, c.CauseMaventaEventID = t.cause.Type, t.cause.ID
		m.Time, m.RecordedAt, m.MaventaEventID = t.cause.At, t.cause.CreatedAt, t.cause.ID
	} else {
		c.Source = SourceSnapshot
		m.Time = t.at
	}
	if t.field == fieldStatus {
		v := AssignmentStatusChanged(c)
		return New(t.field.def(), m, &v)
	}
	v := AssignmentCollectionStatusChanged(c)
	return New(t.field.def(), m, &v)
}

// transitions folds both derived values over the known events in Maventa's
// order. The newest snapshot is a checkpoint at its updated_at: where the
// value derived from the events recorded up to then differs from what the
// snapshot says, Maventa wins and the snapshot sets the value there.
func (r AssignmentRecord) transitions() []transition {
	var out []transition
	for _, f := range []field{fieldStatus, fieldCollection} {
		correction := ""
		if s := r.Snapshot; s != nil {
			// What the events recorded by then give, in Maventa's order.
			v := f.initial()
			for _, k := range r.Known {
				if !k.CreatedAt.After(s.UpdatedAt) {
					if next, ok := f.after(k.Type, v); ok {
						v = next
					}
				}
			}
			if want := f.of(*s); want != v {
				correction = want
			}
		}
		cur := f.initial()
		entered := map[string]int{}
		add := func(to string, cause *KnownEvent, at time.Time) {
			t := transition{field: f, from: cur, to: to, ordinal: entered[to], cause: cause, at: at}
			t.key = f.def().Event + "/" + to + "/" + strconv.Itoa(t.ordinal)
			out = append(out, t)
			entered[to]++
			cur = to
		}
		checkpoint := correction != ""
		for i := range r.Known {
			k := &r.Known[i]
			if checkpoint && k.At.After(r.Snapshot.UpdatedAt) {
				if cur != correction {
					add(correction, nil, r.Snapshot.UpdatedAt)
				}
				checkpoint = false
			}
			if next, ok := f.after(k.Type, cur); ok {
				add(next, k, time.Time{})
			}
		}
		if checkpoint && cur != correction {
			add(correction, nil, r.Snapshot.UpdatedAt)
		}
	}
	return out
}

func mergeIDs(a, b []string) []string {
	for _, id := range b {
		if !slices.Contains(a, id) {
			a = append(a, id)
		}
	}
	return a
}

// compareEvents is Maventa's history order: time (happened_at, created_at
// when absent), then created_at, then agency reactions after what caused them,
// then id.
func compareEvents(at1, created1 time.Time, type1, id1 string, at2, created2 time.Time, type2, id2 string) int {
	if c := at1.Compare(at2); c != 0 {
		return c
	}
	if c := created1.Compare(created2); c != 0 {
		return c
	}
	if c := reactionRank(type1) - reactionRank(type2); c != 0 {
		return c
	}
	return strings.Compare(id1, id2)
}

// Sources of a status change.
const (
	// SourceEvent: an assignment event caused the change.
	SourceEvent = "event"
	// SourceSnapshot: the assignment read from Maventa says so, although the
	// events seen do not (Maventa wins).
	SourceSnapshot = "snapshot"
)
