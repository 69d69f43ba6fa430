package sandbox

import (
	"net/http"
	"testing"
	"time"
)

func TestACompanyWithoutReceivablesIsRefusedAndEveryRequestIsCounted(t *testing.T) {
	e := newEnv(t, Config{})
	const noRec = "33333333-3333-4333-8333-333333333333"
	e.sb.AddCompany(Company{ID: noRec, APIKey: "key-3", VendorAPIKey: "vendor-1", Name: "Laskut Oy", NoReceivables: true})
	tok := e.token(noRec, "key-3", "vendor-1", "receivables:assignments")
	if r := e.do("GET", e.rec.URL+"/v1/events", tok, nil, nil); r.StatusCode != http.StatusForbidden {
		t.Fatalf("events of a company without receivables: %d, want 403", r.StatusCode)
	}
	other := e.token(testCompany, "key-1", "vendor-1", "receivables:assignments")
	if r := e.do("GET", e.rec.URL+"/v1/events", other, nil, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("events of a company with receivables: %d, want 200", r.StatusCode)
	}
	e.clock.Advance(time.Second)
	e.do("GET", e.rec.URL+"/v1/events", other, nil, nil)
	got := e.sb.Requests()
	if ax := got["ax"]; ax.Total != 2 || ax.PeakSecond != 2 {
		t.Errorf("ax %+v, want the 2 token requests in one second", ax)
	}
	rec := got["receivables"]
	if rec.Total != 3 || rec.PeakSecond != 2 || rec.PerCompany[noRec] != 1 || rec.PerCompany[testCompany] != 2 {
		t.Errorf("receivables %+v, want 3 requests, peak 2, 1 for %s and 2 for %s", rec, noRec, testCompany)
	}
}
