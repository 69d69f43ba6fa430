package maventa_test

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/maventa-bridge/maventa-events/maventa"
)

func TestRouteTemplateReplacesIDs(t *testing.T) {
	for in, want := range map[string]string{
		"/v1/assignments": "/v1/assignments",
		"/v1/assignments/fa9781ba-20d1-4677-a125-f04bff7bbac0":                "/v1/assignments/{id}",
		"/v1/assignments/fa9781ba-20d1-4677-a125-f04bff7bbac0/events/e1/seen": "/v1/assignments/{id}/events/{id}/seen",
		"/v2/invoices/12f88354-5998-495b-8675-67bf05de60e5/assignment":        "/v2/invoices/{id}/assignment",
		"/v1/service_levels/1234567-8":                                        "/v1/service_levels/{id}",
		"/v2/services/amili/receivables":                                      "/v2/services/{id}/receivables",
		"/oauth2/token":                                                       "/oauth2/token",
		"/v1/invoices?invoice_id=x":                                           "/v1/invoices",
	} {
		if got := maventa.RouteTemplate(in); got != want {
			t.Errorf("RouteTemplate(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAPICallsAreCountedByRouteTemplate installs the process's only meter
// provider for this test binary (no other test of the package reads metrics).
func TestAPICallsAreCountedByRouteTemplate(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	e := newEnv(t)
	inv := e.invoice(t, sbCompany, "M1", "10.00", "Debtor Oy", "1111111-1")
	if _, err := e.c.AssignmentsForInvoice(context.Background(), sbCompany, inv.InvoiceID); err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	calls := map[string]int64{} // "METHOD route status" -> count
	var tokens int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			d, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				continue
			}
			for _, p := range d.DataPoints {
				switch m.Name {
				case "maventa.api.calls":
					method, _ := p.Attributes.Value("http.request.method")
					route, _ := p.Attributes.Value("http.route")
					status, _ := p.Attributes.Value("http.response.status_code")
					if strings.Contains(route.AsString(), inv.AssignmentID) {
						t.Errorf("route %q carries an id", route.AsString())
					}
					calls[method.AsString()+" "+route.AsString()+" "+status.Emit()] += p.Value
				case "maventa.api.token.refreshes":
					tokens += p.Value
				}
			}
		}
	}
	for _, k := range []string{"GET /v1/assignments 200", "GET /v1/assignments/{id} 200"} {
		if calls[k] < 1 {
			t.Errorf("no %q in maventa.api.calls: %v", k, calls)
		}
	}
	if tokens < 1 {
		t.Error("the token request was not counted in maventa.api.token.refreshes")
	}
}
