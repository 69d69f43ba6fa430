package handlers

import (
	"encoding/json"
	"errors"
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
	codeRefused      = "webhook_refused"   // 400: the store refused the message itself; kept in quarantine when it fits
	codeUnavailable  = "store_unavailable" // 503: our failure; Maventa's retry will succeed later
)

var statusOf = map[string]int{
	codeStored:       http.StatusOK,
	codeUnauthorized: http.StatusUnauthorized,
	codeTooLarge:     http.StatusRequestEntityTooLarge,
	codeInvalid:      http.StatusBadRequest,
	codeRefused:      http.StatusBadRequest,
	codeUnavailable:  http.StatusServiceUnavailable,
}

// refusal is implemented by a Store error that refuses the message itself (its
// size, its headers, its subject; natsstore.RefusedError): the same request can
// never be stored, so answering 503 would make Maventa retry it forever.
type refusal interface {
	error
	RefusedKind() string
}

// refusedTooLarge is the RefusedKind of a message over the store's size limit.
const refusedTooLarge = "too_large"

// storeFailure maps an error of Store or Quarantine to the answer's code, and
// to the kind of refusal ("" when the store is unavailable).
func storeFailure(err error) (code, kind string) {
	var r refusal
	if !errors.As(err, &r) {
		return codeUnavailable, ""
	}
	if r.RefusedKind() == refusedTooLarge {
		return codeTooLarge, r.RefusedKind()
	}
	return codeRefused, r.RefusedKind()
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
