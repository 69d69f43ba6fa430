package events

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

// testAssignment is an open assignment created at 2024-01-01 with the given
// events, read at updatedAt with the given values.
func testAssignment(status, collection, updatedAt string, evs ...AssignmentFact) *AssignmentSnapshot {
	return &AssignmentSnapshot{ID: "a", Status: status, CollectionStatus: collection, Currency: "EUR", DueDate: "2024-02-01",
		IssuedAt: "2024-01-01", CreatedAt: mustTime("2024-01-01T00:00:00Z"), UpdatedAt: mustTime(updatedAt),
		AgencyID: "agency-ref", InvoiceID: "inv", Events: evs}
}

func apply(t *testing.T, rec AssignmentRecord, f AssignmentFacts) (AssignmentRecord, []Event) {
	t.Helper()
	rec, out, err := ApplyAssignment(rec, "c", f, TraceContext{})
	if err != nil {
		t.Fatal(err)
	}
	return rec, out
}

func ofType(evs []Event, def TypeDef) []Event {
	var out []Event
	for _, e := range evs {
		if e.Type == def.Type() {
			out = append(out, e)
		}
	}
	return out
}

func TestStatusChangeIDsDoNotDependOnThePath(t *testing.T) {
	r1 := assignmentEvent("reminder_sent", "r1", `{}`, "", "2024-02-01T00:00:00Z", "")
	// Written late: it happened before r1.
	r0 := assignmentEvent("second_reminder_sent", "r0", `{}`, "", "2024-02-05T00:00:00Z", "2024-01-20T00:00:00Z")
	ids := func(evs []Event) []string {
		var s []string
		for _, e := range ofType(evs, TypeAssignmentCollectionStatusChanged) {
			s = append(s, e.ID)
		}
		return s
	}
	// Polling: r1 first, r0 on a later page.
	rec, a := apply(t, AssignmentRecord{}, AssignmentFacts{Snapshot: testAssignment("open", "unknown", "2024-01-01T00:00:00Z")})
	rec, b := apply(t, rec, AssignmentFacts{Events: []AssignmentFact{r1}})
	_, c := apply(t, rec, AssignmentFacts{Events: []AssignmentFact{r0}})
	polled := ids(slices.Concat(a, b, c))
	// The webhook path: the whole history at once.
	_, full := apply(t, AssignmentRecord{}, AssignmentFacts{Snapshot: testAssignment("open", "reminder_sent", "2024-02-05T00:00:00Z", r1, r0)})
	replayed := ids(full)
	if len(polled) != 1 || !slices.Equal(polled, replayed) {
		t.Fatalf("collection_status_changed ids: polled %v, replayed %v", polled, replayed)
	}
}

func TestASnapshotThatDisagreesWinsAndTheMissingEventAddsNothing(t *testing.T) {
	r1 := assignmentEvent("reminder_sent", "r1", `{}`, "", "2024-02-01T00:00:00Z", "")
	c1 := assignmentEvent("collection_started", "c1", `{}`, "", "2024-02-20T00:00:00Z", "")
	// Maventa says debt_collection, but the collection_started event is not among what we read.
	rec, out := apply(t, AssignmentRecord{}, AssignmentFacts{Snapshot: testAssignment("open", "debt_collection", "2024-02-21T00:00:00Z", r1)})
	changes := ofType(out, TypeAssignmentCollectionStatusChanged)
	if len(changes) != 2 {
		t.Fatalf("changes: %d, want unknown→reminder_sent and reminder_sent→debt_collection", len(changes))
	}
	var last AssignmentCollectionStatusChanged
	if err := json.Unmarshal(changes[1].Data, &last); err != nil {
		t.Fatal(err)
	}
	if last.To != CollectionDebtCollection || last.Source != SourceSnapshot || last.CauseMaventaEventID != "" {
		t.Fatalf("snapshot change: %+v", last)
	}
	if !changes[1].Time.Equal(mustTime("2024-02-21T00:00:00Z")) {
		t.Errorf("snapshot change time %s, want the snapshot's updated_at", changes[1].Time)
	}
	if rec.CollectionStatus() != CollectionDebtCollection {
		t.Errorf("derived %s", rec.CollectionStatus())
	}
	// The event arrives later: its own event is new, the change is not.
	_, out = apply(t, rec, AssignmentFacts{Events: []AssignmentFact{c1}})
	if len(out) != 1 || out[0].Type != TypeAssignmentCollectionStarted.Type() {
		t.Fatalf("after the missing event: %v", out)
	}
}

func TestAssignmentOpenedSortsBeforeItsHistory(t *testing.T) {
	snap := testAssignment("closed", "reminder_sent", "2024-03-01T00:00:00Z",
		assignmentEvent("delivery_status", "d", `{"status":"DELIVERED"}`, "", "2024-01-01T00:00:01Z", ""),
		assignmentEvent("reminder_sent", "r", `{}`, "", "2024-02-01T00:00:00Z", ""),
		assignmentEvent("close", "x", `{}`, "", "2024-03-01T00:00:00Z", ""))
	_, out := apply(t, AssignmentRecord{}, AssignmentFacts{Snapshot: snap})
	if out[0].Type != TypeAssignmentOpened.Type() {
		t.Fatalf("first event %s", out[0].Type)
	}
	for _, e := range out[1:] {
		if e.Sequence <= out[0].Sequence {
			t.Errorf("%s has sequence %s, not after opened's %s", e.Type, e.Sequence, out[0].Sequence)
		}
	}
	// The last status change ends where the snapshot is.
	var st AssignmentStatusChanged
	changes := ofType(out, TypeAssignmentStatusChanged)
	if len(changes) != 1 || json.Unmarshal(changes[0].Data, &st) != nil || st.To != StatusClosed || st.Source != SourceEvent {
		t.Fatalf("status changes %v", changes)
	}
}

