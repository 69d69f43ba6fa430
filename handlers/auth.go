package handlers

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
)

// Secrets is the set of webhook secrets currently accepted. Several may be valid
// at once so that a secret can be rotated without downtime: add the new one,
// re-register the webhook URL at Maventa, then remove the old one.
type Secrets struct {
	hashes [][sha256.Size]byte
}

// NewSecrets returns the set of non-empty secrets. It is an error to pass none:
// callers that really want no authentication must not build a Secrets at all.
func NewSecrets(secrets []string) (*Secrets, error) {
	s := &Secrets{}
	for _, v := range secrets {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		s.hashes = append(s.hashes, sha256.Sum256([]byte(v)))
	}
	if len(s.hashes) == 0 {
		return nil, errors.New("no webhook secret configured")
	}
	return s, nil
}

// Match reports whether candidate equals one of the secrets. It compares fixed-
// length hashes in constant time and always checks every secret, so neither the
// length of a secret nor which one matched shows in the response time.
func (s *Secrets) Match(candidate string) bool {
	h := sha256.Sum256([]byte(candidate))
	ok := 0
	for i := range s.hashes {
		ok |= subtle.ConstantTimeCompare(h[:], s.hashes[i][:])
	}
	return ok == 1
}

// authorized reports whether the request carries a valid secret: as the Basic
// auth password (https://user:secret@host/...) or the "secret" query parameter
// (https://host/...?secret=...), the two forms Maventa's documentation offers.
func (s *Secrets) authorized(r *http.Request) bool {
	matched := false
	if _, pw, ok := r.BasicAuth(); ok && s.Match(pw) {
		matched = true
	}
	if q := r.URL.Query().Get("secret"); q != "" && s.Match(q) {
		matched = true
	}
	return matched
}
