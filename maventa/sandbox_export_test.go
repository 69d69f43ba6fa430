package maventa

import "time"

// RecordWaitsForTest makes c record the retry waits it would sleep instead of
// sleeping, so that sandbox tests (package maventa_test) can check that a
// Retry-After was honoured without waiting on the wall clock. Call it before c
// is used.
func RecordWaitsForTest(c *Client) func() []time.Duration {
	w := &waits{}
	c.sleep = w.sleep
	return w.all
}
