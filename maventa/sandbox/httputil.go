package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// apiError is Maventa's error body: {"code","message","details"}.
type apiError struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Details []string `json:"details"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v == nil {
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string, details ...string) {
	if details == nil {
		details = []string{}
	}
	writeJSON(w, status, apiError{Code: code, Message: msg, Details: details})
}

// writeErr maps Go API errors to HTTP errors in one place.
func writeErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, ErrInvalid):
		writeError(w, http.StatusUnprocessableEntity, "unprocessable_entity", err.Error())
	default:
		writeError(w, http.StatusInternalServerError, "internal_error", err.Error())
	}
}

// decodeBody decodes a JSON request body into v, keeping numbers exact.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("request body: %w: %w", ErrInvalid, err)
	}
	return nil
}

// Pagination defaults (AX house style, ASSUMED for the Receivables API).
const (
	DefaultPerPage = 20
	MaxPerPage     = 100 // larger per_page values are clamped to this
)

// paginate cuts items to the requested page and writes Maventa's pagination
// headers. It returns false after writing a 422 for a malformed page/per_page.
func paginate[T any](w http.ResponseWriter, r *http.Request, items []T) ([]T, bool) {
	q := r.URL.Query()
	page, perPage := 1, DefaultPerPage
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusUnprocessableEntity, "invalid_parameter", "page must be a positive integer", "page")
			return nil, false
		}
		page = n
	}
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusUnprocessableEntity, "invalid_parameter", "per_page must be a positive integer", "per_page")
			return nil, false
		}
		perPage = min(n, MaxPerPage)
	}
	total := len(items)
	totalPages := (total + perPage - 1) / perPage
	start := min((page-1)*perPage, total)
	end := min(start+perPage, total)
	h := w.Header()
	h.Set("X-Total", strconv.Itoa(total))
	h.Set("X-Total-Pages", strconv.Itoa(totalPages))
	h.Set("X-Page", strconv.Itoa(page))
	h.Set("X-Per-Page", strconv.Itoa(perPage))
	h.Set("X-Next-Page", "")
	h.Set("X-Prev-Page", "")
	if page < totalPages {
		h.Set("X-Next-Page", strconv.Itoa(page+1))
	}
	if page > 1 {
		h.Set("X-Prev-Page", strconv.Itoa(min(page-1, max(totalPages, 1))))
	}
	link := func(p int, rel string) string {
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
		qq := r.URL.Query()
		qq.Set("page", strconv.Itoa(p))
		qq.Set("per_page", strconv.Itoa(perPage))
		u.RawQuery = qq.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var links []string
	if page < totalPages {
		links = append(links, link(page+1, "next"))
	}
	if page > 1 {
		links = append(links, link(page-1, "prev"))
	}
	links = append(links, link(1, "first"), link(max(totalPages, 1), "last"))
	h.Set("Link", strings.Join(links, ", "))
	return items[start:end], true
}

// parseTime accepts RFC3339 timestamps and plain dates (midnight UTC).
func parseTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC3339 timestamp or date: %w", v, ErrInvalid)
	}
	return t, nil
}

func errInvalidf(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, ErrInvalid)...)
}
