package sandbox

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/events"
)

func TestPaginationHeadersAndEveryItemOnce(t *testing.T) {
	e := newEnv(t, Config{})
	want := map[string]bool{}
	for i := range 47 {
		want[e.assignment(fmt.Sprintf("P%d", i), "10")] = true
		e.clock.Advance(time.Second)
	}
	tok := e.defaultToken()
	cases := []struct {
		name      string
		perPage   string
		wantPer   int
		wantPages int
	}{
		{"default per_page is 20", "", 20, 3},
		{"per_page 10", "10", 10, 5},
		{"per_page over 100 is clamped", "500", 100, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]int{}
			var prevCreated time.Time
			page := "1"
			for n := 1; page != ""; n++ {
				u := e.rec.URL + "/v1/assignments?page=" + page
				if tc.perPage != "" {
					u += "&per_page=" + tc.perPage
				}
				var list []*Assignment
				resp := e.do(http.MethodGet, u, tok, nil, &list)
				h := resp.Header
				if h.Get("X-Total") != "47" || h.Get("X-Total-Pages") != strconv.Itoa(tc.wantPages) ||
					h.Get("X-Page") != page || h.Get("X-Per-Page") != strconv.Itoa(tc.wantPer) || h.Get("Link") == "" {
					t.Fatalf("page %s headers %v", page, h)
				}
				if n == 1 && h.Get("X-Prev-Page") != "" {
					t.Fatalf("first page has X-Prev-Page %q", h.Get("X-Prev-Page"))
				}
				if n > 1 && h.Get("X-Prev-Page") != strconv.Itoa(n-1) {
					t.Fatalf("X-Prev-Page %q on page %d", h.Get("X-Prev-Page"), n)
				}
				for _, a := range list {
					seen[a.ID]++
					if !prevCreated.IsZero() && a.CreatedAt.After(prevCreated) {
						t.Fatalf("not newest first: %v after %v", a.CreatedAt, prevCreated)
					}
					prevCreated = a.CreatedAt
				}
				page = h.Get("X-Next-Page")
				if n > 100 {
					t.Fatal("runaway paging")
				}
			}
			if len(seen) != len(want) {
				t.Fatalf("saw %d assignments, want %d", len(seen), len(want))
			}
			for id, c := range seen {
				if c != 1 || !want[id] {
					t.Fatalf("assignment %s seen %d times", id, c)
				}
			}
		})
	}
	t.Run("page past the end is an empty array", func(t *testing.T) {
		var list []*Assignment
		resp := e.do(http.MethodGet, e.rec.URL+"/v1/assignments?page=9", tok, nil, &list)
		if resp.StatusCode != 200 || len(list) != 0 || resp.Header.Get("X-Next-Page") != "" {
			t.Fatalf("status %d len %d next %q", resp.StatusCode, len(list), resp.Header.Get("X-Next-Page"))
		}
	})
	t.Run("bad page is 422", func(t *testing.T) {
		resp := e.do(http.MethodGet, e.rec.URL+"/v1/assignments?page=0", tok, nil, nil)
		if resp.StatusCode != 422 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

func TestEventsFeedPagesThroughEverything(t *testing.T) {
	e := newEnv(t, Config{})
	for i := range 9 {
		id := e.assignment(fmt.Sprintf("E%d", i), "10")
		e.clock.Advance(time.Second)
		if _, err := e.sb.AddAgencyEvent(id, "reminder_sent", nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	// other company's events must not show up
	if _, err := e.sb.SendInvoice(otherCompany, e.validSpec("X1", "1")); err != nil {
		t.Fatal(err)
	}
	tok := e.defaultToken()
	seen := map[string]bool{}
	for page := "1"; page != ""; {
		var list []*Event
		resp := e.do(http.MethodGet, e.rec.URL+"/v1/events?per_page=4&page="+page, tok, nil, &list)
		for _, ev := range list {
			if seen[ev.ID] {
				t.Fatalf("event %s twice", ev.ID)
			}
			seen[ev.ID] = true
		}
		page = resp.Header.Get("X-Next-Page")
	}
	if len(seen) != 18 { // delivery_status + reminder_sent per assignment
		t.Fatalf("saw %d events, want 18", len(seen))
	}
	var filtered []*Event
	e.do(http.MethodGet, e.rec.URL+"/v1/events?type=reminder_sent&created_at_start="+e.clock.Now().Add(-3*time.Second).Format(time.RFC3339), tok, nil, &filtered)
	if len(filtered) != 4 {
		t.Fatalf("filtered %d events, want 4", len(filtered))
	}
}

func TestPaidRules(t *testing.T) {
	cases := []struct {
		name       string
		sum        string
		payments   []string
		wantPaid   string
		wantStatus string
		wantTypes  []string
	}{
		{"full payment closes with a close event", "12.30", []string{"12.30"}, "12.30", "closed", []string{"delivery_status", "paid", "close"}},
		{"partial payment keeps it open", "100", []string{"40.10"}, "40.10", "open", []string{"delivery_status", "paid"}},
		{"two partial payments close it", "100", []string{"40.10", "59.90"}, "100.00", "closed", []string{"delivery_status", "paid", "paid", "close"}},
		{"overpayment closes it", "100", []string{"150"}, "150", "closed", []string{"delivery_status", "paid", "close"}},
		{"negative paid reduces paid", "100", []string{"60", "-10"}, "50", "open", []string{"delivery_status", "paid", "paid"}},
		{"credit note assignment closes with negative paid", "-50", []string{"-50"}, "-50", "closed", []string{"delivery_status", "paid", "close"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			id := e.assignment("1", tc.sum)
			tok := e.defaultToken()
			for _, p := range tc.payments {
				var ev Event
				resp := e.do(http.MethodPost, e.rec.URL+"/v1/assignments/"+id+"/events", tok,
					map[string]any{"type": "paid", "data": map[string]any{"sum_paid": jsonNum(p), "booked_at": "2026-03-03"}}, &ev)
				if resp.StatusCode != 201 || ev.PartyID != testCompany {
					t.Fatalf("post paid: %d %+v", resp.StatusCode, ev)
				}
			}
			var a Assignment
			e.do(http.MethodGet, e.rec.URL+"/v1/assignments/"+id, tok, nil, &a)
			if a.Paid.Cmp(Amt(tc.wantPaid).Decimal) != 0 || a.Status != tc.wantStatus {
				t.Fatalf("paid %s status %s, want %s %s", a.Paid, a.Status, tc.wantPaid, tc.wantStatus)
			}
			if got := eventTypes(&a); fmt.Sprint(got) != fmt.Sprint(tc.wantTypes) {
				t.Fatalf("events %v, want %v", got, tc.wantTypes)
			}
			if tc.wantStatus == "closed" {
				if a.ClosedAt == nil || a.Events[0].PartyID != AgencyPartyID {
					t.Fatalf("closed_at %v, close party %s", a.ClosedAt, a.Events[0].PartyID)
				}
			}
		})
	}
}

func jsonNum(s string) any { return Amt(s) }

func TestCollectionStatusTable(t *testing.T) {
	cases := []struct {
		name  string
		prior []string
		event string
		want  string
	}{
		{"reminder_sent sets reminder_sent", nil, "reminder_sent", "reminder_sent"},
		{"second_reminder_sent sets reminder_sent", nil, "second_reminder_sent", "reminder_sent"},
		{"collection_started sets debt_collection", nil, "collection_started", "debt_collection"},
		{"second_demand_sent sets debt_collection", nil, "second_demand_sent", "debt_collection"},
		{"tratta_sent sets debt_collection", nil, "tratta_sent", "debt_collection"},
		{"legal_collection_started sets legal_collection", nil, "legal_collection_started", "legal_collection"},
		{"application_for_enforcement sets recovery_proceedings", nil, "application_for_enforcement", "recovery_proceedings"},
		{"credit_loss_suggestion sets debt_surveillance", nil, "credit_loss_suggestion", "debt_surveillance"},
		{"lack_of_means sets lack_of_means", nil, "lack_of_means", "lack_of_means"},
		{"payment_plan sets payment_plan", nil, "payment_plan", "payment_plan"},
		{"credit_loss changes nothing", []string{"reminder_sent"}, "credit_loss", "reminder_sent"},
		{"credit_loss on a fresh assignment leaves unknown", nil, "credit_loss", "unknown"},
		{"reminder after debt collection does not step back", []string{"collection_started"}, "second_reminder_sent", "debt_collection"},
		{"tratta after legal collection does not step back", []string{"legal_collection_started"}, "tratta_sent", "legal_collection"},
		{"collection after reminder moves up", []string{"reminder_sent"}, "collection_started", "debt_collection"},
		{"payment plan after legal collection replaces it", []string{"legal_collection_started"}, "payment_plan", "payment_plan"},
		{"comment changes nothing", []string{"reminder_sent"}, "comment", "reminder_sent"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			id := e.assignment("1", "100")
			for _, p := range tc.prior {
				if _, err := e.sb.AddAgencyEvent(id, p, nil, time.Time{}); err != nil {
					t.Fatal(err)
				}
			}
			before := e.get(id).UpdatedAt
			e.clock.Advance(time.Minute)
			var err error
			if events.CompanyMayCreate(tc.event) {
				_, err = e.sb.AddCompanyEvent(id, tc.event, nil, time.Time{})
			} else {
				_, err = e.sb.AddAgencyEvent(id, tc.event, nil, time.Time{})
			}
			if err != nil {
				t.Fatal(err)
			}
			a := e.get(id)
			if a.CollectionStatus != tc.want {
				t.Fatalf("collection_status %s, want %s", a.CollectionStatus, tc.want)
			}
			if !a.UpdatedAt.After(before) {
				t.Fatal("updated_at not bumped")
			}
			if a.Status != StatusOpen {
				t.Fatalf("status %s", a.Status)
			}
		})
	}
}

func TestCompanyEvents(t *testing.T) {
	cases := []struct {
		name       string
		prior      []string // agency events first
		typ        string
		data       map[string]any
		wantStatus int
		check      func(t *testing.T, a *Assignment)
	}{
		{"credit note covering the sum closes", nil, "credit_note", map[string]any{"credit_note_number": "CN1", "sum": Amt("100")}, 201,
			func(t *testing.T, a *Assignment) {
				expect(t, a.Status == "closed" && a.Paid.Cmp(Amt("100").Decimal) == 0, "status %s paid %s", a.Status, a.Paid)
				expect(t, fmt.Sprint(eventTypes(a)) == "[delivery_status credit_note close]", "events %v", eventTypes(a))
			}},
		{"partial credit note keeps it open", nil, "credit_note", map[string]any{"credit_note_number": "CN1", "sum": Amt("30")}, 201,
			func(t *testing.T, a *Assignment) {
				expect(t, a.Status == "open" && a.Paid.Cmp(Amt("30").Decimal) == 0, "status %s paid %s", a.Status, a.Paid)
			}},
		{"negative credit sum is 422", nil, "credit_note", map[string]any{"sum": Amt("-30")}, 422, nil},
		{"cancel closes with a close event", nil, "cancel", nil, 201,
			func(t *testing.T, a *Assignment) {
				expect(t, a.Status == "closed" && a.ClosedAt != nil, "status %s", a.Status)
				expect(t, fmt.Sprint(eventTypes(a)) == "[delivery_status cancel close]", "events %v", eventTypes(a))
			}},
		{"freeze is confirmed", nil, "freeze", map[string]any{"frozen": true, "end_date": "2026-04-15"}, 201,
			func(t *testing.T, a *Assignment) {
				expect(t, fmt.Sprint(eventTypes(a)) == "[delivery_status freeze freeze_confirmed]", "events %v", eventTypes(a))
				expect(t, a.Events[0].Data["end_date"] == "2026-04-15", "confirmation %v", a.Events[0].Data)
			}},
		{"freeze with frozen false ends a suspension", []string{"freeze_confirmed"}, "freeze", map[string]any{"frozen": false}, 201,
			func(t *testing.T, a *Assignment) {
				expect(t, a.Events[0].Type == "unfreezed" && a.Events[0].PartyID == AgencyPartyID, "events %v", eventTypes(a))
			}},
		{"freeze after legal collection is rejected with a comment", []string{"legal_collection_started"}, "freeze", map[string]any{"frozen": true, "end_date": "2026-04-15"}, 201,
			func(t *testing.T, a *Assignment) {
				expect(t, a.Events[0].Type == "comment", "events %v", eventTypes(a))
			}},
		{"due date change accepted before collection", []string{"reminder_sent"}, "due_date_change_request", map[string]any{"due_date": "2026-05-01"}, 201,
			func(t *testing.T, a *Assignment) {
				expect(t, a.DueDate == "2026-05-01", "due_date %s", a.DueDate)
				expect(t, a.Events[0].Type == "due_date_changed" && a.Events[0].PartyID == AgencyPartyID, "events %v", eventTypes(a))
			}},
		{"due date change rejected once collection started", []string{"collection_started"}, "due_date_change_request", map[string]any{"due_date": "2026-05-01"}, 201,
			func(t *testing.T, a *Assignment) {
				expect(t, a.DueDate == "2026-03-16", "due_date %s", a.DueDate)
				expect(t, a.Events[0].Type == "comment" && a.Events[0].Data["comment"] != "", "events %v", eventTypes(a))
			}},
		{"bad due date is 422", nil, "due_date_change_request", map[string]any{"due_date": "soon"}, 422, nil},
		{"agency-only type is 422", nil, "close", nil, 422, nil},
		{"reminder_sent is agency-only", nil, "reminder_sent", nil, 422, nil},
		{"unknown type is 422", nil, "bogus", nil, 422, nil},
		{"paid without sum_paid is 422", nil, "paid", map[string]any{}, 422, nil},
		{"credit_loss changes nothing", nil, "credit_loss", nil, 201,
			func(t *testing.T, a *Assignment) {
				expect(t, a.Status == "open" && a.CollectionStatus == "unknown", "%s %s", a.Status, a.CollectionStatus)
			}},
		{"comment is accepted", nil, "comment", map[string]any{"comment": "hello"}, 201, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			id := e.assignment("1", "100")
			for _, p := range tc.prior {
				if _, err := e.sb.AddAgencyEvent(id, p, nil, time.Time{}); err != nil {
					t.Fatal(err)
				}
			}
			var body map[string]any
			resp := e.do(http.MethodPost, e.rec.URL+"/v1/assignments/"+id+"/events", e.defaultToken(),
				map[string]any{"type": tc.typ, "data": tc.data}, &body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %v", resp.StatusCode, tc.wantStatus, body)
			}
			if tc.wantStatus == 422 && body["code"] == nil {
				t.Fatalf("error body %v", body)
			}
			if tc.check != nil {
				tc.check(t, e.get(id))
			}
		})
	}
}

func expect(t *testing.T, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Fatalf(format, args...)
	}
}

func TestClosedAssignmentRefusesPaymentsAndPartialClose(t *testing.T) {
	e := newEnv(t, Config{})
	id := e.assignment("1", "100")
	if _, err := e.sb.AddAgencyEvent(id, "paid", map[string]any{"sum_paid": Amt("100")}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sb.AddCompanyEvent(id, "paid", map[string]any{"sum_paid": Amt("1")}, time.Time{}); err == nil {
		t.Fatal("paid on a closed assignment accepted")
	}
	id2 := e.assignment("2", "100")
	if _, err := e.sb.AddAgencyEvent(id2, "partially_closed", nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	a := e.get(id2)
	expect(t, a.Status == "partially_closed" && a.PartiallyClosedAt != nil, "status %s", a.Status)
	if _, err := e.sb.AddAgencyEvent(id2, "close", nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	expect(t, e.get(id2).Status == "closed", "not closed")
}

func TestServiceLevelsAndSeenAndMessages(t *testing.T) {
	e := newEnv(t, Config{})
	id := e.assignment("1", "100")
	tok := e.defaultToken()
	var sl ServiceLevel
	e.do(http.MethodGet, e.rec.URL+"/v1/service_levels/2000001-1", tok, nil, &sl)
	expect(t, sl.ServiceLevel == "default", "level %v", sl)
	resp := e.do(http.MethodPatch, e.rec.URL+"/v1/service_levels/2000001-1", tok, map[string]any{"service_level": "vip"}, &sl)
	expect(t, resp.StatusCode == 200 && sl.ServiceLevel == "vip", "patch %d %v", resp.StatusCode, sl)
	a := e.get(id)
	expect(t, a.ServiceLevel == "vip" && a.Events[0].Type == "service_level_changed", "assignment %s %v", a.ServiceLevel, eventTypes(a))
	var list []ServiceLevel
	e.do(http.MethodGet, e.rec.URL+"/v1/service_levels", tok, nil, &list)
	expect(t, len(list) == 1, "levels %v", list)
	resp = e.do(http.MethodPatch, e.rec.URL+"/v1/service_levels/2000001-1", tok, map[string]any{"service_level": "gold"}, nil)
	expect(t, resp.StatusCode == 422, "bad level %d", resp.StatusCode)

	var ev Event
	e.do(http.MethodPost, e.rec.URL+"/v1/assignments/"+id+"/events/"+a.Events[0].ID+"/seen", tok, nil, &ev)
	expect(t, len(ev.Seens) == 1 && ev.Seens[0].SeenBy == "Acme Oy", "seens %v", ev.Seens)

	var m Message
	resp = e.do(http.MethodPost, e.rec.URL+"/v1/assignments/"+id+"/messages", tok, map[string]any{"message": "Hei"}, &m)
	expect(t, resp.StatusCode == 201 && m.ThreadID != "", "message %d %+v", resp.StatusCode, m)
	if _, err := e.sb.AddAgencyMessage(id, "Moi"); err != nil {
		t.Fatal(err)
	}
	var threads []Thread
	e.do(http.MethodGet, e.rec.URL+"/v1/message_threads", tok, nil, &threads)
	expect(t, len(threads) == 1 && threads[0].LatestMessage.Message == "Moi", "threads %+v", threads)
	var msgs []Message
	e.do(http.MethodGet, e.rec.URL+"/v1/message_threads/"+m.ThreadID+"/messages", tok, nil, &msgs)
	expect(t, len(msgs) == 2, "messages %d", len(msgs))
	var th Thread
	e.do(http.MethodPatch, e.rec.URL+"/v1/message_threads/"+m.ThreadID, tok, map[string]any{"flagged": true}, &th)
	expect(t, th.Flagged, "not flagged")
	resp = e.do(http.MethodPut, e.rec.URL+"/v1/messages/"+msgs[0].ID+"/seen", tok, nil, &m)
	expect(t, resp.StatusCode == 200 && m.SeenAt != nil, "seen %d", resp.StatusCode)
	var ov Overview
	e.do(http.MethodGet, e.rec.URL+"/v1/assignments/overview", tok, nil, &ov)
	expect(t, ov.Open == 1 && ov.OpenSum.Cmp(Amt("100").Decimal) == 0, "overview %+v", ov)
}
