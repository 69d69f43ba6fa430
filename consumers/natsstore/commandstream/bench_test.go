package commandstream

import (
	"fmt"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/events"
)

// BenchmarkCommands: b.N comments over 50 assignments, from publish to the
// last outcome event, through embedded JetStream and the sandbox at zero
// latency (go test -run XXX -bench Commands -benchtime 2000x ./consumers/commands).
func BenchmarkCommands(b *testing.B) {
	e := newEnvWith(b, false)
	sc := e.sc
	sc.Concurrency = 16
	e.run(e.handler("bench"), sc)
	var as []string
	for i := range 50 {
		as = append(as, e.assignment(fmt.Sprint("B", i), "100.00"))
	}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		e.publish(events.CommandComment, fmt.Sprint("bench-", i), company, as[i%len(as)], fmt.Sprintf(`{"text":"%d"}`, i))
	}
	for i := range b.N {
		e.outcome(fmt.Sprint("bench-", i))
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "commands/s")
}