func TestThePartyOfASharedEventType(t *testing.T) {
	reminder := assignmentEvent("reminder_sent", "r", `{}`, "amili-party", "2024-02-01T00:00:00Z", "")
	cases := []struct {
		name    string
		partyID string
		history []AssignmentFact
		want    Party
	}{
		{"the company's own id", "c", nil, PartyCompany},
		{"a party id seen on an agency-only event", "amili-party", []AssignmentFact{reminder}, PartyAgency},
		{"the agency_id reference is not a party id (seed 003's own example)", "agency-ref", []AssignmentFact{reminder}, PartyUnknown},
		{"an id seen nowhere else", "938fc79f", []AssignmentFact{reminder}, PartyUnknown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			paid := assignmentEvent("paid", "p", `{"sum_paid":"10.00"}`, c.partyID, "2024-02-10T00:00:00Z", "")
			_, out := apply(t, AssignmentRecord{}, AssignmentFacts{Snapshot: testAssignment("open", "reminder_sent", "2024-02-10T00:00:00Z",
				append(slices.Clone(c.history), paid)...)})
			got := ofType(out, TypeAssignmentPaid)
			var d AssignmentPaid
			if len(got) != 1 || json.Unmarshal(got[0].Data, &d) != nil {
				t.Fatalf("paid events: %v", got)
			}
			if d.Party != c.want {
				t.Errorf("party %s, want %s", d.Party, c.want)
			}
		})
	}
}

func TestTrattaIsTheTrattaStep(t *testing.T) {
	ev := assignmentEvent("tratta", "t", `{}`, "", "2024-02-01T00:00:00Z", "")
	_, out := apply(t, AssignmentRecord{}, AssignmentFacts{Snapshot: testAssignment("open", "debt_collection", "2024-02-01T00:00:00Z", ev)})
	if len(ofType(out, TypeAssignmentTrattaSent)) != 1 || len(ofType(out, TypeUnrecognized)) != 0 {
		t.Fatalf("tratta gave %v", out)
	}
	changes := ofType(out, TypeAssignmentCollectionStatusChanged)
	var d AssignmentCollectionStatusChanged
	if len(changes) != 1 || json.Unmarshal(changes[0].Data, &d) != nil || d.To != CollectionDebtCollection || d.CauseEventType != "tratta" {
		t.Fatalf("tratta's collection change: %v", changes)
	}
}

func TestALegacyRecordIsConvertedWithoutEmittingItsHistoryAgain(t *testing.T) {
	r := assignmentEvent("reminder_sent", "r", `{}`, "", "2024-02-01T00:00:00Z", "")
	p := assignmentEvent("paid", "p", `{"sum_paid":"10.00"}`, "c", "2024-02-10T00:00:00Z", "")
	var legacy AssignmentRecord
	if err := json.Unmarshal([]byte(`{"ref":{"CompanyID":"c","AssignmentID":"a"},"state":{"Status":"open"},"applied":["r"]}`), &legacy); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ApplyAssignment(legacy, "c", AssignmentFacts{Events: []AssignmentFact{p}}, TraceContext{}); err != ErrNeedSnapshot {
		t.Fatalf("events only on a legacy record: %v", err)
	}
	_, out := apply(t, legacy, AssignmentFacts{Snapshot: testAssignment("open", "reminder_sent", "2024-02-10T00:00:00Z", r, p)})
	if len(out) != 1 || out[0].Type != TypeAssignmentPaid.Type() {
		t.Fatalf("legacy conversion emitted %v, want only the new paid", out)
	}
}

func TestInvoiceNoticesInAnyOrder(t *testing.T) {
	at := func(s string) time.Time { return mustTime(s) }
	ev := func(def TypeDef) Event { return Event{Type: def.Type()} }
	d1 := InvoiceNotice{Status: "DELIVERED", At: at("2026-03-02T06:00:00Z"), Event: ev(TypeInvoiceDelivered)}
	f := InvoiceNotice{Status: "FAILED", At: at("2026-03-02T08:00:00Z"), Event: ev(TypeInvoiceDeliveryFailed)}
	d2 := InvoiceNotice{Status: "DELIVERED", At: at("2026-03-02T09:00:00Z"), Event: ev(TypeInvoiceDelivered)}
	listedLater := InvoiceNotice{Status: "DELIVERED", At: at("2026-03-02T09:00:05Z"), Listed: true, Event: ev(TypeInvoiceDelivered)}
	cases := []struct {
		name  string
		order []InvoiceNotice
		want  int // invoice.delivered events
	}{
		{"the late original still counts", []InvoiceNotice{f, d2, d1}, 2},
		{"a listing a few seconds after the webhook is the same delivery", []InvoiceNotice{d1, f, d2, listedLater}, 2},
		{"a webhook after the listing of the same delivery adds nothing", []InvoiceNotice{d1, f, listedLater, d2}, 2},
		{"a listing before the failure is known is held, then announced when it turns out to be a re-route", []InvoiceNotice{d1, listedLater, f}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var rec InvoiceRecord
			n := 0
			for _, no := range c.order {
				var out []Event
				rec, out = ApplyInvoice(rec, "inv", []InvoiceNotice{no})
				n += len(ofType(out, TypeInvoiceDelivered))
			}
			if n != c.want {
				t.Errorf("%d × invoice.delivered, want %d", n, c.want)
			}
			if rec.Status() != NoticeDelivered {
				t.Errorf("status %s", rec.Status())
			}
		})
	}
}
