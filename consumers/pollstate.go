package consumers

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// PollStore is the state the poller shares with the other replicas: records
// with compare-and-set (cursors, leases, assignment and thread records) plus
// plain writes, a listing and a watch for the scheduler (natsstore.ReconcileStore
// keeps it in a JetStream KV bucket; tests use an in-memory one).
type PollStore interface {
	Records
	// Put writes value at key whatever is there.
	Put(ctx context.Context, key string, value []byte) error
	// List calls f with every value stored under prefix ("sched." lists
	// "sched.<company>"), then returns.
	List(ctx context.Context, prefix string, f func(key string, value []byte)) error
	// Watch calls f with the key of every value written under prefix from now
	// on, until ctx ends.
	Watch(ctx context.Context, prefix string, f func(key string)) error
}

// pollState reads and writes the poller's JSON values in a PollStore.
type pollState struct {
	kv PollStore
}

// get decodes key into v. rev is 0 when the key does not exist.
func (s pollState) get(ctx context.Context, key string, v any) (rev uint64, err error) {
	b, rev, err := s.kv.Load(ctx, key)
	if err != nil || rev == 0 {
		return 0, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return 0, fmt.Errorf("decode %s: %w", key, err)
	}
	return rev, nil
}

// put writes v at key if it is still at rev (0: only if it does not exist);
// ErrConflict otherwise.
func (s pollState) put(ctx context.Context, key string, v any, rev uint64) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.kv.Store(ctx, key, b, rev)
}

