package sandbox

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
)

func TestScenarioIsDeterministic(t *testing.T) {
	run := func(seed uint64) ScenarioSummary {
		e := newEnv(t, Config{Seed: seed})
		sum, err := e.sb.RunScenario(context.Background(), ScenarioConfig{Companies: 3, InvoicesPerCompany: 40})
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	a, b, c := run(42), run(42), run(43)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	expect(t, string(ja) == string(jb), "same seed, different summaries:\n%s\n%s", ja, jb)
	expect(t, a.Digest != c.Digest, "different seeds, same digest")
	expect(t, a.Invoices == 120 && a.Assignments+a.FailedInvoices == 120, "counts %+v", a)
	expect(t, a.EventsByType["close"] > 0 && a.EventsByType["paid"] > 0 && a.EventsByType["reminder_sent"] > 0, "events %v", a.EventsByType)
	expect(t, a.WebhooksByEvent[EventInvoiceDelivered] == a.Assignments, "webhooks %v", a.WebhooksByEvent)
	total := 0
	for _, n := range a.EventsByType {
		total += n
	}
	expect(t, total == a.Events, "events %d vs %d", total, a.Events)
}

func TestScenarioMatchesTheAPI(t *testing.T) {
	e := newEnv(t, Config{Seed: 5})
	sum, err := e.sb.RunScenario(context.Background(), ScenarioConfig{CompanyIDs: []string{testCompany}, InvoicesPerCompany: 30})
	if err != nil {
		t.Fatal(err)
	}
	tok := e.defaultToken()
	counts := map[string]int{}
	for page := "1"; page != ""; {
		var list []*Event
		resp := e.do(http.MethodGet, e.rec.URL+"/v1/events?per_page=100&page="+page, tok, nil, &list)
		for _, ev := range list {
			counts[ev.Type]++
		}
		page = resp.Header.Get("X-Next-Page")
	}
	for typ, n := range sum.EventsByType {
		expect(t, counts[typ] == n, "%s: API has %d, summary %d", typ, counts[typ], n)
	}
}

func TestScenarioRateStopsWithContext(t *testing.T) {
	e := newEnv(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.sb.RunScenario(ctx, ScenarioConfig{Rate: 1000})
	expect(t, err != nil, "cancelled scenario returned no error")
}
