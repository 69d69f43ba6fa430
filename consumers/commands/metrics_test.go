package commands

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/maventa-bridge/maventa-events/events"
)

// TestOutcomeMetric: maventa.commands.outcomes counts each decided command once,
// by outcome and command; publishing the outcome again does not count.
func TestOutcomeMetric(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	e := newEnv(t)
	h := e.handler("h")
	a := e.assignment("MT1", "10.00")
	for _, c := range []struct{ id, data string }{{"mt-1", `{"text":"x"}`}, {"mt-2", `{"text":""}`}, {"mt-1", `{"text":"x"}`}} {
		if err := h.Handle(t.Context(), events.CommandComment.Subject(company), command(events.CommandComment, c.id, company, a, c.data)); err != nil {
			t.Fatal(err)
		}
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "maventa.commands.outcomes" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				o, _ := dp.Attributes.Value(attribute.Key("outcome"))
				c, _ := dp.Attributes.Value(attribute.Key("command"))
				got[o.AsString()+"/"+c.AsString()] += dp.Value
			}
		}
	}
	want := map[string]int64{"succeeded/assignment.comment": 1, "rejected/assignment.comment": 1}
	if len(got) != len(want) || got["succeeded/assignment.comment"] != 1 || got["rejected/assignment.comment"] != 1 {
		t.Errorf("maventa.commands.outcomes = %v, want %v", got, want)
	}
}
