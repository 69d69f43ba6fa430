package maventa

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Page is one page of a Maventa list: a bare JSON array plus the X-* headers.
type Page[T any] struct {
	// Items are this page's elements.
	Items []T
	// Page is this page's number, from 1.
	Page int
	// PerPage is the page size asked for.
	PerPage int
	// NextPage is the next page's number, 0 when this is the last page.
	NextPage int
	// Total is X-Total, the number of items in all pages; -1 when not sent.
	Total int
	// TotalPages is X-Total-Pages; -1 when not sent.
	TotalPages int
}

// PageOptions selects one page.
type PageOptions struct {
	// Page is the page number, from 1. Zero: 1.
	Page int
	// PerPage is the page size, at most MaxPerPage. Zero: DefaultPerPage.
	PerPage int
}

func (p PageOptions) normalized() PageOptions {
	if p.Page < 1 {
		p.Page = 1
	}
	if p.PerPage <= 0 {
		p.PerPage = DefaultPerPage
	}
	if p.PerPage > MaxPerPage {
		p.PerPage = MaxPerPage
	}
	return p
}

// getPage fetches exactly one page with one request (plus retries of that request).
func getPage[T any](ctx context.Context, c *Client, companyID string, r request, p PageOptions) (Page[T], error) {
	p = p.normalized()
	q := url.Values{}
	for k, v := range r.query {
		q[k] = v
	}
	q.Set("page", strconv.Itoa(p.Page))
	q.Set("per_page", strconv.Itoa(p.PerPage))
	r.query = q
	var items []T
	r.out = &items
	h, err := c.do(ctx, companyID, r)
	if err != nil {
		return Page[T]{}, err
	}
	pg := Page[T]{Items: items, Page: p.Page, PerPage: p.PerPage, Total: headerInt(h, "X-Total"), TotalPages: headerInt(h, "X-Total-Pages")}
	next, present := headerNext(h)
	switch {
	case len(items) == 0 || len(items) < p.PerPage:
		// A short page is the last one whatever the headers say.
	case present:
		if next > p.Page {
			pg.NextPage = next
		}
	case pg.TotalPages > 0:
		if p.Page < pg.TotalPages {
			pg.NextPage = p.Page + 1
		}
	case r.headerless == stopWithoutHeaders:
		// Not known to paginate: a full page without headers is the whole list.
	default:
		// No pagination headers and a full page: assume more may follow.
		pg.NextPage = p.Page + 1
	}
	return pg, nil
}

// headerlessPolicy says what a full page without any pagination header means.
type headerlessPolicy int

const (
	// continueWithoutHeaders fetches the next page (documented list endpoints).
	continueWithoutHeaders headerlessPolicy = iota
	// stopWithoutHeaders treats the page as the whole list (endpoints not documented
	// as paginated, so that one ignoring page= is not fetched forever).
	stopWithoutHeaders
)

// collect fetches every page of a list whose pagination is not documented: it
// follows X-Next-Page when Maventa sends it and otherwise takes one answer as all.
func collect[T any](ctx context.Context, c *Client, companyID string, r request) ([]T, error) {
	r.headerless = stopWithoutHeaders
	out := []T{}
	for it, err := range all[T](ctx, c, companyID, r, MaxPerPage) {
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, nil
}

// all iterates every item of every page, one request per page, stopping after the
// first error (which is yielded once with a zero T) or when the consumer stops.
func all[T any](ctx context.Context, c *Client, companyID string, r request, perPage int) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		p := PageOptions{Page: 1, PerPage: perPage}
		for {
			pg, err := getPage[T](ctx, c, companyID, r, p)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range pg.Items {
				if !yield(it, nil) {
					return
				}
			}
			if pg.NextPage == 0 {
				return
			}
			p.Page = pg.NextPage
		}
	}
}

// headerInt parses an integer header, -1 when absent or malformed.
func headerInt(h http.Header, name string) int {
	v := strings.TrimSpace(h.Get(name))
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1
	}
	return n
}

// headerNext reads X-Next-Page: present reports whether the header was sent at all;
// an empty value means "no next page" (next 0).
func headerNext(h http.Header) (next int, present bool) {
	vals, ok := h[http.CanonicalHeaderKey("X-Next-Page")]
	if !ok {
		return 0, false
	}
	if len(vals) == 0 || strings.TrimSpace(vals[0]) == "" {
		return 0, true
	}
	n, err := strconv.Atoi(strings.TrimSpace(vals[0]))
	if err != nil || n < 1 {
		return 0, true
	}
	return n, true
}
