package main

import "testing"

// Every concurrent Maventa caller must be able to keep its connection: with
// net/http's default of 2 idle connections per host, the others were closed
// after each call and the next call paid a new handshake.
func TestMaventaTransportKeepsAConnectionPerCaller(t *testing.T) {
	for _, callers := range []int{0, 1, 16, 20, 500} {
		tr := maventaTransport(callers)
		if tr.MaxIdleConnsPerHost < callers || tr.MaxIdleConnsPerHost < 2 {
			t.Errorf("callers %d: MaxIdleConnsPerHost %d", callers, tr.MaxIdleConnsPerHost)
		}
		if tr.MaxIdleConns != 0 && tr.MaxIdleConns < tr.MaxIdleConnsPerHost {
			t.Errorf("callers %d: MaxIdleConns %d below the per-host %d", callers, tr.MaxIdleConns, tr.MaxIdleConnsPerHost)
		}
		if tr.Proxy == nil || tr.IdleConnTimeout == 0 {
			t.Errorf("callers %d: not a clone of http.DefaultTransport (proxy, idle timeout)", callers)
		}
	}
}
