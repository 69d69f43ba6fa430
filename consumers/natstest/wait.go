package natstest

import (
	"testing"
	"time"
)

// WaitFor waits until cond holds, checking every few milliseconds, and fails
// the test after timeout. Tests use it for conditions that only the server side
// can report (a consumer drained, a stream holding N messages, a service ready):
// it waits on the condition itself, never on an assumed duration.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting: %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
