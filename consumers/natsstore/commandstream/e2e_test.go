package commandstream

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/maventa-bridge/maventa-events/consumers/natstest"
	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

// jsonEqual compares two JSON documents by value, numbers by their text.
func jsonEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	dec := json.NewDecoder(bytes.NewReader(got))
	dec.UseNumber()
	if err := dec.Decode(&g); err != nil {
		t.Fatalf("request body %s: %v", got, err)
	}
	dec = json.NewDecoder(strings.NewReader(want))
	dec.UseNumber()
	if err := dec.Decode(&w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Errorf("Maventa request body\n got: %s\nwant: %s", gb, wb)
	}
}

// TestEveryCommandEndToEnd publishes each command on NATS and follows it through
// the sandbox (which reacts as seed 003 says Visma Amili does) to its outcome.
func TestEveryCommandEndToEnd(t *testing.T) {
	e := newEnv(t)
	e.run(e.handler("h1"), e.sc)
	tests := []struct {
		name     string
		def      events.CommandDef
		data     string
		setup    func(assignment string) // agency events before the command
		wantBody string                  // the body seed 003 shows; "" for no body
		wantPath string                  // path suffix after /v1/assignments/<id>
		want     []string                // event types the assignment then has (the reaction included)
		status   string                  // the assignment's status afterwards
	}{
		{name: "direct payment covering the open sum closes the assignment", def: events.CommandPaid,
			data:     `{"amount":"100.00","currency":"EUR","booked_at":"2026-03-01","archive_number":"12345","payer_name":"Asiakas Oy"}`,
			wantBody: `{"type":"paid","data":{"sum_paid":100.00,"booked_at":"2026-03-01","archive_number":"12345"}}`,
			wantPath: "/events", want: []string{"paid", "close"}, status: "closed"},
		{name: "partial direct payment keeps it open", def: events.CommandPaid,
			data:     `{"amount":40.5,"booked_at":"2026-03-01"}`,
			wantBody: `{"type":"paid","data":{"sum_paid":40.5,"booked_at":"2026-03-01"}}`,
			wantPath: "/events", want: []string{"paid"}, status: "open"},
		{name: "full credit note closes the assignment", def: events.CommandCreditNote,
			data:     `{"credit_note_number":"CN-7","amount":"100.00"}`,
			wantBody: `{"type":"credit_note","data":{"credit_note_number":"CN-7","sum":100.00}}`,
			wantPath: "/events", want: []string{"credit_note", "close"}, status: "closed"},
		{name: "comment", def: events.CommandComment,
			data:     `{"text":"Customer says paid on 1.3."}`,
			wantBody: `{"type":"comment","data":{"comment":"Customer says paid on 1.3."}}`,
			wantPath: "/events", want: []string{"comment"}, status: "open"},
		{name: "due date request becomes due_date_changed", def: events.CommandDueDateChangeRequest,
			data:     `{"due_date":"2026-04-30"}`,
			wantBody: `{"type":"due_date_change_request","data":{"due_date":"2026-04-30"}}`,
			wantPath: "/events", want: []string{"due_date_change_request", "due_date_changed"}, status: "open"},
		{name: "due date request after collection started becomes a comment", def: events.CommandDueDateChangeRequest,
			setup: func(a string) {
				if _, err := e.sb.AddAgencyEvent(a, "collection_started", nil, time.Time{}); err != nil {
					t.Fatal(err)
				}
			},
			data:     `{"due_date":"2026-04-30"}`,
			wantBody: `{"type":"due_date_change_request","data":{"due_date":"2026-04-30"}}`,
			wantPath: "/events", want: []string{"collection_started", "due_date_change_request", "comment"}, status: "open"},
		{name: "cancel closes the assignment", def: events.CommandCancel, data: `{}`,
			wantBody: `{"type":"cancel"}`, wantPath: "/events", want: []string{"cancel", "close"}, status: "closed"},
		{name: "freeze is confirmed", def: events.CommandFreeze, data: `{"frozen":true,"end_date":"2026-03-20"}`,
			wantBody: `{"type":"freeze","data":{"frozen":true,"end_date":"2026-03-20"}}`,
			wantPath: "/events", want: []string{"freeze", "freeze_confirmed"}, status: "open"},
		{name: "credit loss", def: events.CommandCreditLoss, data: `{}`,
			wantBody: `{"type":"credit_loss"}`, wantPath: "/events", want: []string{"credit_loss"}, status: "open"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := e.assignment("E"+string(rune('A'+i)), "100.00")
			if tt.setup != nil {
				tt.setup(a)
			}
			before := len(e.rec.writes())
			id := "cmd-e2e-" + string(rune('a'+i))
			e.publish(tt.def, id, company, a, tt.data)
			out := e.outcome(id)
			if out.Type != events.TypeCommandSucceeded.Type() {
				t.Fatalf("outcome %s %s", out.Type, out.Data)
			}
			var d events.CommandSucceeded
			if err := json.Unmarshal(out.Data, &d); err != nil {
				t.Fatal(err)
			}
			if d.CommandID != id || d.Command != tt.def.Name || d.CommandSubject != a || d.MaventaEventID == "" || d.ReadBack ||
				out.CorrelationID != "corr-"+id || out.Subject != a || out.CompanyID != company {
				t.Errorf("outcome %+v (correlation %q)", d, out.CorrelationID)
			}
			w := e.rec.writes()[before:]
			if len(w) != 1 || w[0].Method != "POST" || w[0].Path != "/v1/assignments/"+a+tt.wantPath {
				t.Fatalf("writes %+v", w)
			}
			jsonEqual(t, w[0].Body, tt.wantBody)
			got := e.types(a)
			for _, typ := range tt.want {
				if !slices.Contains(got, typ) {
					t.Errorf("assignment events %v, want %v among them", got, tt.want)
				}
			}
			sa, _ := e.sb.Assignment(a)
			if sa.Status != tt.status {
				t.Errorf("assignment status %s, want %s", sa.Status, tt.status)
			}
			if e.sb.CompanyEvents(a, tt.def.MaventaEvent) != 1 {
				t.Errorf("company %s events: %d, want 1", tt.def.MaventaEvent, e.sb.CompanyEvents(a, tt.def.MaventaEvent))
			}
		})
	}

	t.Run("freeze ends with unfreezed when its end date passes", func(t *testing.T) {
		a := e.assignment("F1", "50.00")
		e.publish(events.CommandFreeze, "cmd-freeze-1", company, a, `{"end_date":"2026-03-05"}`)
		if out := e.outcome("cmd-freeze-1"); out.Type != events.TypeCommandSucceeded.Type() {
			t.Fatalf("outcome %s", out.Data)
		}
		e.clock.Advance(5 * 24 * time.Hour)
		if n := e.sb.EndFreezes(); n != 1 {
			t.Fatalf("ended %d freezes", n)
		}
		if got := e.types(a); !slices.Contains(got, "unfreezed") {
			t.Errorf("events %v, want unfreezed", got)
		}
	})

	t.Run("mark an event seen", func(t *testing.T) {
		a := e.assignment("S1", "50.00")
		ev, err := e.sb.AddAgencyEvent(a, "comment", map[string]any{"comment": "Please confirm"}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		before := len(e.rec.writes())
		e.publish(events.CommandMarkEventSeen, "cmd-seen-1", company, a, `{"event_id":"`+ev.ID+`"}`)
		if out := e.outcome("cmd-seen-1"); out.Type != events.TypeCommandSucceeded.Type() {
			t.Fatalf("outcome %s", out.Data)
		}
		w := e.rec.writes()[before:]
		if len(w) != 1 || w[0].Path != "/v1/assignments/"+a+"/events/"+ev.ID+"/seen" {
			t.Fatalf("writes %+v", w)
		}
		sa, _ := e.sb.Assignment(a)
		for _, x := range sa.Events {
			if x.ID == ev.ID && len(x.Seens) != 1 {
				t.Errorf("seens %+v", x.Seens)
			}
		}
	})
}

