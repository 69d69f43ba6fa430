package handlers

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Outcome codes of the webhook endpoint, mapped to HTTP statuses in one place.
// Maventa counts only 200/201/204 as delivered and retries anything else hourly,
// so every status below is chosen for what Maventa will do next.
const (
	codeStored       = "stored"            // 200: kept durably (or already kept)
	codeUnauthorized = "unauthorized"      // 401: wrong or missing secret; nothing kept
	codeTooLarge     = "body_too_large"    // 413: over the limit; nothing kept
	codeInvalid      = "invalid_webhook"   // 400: kept in quarantine; a retry won't help
	codeUnavailable  = "store_unavailable" // 503: our failure; Maventa's retry will succeed later
)

var statusOf = map[string]int{
	codeStored:       http.StatusOK,
	codeUnauthorized: http.StatusUnauthorized,
	codeTooLarge:     http.StatusRequestEntityTooLarge,
	codeInvalid:      http.StatusBadRequest,
	codeUnavailable:  http.StatusServiceUnavailable,
}

// errorBody is the JSON body of every non-2xx answer.
type errorBody struct {
	Error    string   `json:"error"`
	Message  string   `json:"message"`
	Problems []string `json:"problems,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code, msg string, problems []string, retryAfter time.Duration) {
	status := statusOf[code]
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Basic realm="maventa-webhooks"`)
	case http.StatusServiceUnavailable:
		secs := int(retryAfter.Round(time.Second) / time.Second)
		if secs < 1 {
			secs = 1
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	writeJSON(w, status, errorBody{Error: code, Message: msg, Problems: problems})
}
