package commandstream

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/maventa-bridge/maventa-events/consumers/commands"

	"github.com/maventa-bridge/maventa-events/events"
)

// TestServiceCommands: activate Amili Kassavirta (followed through pending to
// activated without any webhook), change accountable_party, close; and the
// rejections of seed 003's rules.
func TestServiceCommands(t *testing.T) {
	e := newEnv(t)
	e.run(e.handler("h1"), e.sc)

	e.publish(events.CommandActivateService, "sv-1", company, "amili", events.CommandActivateService.Example)
	succeeded(t, e.outcome("sv-1"))
	if evs := e.serviceEvents(1); evs[0].Type != events.TypeServicePending.Type() || evs[0].CorrelationID != "corr-sv-1" {
		t.Fatalf("first service event %s %s", evs[0].Type, evs[0].Data)
	}
	var put sent
	for _, w := range e.rec.writes() {
		if w.Method == "PUT" {
			put = w
		}
	}
	if put.Path != "/v2/services/amili/receivables" {
		t.Fatalf("writes %+v", e.rec.writes())
	}
	jsonEqual(t, put.Body, events.CommandActivateService.Example)

	if err := e.sb.ActivateService(company, "amili"); err != nil {
		t.Fatal(err)
	}
	evs := e.serviceEvents(2)
	var act events.ServiceActivated
	_ = json.Unmarshal(evs[1].Data, &act)
	if evs[1].Type != events.TypeServiceActivated.Type() || act.IBAN == "" {
		t.Fatalf("second service event %s %s", evs[1].Type, evs[1].Data)
	}

	e.publish(events.CommandChangeAccountableParty, "sv-2", company, "amili", `{"accountable_party":"company"}`)
	succeeded(t, e.outcome("sv-2"))
	w := e.rec.writes()
	if last := w[len(w)-1]; last.Method != "PATCH" || last.Path != "/v2/services/amili/receivables" {
		t.Errorf("write %+v", last)
	} else {
		jsonEqual(t, last.Body, `{"accountable_party":"company"}`)
	}

	for _, c := range []struct {
		id, subject, data string
		def               events.CommandDef
		want              string
	}{
		{"sv-x1", "ropo", `{"contact_person":"M","contact_email":"m@example.com","accountable_party":"company"}`, events.CommandActivateService, "data"},
		{"sv-x2", "amili", `{"contact_person":"M","contact_email":"m@example.com","iban":"FI2112345600000786","bic":"NDEAFIHH"}`, events.CommandActivateService, "data.iban"},
		{"sv-x3", "amili", events.CommandActivateService.Example, events.CommandActivateService, "subject"},
		{"sv-x4", "visma", `{}`, events.CommandCloseService, "subject"},
		{"sv-x5", "ropo", `{}`, events.CommandCloseService, "subject"},
	} {
		e.publish(c.def, c.id, company, c.subject, c.data)
		out := e.outcome(c.id)
		var r events.CommandRejected
		_ = json.Unmarshal(out.Data, &r)
		if out.Type != events.TypeCommandRejected.Type() || len(r.Problems) != 1 || r.Problems[0].Field != c.want {
			t.Errorf("%s: %s %s", c.id, out.Type, out.Data)
		}
		if c.id == "sv-x3" && !strings.Contains(string(out.Data), "already active") {
			t.Errorf("%s: %s", c.id, out.Data)
		}
	}

	e.publish(events.CommandCloseService, "sv-3", company, "amili", `{}`)
	succeeded(t, e.outcome("sv-3"))
	if _, err := e.sb.Service(company, "amili"); err == nil {
		t.Error("service still there after close")
	}
}

type nudges struct {
	mu sync.Mutex
	n  []string
}

func (r *nudges) Nudge(c string) { r.mu.Lock(); r.n = append(r.n, c); r.mu.Unlock() }

// TestSucceededCommandNudgesThePoller: a succeeded command tells the poller
// hook its company; a rejected one does not.
func TestSucceededCommandNudgesThePoller(t *testing.T) {
	e := newEnv(t)
	rec := &nudges{}
	h := commands.NewHandler(commands.Config{Holder: "h", Now: e.clock.Now, Nudge: rec}, e.store, e.emitter, e.api, quiet)
	a := e.assignment("N1", "10.00")
	for _, c := range []struct{ id, data string }{{"n-1", `{"text":"x"}`}, {"n-2", `{"text":""}`}} {
		if err := h.Handle(t.Context(), events.CommandComment.Subject(company), command(events.CommandComment, c.id, company, a, c.data)); err != nil {
			t.Fatal(err)
		}
	}
	if len(rec.n) != 1 || rec.n[0] != company {
		t.Errorf("nudged %v, want once for %s", rec.n, company)
	}
}