// TestRejectedCommandsSendNothing: local validation answers command.rejected
// with every problem, and nothing reaches Maventa.
func TestRejectedCommandsSendNothing(t *testing.T) {
	e := newEnv(t)
	e.run(e.handler("h1"), e.sc)
	open := e.assignment("R1", "100.00")
	legal := e.assignment("R2", "100.00")
	if _, err := e.sb.AddAgencyEvent(legal, "legal_collection_started", nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name            string
		def             events.CommandDef
		companyID, subj string
		data            string
		want            []string
	}{
		{"payment by Visma Amili is not a direct payment", events.CommandPaid, company, open,
			`{"amount":"10.00","booked_at":"2026-03-01","payer_name":"VISMA AMILI OY"}`, []string{"data.payer_name"}},
		{"an amount more precise than cents and a non-date", events.CommandPaid, company, open,
			`{"amount":10.005,"booked_at":"1.3.2026"}`, []string{"data.amount", "data.booked_at"}},
		{"a negative credit sum", events.CommandCreditNote, company, open, `{"credit_note_number":"1","amount":"-5"}`, []string{"data.amount"}},
		{"freeze after legal collection started", events.CommandFreeze, company, legal, `{"end_date":"2026-04-01"}`, []string{"subject"}},
		{"an unknown assignment is named", events.CommandComment, company, "no-such-assignment", `{"text":"hi"}`, []string{"subject"}},
		{"an unknown company is named", events.CommandComment, other, open, `{"text":"hi"}`, []string{"companyid"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "cmd-rej-" + string(rune('a'+i))
			e.publish(tt.def, id, tt.companyID, tt.subj, tt.data)
			out := e.outcome(id)
			if out.Type != events.TypeCommandRejected.Type() {
				t.Fatalf("outcome %s %s", out.Type, out.Data)
			}
			var d events.CommandRejected
			_ = json.Unmarshal(out.Data, &d)
			var fields []string
			for _, p := range d.Problems {
				fields = append(fields, p.Field)
				if p.Problem == "" {
					t.Errorf("problem without text: %+v", p)
				}
			}
			if !slices.Equal(fields, tt.want) {
				t.Errorf("problems %+v, want fields %v", d.Problems, tt.want)
			}
			if strings.Contains(tt.name, "named") && !strings.Contains(string(out.Data), tt.subj) && !strings.Contains(string(out.Data), tt.companyID) {
				t.Errorf("rejection does not name the unknown target: %s", out.Data)
			}
		})
	}
	if w := e.rec.writes(); len(w) != 0 {
		t.Errorf("rejected commands sent %+v", w)
	}
}

