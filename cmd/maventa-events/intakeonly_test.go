package main

import "testing"

// TestServeIntakeOnlyKeepsRunning: with CONSUMERS_ENABLED=false the service
// stores webhooks and keeps serving; it used to stop at once, taking the
// missing consumers for a fatal error.
func TestServeIntakeOnlyKeepsRunning(t *testing.T) {
	s := startService(t, map[string]string{"CONSUMERS_ENABLED": "false", "LOG_LEVEL": "warn"})
	for i := range 3 {
		if code, body := s.post(t, webhook(i)); code != 200 {
			t.Fatalf("post %d: %d %s", i, code, body)
		}
	}
	if got := storedBodies(t, s.natsURL); len(got) != 3 {
		t.Fatalf("stored %d webhooks, want 3", len(got))
	}
	select {
	case err := <-s.done:
		t.Fatalf("the service stopped by itself: %v", err)
	default:
	}
	if err := s.stop(t); err != nil {
		t.Fatalf("stop: %v", err)
	}
}
