package maventa

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
)

// pagedEvents serves total events over GET /v1/events with page/per_page, setting
// X-Total and X-Next-Page when headers is true; page failPage answers 404.
func pagedEvents(f *fakeMaventa, total int, headers bool, failPage int) *atomic.Int32 {
	var requests atomic.Int32
	f.handle("GET /v1/events", func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
		if page == failPage {
			writeError(w, 404, "not_found", "gone")
			return
		}
		var items []map[string]any
		for i := (page - 1) * per; i < min(page*per, total); i++ {
			items = append(items, map[string]any{"id": fmt.Sprintf("e%d", i), "type": "paid", "data": map[string]any{"sum_paid": 1}})
		}
		if items == nil {
			items = []map[string]any{}
		}
		if headers {
			w.Header().Set("X-Total", strconv.Itoa(total))
			w.Header().Set("X-Page", strconv.Itoa(page))
			next := ""
			if page*per < total {
				next = strconv.Itoa(page + 1)
			}
			w.Header()["X-Next-Page"] = []string{next}
		}
		writeJSON(w, 200, items)
	})
	return &requests
}

func TestEventsIteratorMakesOneRequestPerPage(t *testing.T) {
	tests := []struct {
		name         string
		total        int
		perPage      int
		headers      bool
		wantRequests int32
	}{
		{"X-Next-Page followed until empty", 250, 100, true, 3},
		{"exact multiple stops on empty X-Next-Page", 200, 100, true, 2},
		{"small pages", 95, 10, true, 10},
		{"no headers stops on a short page", 150, 100, false, 2},
		{"no headers and exact multiple needs one empty page", 200, 100, false, 3},
		{"empty list is one request", 0, 100, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			reqs := pagedEvents(f, tt.total, tt.headers, 0)
			c, _, _ := testClient(t, f)
			n := 0
			seen := map[string]bool{}
			for ev, err := range c.Events(context.Background(), testCompany, EventQuery{}, tt.perPage) {
				if err != nil {
					t.Fatal(err)
				}
				if seen[ev.ID] {
					t.Fatalf("duplicate %s", ev.ID)
				}
				seen[ev.ID] = true
				n++
			}
			if n != tt.total {
				t.Errorf("items = %d, want %d", n, tt.total)
			}
			if got := reqs.Load(); got != tt.wantRequests {
				t.Errorf("requests = %d, want %d", got, tt.wantRequests)
			}
		})
	}
}

func TestListEventsReturnsOnePage(t *testing.T) {
	f := newFake(t)
	reqs := pagedEvents(f, 250, true, 0)
	c, _, _ := testClient(t, f)
	p, err := c.ListEvents(context.Background(), testCompany, EventQuery{}, PageOptions{Page: 2, PerPage: 500})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 100 || p.Page != 2 || p.PerPage != 100 || p.NextPage != 3 || p.Total != 250 || reqs.Load() != 1 {
		t.Errorf("page = {items %d page %d per %d next %d total %d}, requests %d",
			len(p.Items), p.Page, p.PerPage, p.NextPage, p.Total, reqs.Load())
	}
	last, err := c.ListEvents(context.Background(), testCompany, EventQuery{}, PageOptions{Page: 3})
	if err != nil || last.NextPage != 0 || len(last.Items) != 50 {
		t.Errorf("last page next=%d items=%d err=%v", last.NextPage, len(last.Items), err)
	}
}

func TestEventsIteratorStops(t *testing.T) {
	t.Run("after the first error, yielded once", func(t *testing.T) {
		f := newFake(t)
		reqs := pagedEvents(f, 500, true, 2)
		c, _, _ := testClient(t, f)
		items, errs := 0, 0
		for _, err := range c.Events(context.Background(), testCompany, EventQuery{}, 100) {
			if err != nil {
				errs++
				if !IsNotFound(err) {
					t.Errorf("err = %v", err)
				}
				continue
			}
			items++
		}
		if items != 100 || errs != 1 || reqs.Load() != 2 {
			t.Errorf("items=%d errs=%d requests=%d, want 100, 1, 2", items, errs, reqs.Load())
		}
	})
	t.Run("when the consumer breaks, without fetching more", func(t *testing.T) {
		f := newFake(t)
		reqs := pagedEvents(f, 500, true, 0)
		c, _, _ := testClient(t, f)
		n := 0
		for _, err := range c.Events(context.Background(), testCompany, EventQuery{}, 100) {
			if err != nil {
				t.Fatal(err)
			}
			if n++; n == 5 {
				break
			}
		}
		if reqs.Load() != 1 {
			t.Errorf("requests = %d, want 1", reqs.Load())
		}
	})
}

func TestListAssignmentEventsCollectsPages(t *testing.T) {
	tests := []struct {
		name         string
		total        int
		headers      bool
		wantItems    int
		wantRequests int32
	}{
		{"follows X-Next-Page", 230, true, 230, 3},
		{"without headers one answer is the whole list", 100, false, 100, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			var reqs atomic.Int32
			f.handle("GET /v1/assignments/{id}/events", func(w http.ResponseWriter, r *http.Request) {
				reqs.Add(1)
				page, _ := strconv.Atoi(r.URL.Query().Get("page"))
				per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
				items := []map[string]any{}
				for i := (page - 1) * per; i < min(page*per, tt.total); i++ {
					items = append(items, map[string]any{"id": fmt.Sprintf("e%d", i), "type": "comment"})
				}
				if tt.headers {
					next := ""
					if page*per < tt.total {
						next = strconv.Itoa(page + 1)
					}
					w.Header()["X-Next-Page"] = []string{next}
				}
				writeJSON(w, 200, items)
			})
			c, _, _ := testClient(t, f)
			evs, err := c.ListAssignmentEvents(context.Background(), testCompany, "a1")
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != tt.wantItems || reqs.Load() != tt.wantRequests {
				t.Errorf("items = %d, requests = %d; want %d, %d", len(evs), reqs.Load(), tt.wantItems, tt.wantRequests)
			}
		})
	}
}