// TestMaventaRefusalIsFailed: a 422 from Maventa is command.failed with its
// status, code and message, and is not retried.
func TestMaventaRefusalIsFailed(t *testing.T) {
	e := newEnv(t)
	e.run(e.handler("h1"), e.sc)
	a := e.assignment("X1", "100.00")
	e.sb.SetFault(sandbox.Fault{Method: "POST", Path: "/v1/assignments/*/events", Status: 422, Count: 1})
	e.publish(events.CommandComment, "cmd-fail-1", company, a, `{"text":"x"}`)
	out := e.outcome("cmd-fail-1")
	if out.Type != events.TypeCommandFailed.Type() {
		t.Fatalf("outcome %s %s", out.Type, out.Data)
	}
	var d events.CommandFailed
	_ = json.Unmarshal(out.Data, &d)
	if d.Status != 422 || d.Message == "" {
		t.Errorf("failed %+v", d)
	}
	if n := len(e.rec.writes()); n != 1 {
		t.Errorf("%d writes, want 1", n)
	}
}

// TestSameCommandTwiceAppliesOnce: the same command id published again after
// JetStream's duplicate window (another Nats-Msg-Id here) is applied once and
// has one outcome event.
func TestSameCommandTwiceAppliesOnce(t *testing.T) {
	e := newEnv(t)
	e.run(e.handler("h1"), e.sc)
	a := e.assignment("D1", "100.00")
	e.publish(events.CommandPaid, "cmd-dup-1", company, a, `{"amount":"10.00","booked_at":"2026-03-01"}`)
	e.outcome("cmd-dup-1")
	body := command(events.CommandPaid, "cmd-dup-1", company, a, `{"amount":"10.00","booked_at":"2026-03-01"}`)
	if _, err := e.js.Publish(t.Context(), events.CommandPaid.Subject(company), body); err != nil {
		t.Fatal(err)
	}
	// A marker command behind it on the same assignment: once its outcome is in,
	// the duplicate before it was handled.
	e.publish(events.CommandComment, "cmd-dup-marker", company, a, `{"text":"after"}`)
	e.outcome("cmd-dup-marker")
	if n := e.sb.CompanyEvents(a, "paid"); n != 1 {
		t.Errorf("paid applied %d times", n)
	}
	if n := e.outcomeCount("cmd-dup-1"); n != 1 {
		t.Errorf("%d outcome events", n)
	}
}

