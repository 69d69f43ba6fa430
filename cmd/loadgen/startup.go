package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// measureStartup starts the service n times, each on a fresh embedded store, and
// reports the time from process start to the first 200 from /readyz.
func measureStartup(ctx context.Context, bin string, n int, stdout, stderr io.Writer) error {
	h := hdr.New(1, 60_000_000, 3)
	for range n {
		start := time.Now()
		svc, err := startService(ctx, bin, "async", "default", nil, stderr)
		if err != nil {
			return err
		}
		// startService returns after the banner and one /readyz 200; poll again
		// only if that check raced (it fails the start otherwise).
		for {
			resp, err := http.Get(svc.url + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Since(start) > 30*time.Second {
				svc.stop()
				return fmt.Errorf("not ready within 30s")
			}
		}
		_ = h.RecordValue(time.Since(start).Microseconds())
		svc.stop()
	}
	ms := func(p float64) float64 { return float64(h.ValueAtQuantile(p)) / 1000 }
	fmt.Fprintf(stdout, "start-up (process start to /readyz 200, embedded JetStream, fresh store), %d runs: min %.0fms  p50 %.0fms  max %.0fms\n",
		n, float64(h.Min())/1000, ms(50), ms(100))
	return nil
}
