package maventa

// IsAmbiguous reports whether a write that failed with err may nevertheless
// have been applied by Maventa: the request was sent and the answer lost or
// unclear (a timeout, a connection reset after sending, 500, 502, 504, 408).
// Such a write must not be sent again blindly; the caller reads Maventa back
// (the assignment's events, the thread's messages, the transfer's state) and
// looks for what the write would have created. Refusals that certainly did not
// apply (429, 503, a connection never made) are not ambiguous: the client
// resends those itself (IsSafeToResend).
func IsAmbiguous(err error) bool {
	return IsRetryable(err) && !IsSafeToResend(err)
}