// putJSON writes v at key whatever is there.
func (s pollState) putJSON(ctx context.Context, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := s.kv.Put(ctx, key, b); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

// listJSON decodes every value stored under prefix as a T (values that do not
// decode are skipped: a report written by another version is not this
// replica's to judge). Never nil.
func listJSON[T any](ctx context.Context, s pollState, prefix string) ([]T, error) {
	out := []T{}
	err := s.kv.List(ctx, prefix, func(_ string, value []byte) {
		var v T
		if json.Unmarshal(value, &v) == nil {
			out = append(out, v)
		}
	})
	return out, err
}

// maxPlainKey is the longest id used in a KV key as it is. A key is part of a
// NATS subject, which travels in the protocol's control line (4 KiB by
// default): an id from a hostile webhook (a 70 000-character company_id) would
// make the server close the connection, and every later webhook would fail.
const maxPlainKey = 128

// kvKey makes any id usable in a KV key: letters, digits, "-" and "_" pass as
// they are (UUIDs), anything else is base64url-encoded behind "x." (a dot never
// appears in the plain form, so the two forms cannot collide). An id longer
// than maxPlainKey bytes becomes "h." and the hex SHA-256 of the id.
func kvKey(id string) string {
	if len(id) > maxPlainKey {
		sum := sha256.Sum256([]byte(id))
		return "h." + hex.EncodeToString(sum[:])
	}
	for i := 0; i < len(id); i++ {
		if !plainKeyByte(id[i]) {
			return "x." + base64.RawURLEncoding.EncodeToString([]byte(id))
		}
	}
	if id == "" {
		return "x."
	}
	return id
}

func plainKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// Cursor is how far a company's polling has read: events created up to After
// are stored. It is what `maventa-events status` shows as poll lag.
type Cursor struct {
	After     time.Time `json:"after"`
	UpdatedAt time.Time `json:"updated_at"`
}

// cursorKey names a company's cursor of one kind ("" = assignment events, the
// one `status` reports; "invoices", "messages").
func cursorKey(kind, company string) string {
	if kind == "" {
		return "cursor." + kvKey(company)
	}
	return kind + "cursor." + kvKey(company)
}

// Lease says which replica polls a company, until when.
type Lease struct {
	Holder  string    `json:"holder"`
	Expires time.Time `json:"expires"`
	// GivenBelow, when above 0, says the holder gave the company up
	// (rebalance.go) once Expires passes (the company's next due time),
	// for a replica holding fewer than GivenBelow companies: until
	// LeaseTTL after Expires only such a replica takes it, then anyone,
	// the giver included.
	GivenBelow int `json:"given_below,omitempty"`
}

// releaseLease gives the lease up (on shutdown), so another replica takes over at once.
func (s pollState) releaseLease(ctx context.Context, company, holder string) {
	key := "lease." + kvKey(company)
	var l Lease
	rev, err := s.get(ctx, key, &l)
	if err != nil || rev == 0 || l.Holder != holder {
		return
	}
	_ = s.put(ctx, key, Lease{Holder: holder, Expires: time.Time{}}, rev)
}

// tryLease takes or renews the company's lease for holder for ttl. It reports
// false when another live holder has it, with the lease found (its holder and
// expiry).
func (s pollState) tryLease(ctx context.Context, company, holder string, now time.Time, ttl time.Duration) (bool, Lease, error) {
	return s.tryLeaseShare(ctx, company, holder, now, ttl, 0)
}

// tryLeaseShare is tryLease for a holder holding held companies: it also
// reports false when another holder gave the lease up less than ttl ago for
// a replica holding fewer than held + 1 (a company given up goes to a
// replica under its share first).
func (s pollState) tryLeaseShare(ctx context.Context, company, holder string, now time.Time, ttl time.Duration, held int) (bool, Lease, error) {
	key := "lease." + kvKey(company)
	var l Lease
	rev, err := s.get(ctx, key, &l)
	if err != nil {
		return false, l, err
	}
	if rev != 0 && l.Holder != holder && (now.Before(l.Expires) || held >= l.GivenBelow && l.GivenBelow > 0 && now.Before(l.Expires.Add(ttl))) {
		return false, l, nil
	}
	err = s.put(ctx, key, Lease{Holder: holder, Expires: now.Add(ttl)}, rev)
	if errors.Is(err, ErrConflict) {
		return false, Lease{Expires: now.Add(ttl)}, nil // someone else just took it
	}
	if err != nil {
		return false, l, err
	}
	return true, l, nil
}

// holdLease extends holder's lease of company until until (after a poll, to
// past the next one), or, with givenBelow above 0, gives it up at until for
// a replica holding fewer than givenBelow. It does nothing when another
// holder took it meanwhile.
func (s pollState) holdLease(ctx context.Context, company, holder string, until time.Time, givenBelow int) error {
	key := "lease." + kvKey(company)
	var l Lease
	rev, err := s.get(ctx, key, &l)
	if err != nil || (rev != 0 && l.Holder != holder) {
		return err
	}
	err = s.put(ctx, key, Lease{Holder: holder, Expires: until, GivenBelow: givenBelow}, rev)
	if errors.Is(err, ErrConflict) {
		return nil
	}
	return err
}

// schedKey names a company's scheduler state.
func schedKey(company string) string { return "sched." + kvKey(company) }

// schedState reads a company's scheduler state (rev 0: none yet).
func (s pollState) schedState(ctx context.Context, company string) (schedState, uint64, error) {
	var st schedState
	rev, err := s.get(ctx, schedKey(company), &st)
	return st, rev, err
}

// saveSchedState writes a company's scheduler state. Only the lease holder
// writes it, so the last write wins.
func (s pollState) saveSchedState(ctx context.Context, company string, st schedState) error {
	return s.putJSON(ctx, schedKey(company), st)
}

// schedStates reads every company's scheduler state, by company id, in one
// watch of the bucket (a cold start of a replica).
func (s pollState) schedStates(ctx context.Context) (map[string]schedState, error) {
	out := map[string]schedState{}
	err := s.kv.List(ctx, "sched.", func(key string, value []byte) {
		c, err := companyOfKey(strings.TrimPrefix(key, "sched."))
		if err != nil {
			return
		}
		var st schedState
		if json.Unmarshal(value, &st) == nil {
			out[c] = st
		}
	})
	if err != nil {
		return out, fmt.Errorf("read schedule states: %w", err)
	}
	return out, nil
}

// companyOfKey reverses kvKey.
func companyOfKey(k string) (string, error) {
	if strings.HasPrefix(k, "h.") {
		return "", fmt.Errorf("key %s: a hashed id cannot be decoded (no configured company id is that long)", k)
	}
	if rest, ok := strings.CutPrefix(k, "x."); ok {
		b, err := base64.RawURLEncoding.DecodeString(rest)
		return string(b), err
	}
	return k, nil
}

// putNudge asks whichever replica polls company to poll it now.
func (s pollState) putNudge(ctx context.Context, company string, at time.Time) error {
	if err := s.putJSON(ctx, "nudge."+kvKey(company), at); err != nil {
		return fmt.Errorf("nudge: %w", err)
	}
	return nil
}

// watchNudges calls f with the company of every nudge written from now on,
// until ctx ends.
func (s pollState) watchNudges(ctx context.Context, f func(company string)) error {
	return s.kv.Watch(ctx, "nudge.", func(key string) {
		if c, err := companyOfKey(strings.TrimPrefix(key, "nudge.")); err == nil {
			f(c)
		}
	})
}