// TestMessagingAndServiceLevelCommands: messages to an assignment and a thread,
// flagging a thread, marking a message seen and a customer's service level, each
// from NATS through the sandbox to its outcome, with the request body checked.
func TestMessagingAndServiceLevelCommands(t *testing.T) {
	e := newEnv(t)
	e.run(e.handler("h1"), e.sc)
	a := e.assignment("G1", "100.00")
	agency, err := e.sb.AddAgencyMessage(a, "Please confirm the debtor's address.")
	if err != nil {
		t.Fatal(err)
	}
	const bid = "1234567-1" // a valid Y-tunnus
	tests := []struct {
		name, id      string
		def           events.CommandDef
		subject, data string
		method, path  string
		wantBody      string
		wantMessageID bool
	}{
		{"message about an assignment", "m1", events.CommandAddAssignmentMessage, a, `{"text":"Debtor moved to Tampere."}`,
			"POST", "/v1/assignments/" + a + "/messages", `{"message":"Debtor moved to Tampere."}`, true},
		{"answer in a thread", "m2", events.CommandAddThreadMessage, agency.ThreadID, `{"text":"Address confirmed."}`,
			"POST", "/v1/message_threads/" + agency.ThreadID + "/messages", `{"message":"Address confirmed."}`, true},
		{"flag a thread", "m3", events.CommandFlagThread, agency.ThreadID, `{}`,
			"PATCH", "/v1/message_threads/" + agency.ThreadID, `{"flagged":true}`, false},
		{"mark a message seen", "m4", events.CommandMarkMessageSeen, agency.ID, `{}`,
			"PUT", "/v1/messages/" + agency.ID + "/seen", "", true},
		{"set a customer's service level", "m5", events.CommandSetServiceLevel, bid, `{"service_level":"VIP"}`,
			"PATCH", "/v1/service_levels/" + bid, `{"service_level":"vip"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.rec.writes())
			e.publish(tt.def, tt.id, company, tt.subject, tt.data)
			d := succeeded(t, e.outcome(tt.id))
			if tt.wantMessageID && d.MaventaMessageID == "" {
				t.Errorf("outcome %+v without the message id", d)
			}
			w := e.rec.writes()[before:]
			if len(w) != 1 || w[0].Method != tt.method || w[0].Path != tt.path {
				t.Fatalf("writes %+v", w)
			}
			if tt.wantBody != "" {
				jsonEqual(t, w[0].Body, tt.wantBody)
			}
		})
	}
	if lvl, _ := e.api.GetServiceLevel(t.Context(), company, bid); lvl.ServiceLevel != "vip" {
		t.Errorf("service level %q", lvl.ServiceLevel)
	}

	t.Run("rejections name what to fix", func(t *testing.T) {
		for id, c := range map[string]struct {
			def           events.CommandDef
			subject, data string
			field         string
		}{
			"r1": {events.CommandSetServiceLevel, "1234567-8", `{"service_level":"vip"}`, "subject"},
			"r2": {events.CommandSetServiceLevel, bid, `{"service_level":"gold"}`, "data.service_level"},
			"r3": {events.CommandAddThreadMessage, "no-such-thread", `{"text":"x"}`, "subject"},
			"r4": {events.CommandAddAssignmentMessage, a, `{"text":""}`, "data.text"},
		} {
			e.publish(c.def, id, company, c.subject, c.data)
			out := e.outcome(id)
			var r events.CommandRejected
			_ = json.Unmarshal(out.Data, &r)
			if out.Type != events.TypeCommandRejected.Type() || len(r.Problems) != 1 || r.Problems[0].Field != c.field {
				t.Errorf("%s: %s %s", id, out.Type, out.Data)
			}
		}
	})

	t.Run("a message whose answer was lost is found by reading back", func(t *testing.T) {
		e.sb.SetFault(sandbox.Fault{Method: "POST", Path: "/v1/assignments/*/messages", Status: 502, AfterApply: true, Count: 1})
		e.publish(events.CommandAddAssignmentMessage, "m6", company, a, `{"text":"Second note."}`)
		d := succeeded(t, e.outcome("m6"))
		if !d.ReadBack || d.MaventaMessageID == "" {
			t.Errorf("outcome %+v", d)
		}
		ms, _ := e.api.ListAssignmentMessages(t.Context(), company, a)
		n := 0
		for _, m := range ms {
			if m.Message == "Second note." {
				n++
			}
		}
		if n != 1 {
			t.Errorf("message applied %d times", n)
		}
	})
}

// TestCommandRequests: the request/reply form stores the command in the
// stream and answers at once; the outcome event follows as for any command.
func TestCommandRequests(t *testing.T) {
	e := newEnv(t)
	e.run(e.handler("h1"), e.sc)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- ServeRequests(ctx, e.nc, e.js, e.sc, quiet) }()
	t.Cleanup(func() { cancel(); <-done })
	a := e.assignment("Q1", "100.00")
	ask := func(def events.CommandDef, id, data string) Reply {
		t.Helper()
		subj := RequestSubjectRoot + "." + company + "." + def.Aggregate + "." + def.Action
		var m *nats.Msg
		var err error
		natstest.WaitFor(t, 10*time.Second, "the request subscription", func() bool {
			m, err = e.nc.Request(subj, command(def, id, company, a, data), 2*time.Second)
			return err == nil
		})
		var r Reply
		if err := json.Unmarshal(m.Data, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := ask(events.CommandComment, "rq-1", `{"text":"hello"}`); !r.Accepted || r.StreamSeq == 0 || r.ID != "rq-1" {
		t.Fatalf("reply %+v", r)
	}
	succeeded(t, e.outcome("rq-1"))
	r := ask(events.CommandPaid, "rq-2", `{"amount":1.001,"booked_at":"2026-03-01"}`)
	if r.Accepted || len(r.Problems) != 1 || r.Problems[0].Field != "data.amount" || r.StreamSeq == 0 {
		t.Fatalf("reply %+v", r)
	}
	if out := e.outcome("rq-2"); out.Type != events.TypeCommandRejected.Type() {
		t.Errorf("outcome %s", out.Type)
	}
	if r := ask(events.CommandComment, "rq-1", `{"text":"hello"}`); !r.Duplicate {
		t.Errorf("second request of rq-1: %+v", r)
	}
}
