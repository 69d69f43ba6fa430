package commands

import (
	"context"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/maventa-bridge/maventa-events/events"
)

// TestOutcomeMetric: maventa.commands.outcomes counts each decided command once,
// by outcome and command; publishing the outcome again does not count.
// metricReader installs a meter provider once per test binary: the global
// meter delegates to the first provider set, so a second one would see nothing.
var metricReader = sync.OnceValue(func() *sdkmetric.ManualReader {
	r := sdkmetric.NewManualReader()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(r)))
	return r
})

// outcomeCounts reads the cumulative maventa.commands.outcomes by "outcome/command".
func outcomeCounts(t *testing.T, reader *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
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
	return got
}

func TestOutcomeMetric(t *testing.T) {
	reader := metricReader()
	before := outcomeCounts(t, reader)
	_, api, _, a := sandboxAPI(t)
	h := NewHandler(Config{Holder: "h"}, newMemStore(), &memEmitter{}, api, nil)
	for _, c := range []struct{ id, text string }{{"mt-1", "x"}, {"mt-2", ""}, {"mt-1", "x"}} {
		if err := h.Handle(t.Context(), events.CommandComment.Subject(fakeCompany), commentBody(t, c.id, a, c.text)); err != nil {
			t.Fatal(err)
		}
	}
	got := outcomeCounts(t, reader)
	for k, v := range before {
		got[k] -= v
		if got[k] == 0 {
			delete(got, k)
		}
	}
	want := map[string]int64{"succeeded/assignment.comment": 1, "rejected/assignment.comment": 1}
	if len(got) != len(want) || got["succeeded/assignment.comment"] != 1 || got["rejected/assignment.comment"] != 1 {
		t.Errorf("maventa.commands.outcomes = %v, want %v", got, want)
	}
}
