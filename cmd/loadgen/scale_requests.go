package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers"
)

// requestKind is what the -scale run counts of each Maventa request the
// client sent: the company's class (with or without the receivables
// service: the no_receivables tier is exactly the second) and the route.
type requestKind struct {
	class string // "receivables" or "no_receivables"
	route string // "token", "events", "invoices", "threads", "other"
}

// requestKinds is an http.RoundTripper that counts the client's requests by
// kind. A request names its company only through its bearer token, so the
// token requests (client_id is the company) teach which token is whose.
type requestKinds struct {
	next  http.RoundTripper
	noRec map[string]bool // read-only

	mu      sync.Mutex
	byToken map[string]string // access token -> company
	n       map[requestKind]int64
	busy    time.Duration // real time from sending a request to its response headers, summed
}

func newRequestKinds(next http.RoundTripper, noRec map[string]bool) *requestKinds {
	return &requestKinds{next: next, noRec: noRec, byToken: map[string]string{}, n: map[requestKind]int64{}}
}

func (k *requestKinds) class(company string) string {
	if k.noRec[company] {
		return "no_receivables"
	}
	return "receivables"
}

func (k *requestKinds) RoundTrip(req *http.Request) (*http.Response, error) {
	defer func(start time.Time) {
		d := time.Since(start)
		k.mu.Lock()
		k.busy += d
		k.mu.Unlock()
	}(time.Now())
	if !strings.HasSuffix(req.URL.Path, "/oauth2/token") {
		company := ""
		if tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok {
			k.mu.Lock()
			company = k.byToken[tok]
			k.mu.Unlock()
		}
		k.count(requestKind{k.class(company), routeOf(req.URL.Path)})
		return k.next.RoundTrip(req)
	}
	company := tokenCompany(req)
	k.count(requestKind{k.class(company), "token"})
	resp, err := k.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK || company == "" {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var t struct {
		AccessToken string `json:"access_token"`
	}
	if json.Unmarshal(body, &t) == nil && t.AccessToken != "" {
		k.mu.Lock()
		k.byToken[t.AccessToken] = company
		k.mu.Unlock()
	}
	return resp, nil
}

func (k *requestKinds) count(kind requestKind) {
	k.mu.Lock()
	k.n[kind]++
	k.mu.Unlock()
}

// counts is a copy of the counts so far.
func (k *requestKinds) counts() map[requestKind]int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return maps.Clone(k.n)
}

func (k *requestKinds) spent() time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.busy
}

// tokenCompany is the client_id of a token request: in its basic
// authentication or its form (oauth2 tries both styles).
func tokenCompany(req *http.Request) string {
	if id, _, ok := req.BasicAuth(); ok {
		if u, err := url.QueryUnescape(id); err == nil {
			return u
		}
		return id
	}
	if req.GetBody == nil {
		return ""
	}
	body, err := req.GetBody()
	if err != nil {
		return ""
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		return ""
	}
	form, err := url.ParseQuery(string(b))
	if err != nil {
		return ""
	}
	return form.Get("client_id")
}

func routeOf(path string) string {
	switch {
	case strings.HasSuffix(path, "/v1/events"):
		return "events"
	case strings.HasSuffix(path, "/v1/invoices"):
		return "invoices"
	case strings.Contains(path, "/threads"):
		return "threads"
	}
	return "other"
}

// storeOp is one kind of NATS KV round trip the poller makes: the operation
// and the key's first segment (lease, sched, cursor, ...).
type storeOp struct {
	op, prefix string
}

type storeCounts struct {
	mu   sync.Mutex
	n    map[storeOp]int64
	busy time.Duration // real time spent in round trips (summed over concurrent ones)
}

// add counts one round trip that started at start (real time).
func (c *storeCounts) add(op, key string, start time.Time) {
	d := time.Since(start)
	prefix, _, _ := strings.Cut(key, ".")
	c.mu.Lock()
	if c.n == nil {
		c.n = map[storeOp]int64{}
	}
	c.n[storeOp{op, prefix}]++
	c.busy += d
	c.mu.Unlock()
}

func (c *storeCounts) spent() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.busy
}

func (c *storeCounts) snapshot() map[storeOp]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}

// countingStore counts the poller's round trips to the reconcile bucket.
type countingStore struct {
	consumers.PollStore
	c storeCounts
}

func (s *countingStore) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	defer s.c.add("read", key, time.Now())
	return s.PollStore.Load(ctx, key)
}

func (s *countingStore) Store(ctx context.Context, key string, b []byte, rev uint64) error {
	defer s.c.add("write", key, time.Now())
	return s.PollStore.Store(ctx, key, b, rev)
}

func (s *countingStore) Put(ctx context.Context, key string, b []byte) error {
	defer s.c.add("write", key, time.Now())
	return s.PollStore.Put(ctx, key, b)
}

// countingRecords counts the poller's round trips to the facts bucket.
type countingRecords struct {
	next consumers.Records
	c    *storeCounts
}

func (s *countingRecords) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	defer s.c.add("read", "facts:"+key, time.Now())
	return s.next.Load(ctx, key)
}

func (s *countingRecords) Store(ctx context.Context, key string, b []byte, rev uint64) error {
	defer s.c.add("write", "facts:"+key, time.Now())
	return s.next.Store(ctx, key, b, rev)
}

// reportStore prints the NATS KV round trips per company poll, by key kind,
// and the real time they took per poll.
func reportStore(w io.Writer, n map[storeOp]int64, spent, httpSpent time.Duration, polls int64) {
	if polls == 0 {
		return
	}
	ops := make([]storeOp, 0, len(n))
	var total int64
	for op, c := range n {
		ops = append(ops, op)
		total += c
	}
	slices.SortFunc(ops, func(a, b storeOp) int { return cmp.Compare(n[b], n[a]) })
	fmt.Fprintf(w, "NATS KV round trips per company poll (%d polls): %.2f;", polls, float64(total)/float64(polls))
	for _, op := range ops {
		fmt.Fprintf(w, " %s %s %.2f", op.op, op.prefix, float64(n[op])/float64(polls))
	}
	fmt.Fprintf(w, "\n  real time per poll in them %v (%v per round trip); in Maventa requests %v (budget waits excluded)\n",
		(spent / time.Duration(polls)).Round(time.Microsecond), (spent / time.Duration(max(total, 1))).Round(time.Microsecond),
		(httpSpent / time.Duration(polls)).Round(time.Microsecond))
}
