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

	"github.com/nats-io/nats.go/jetstream"
)

// ReconcileBucket holds the reconciliation state shared by every replica:
// per-company cursors and leases, per-assignment and per-invoice states.
const ReconcileBucket = "MAVENTA_RECONCILE"

// errConflict means another writer changed a key between our read and write.
var errConflict = errors.New("reconcile state changed concurrently")

// ReconcileStore reads and writes JSON values in the reconcile bucket with
// compare-and-set, so replicas never overwrite each other's progress.
type ReconcileStore struct {
	kv jetstream.KeyValue
}

// EnsureReconcileStore creates or updates the bucket. Keys unused for ttl
// vanish (cursors and leases are rewritten every poll; a long-silent
// assignment's cached state is simply fetched again).
func EnsureReconcileStore(ctx context.Context, js jetstream.JetStream, replicas int, ttl time.Duration) (*ReconcileStore, error) {
	if replicas <= 0 {
		replicas = 1
	}
	if ttl <= 0 {
		ttl = 90 * 24 * time.Hour
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      ReconcileBucket,
		Description: "Reconciliation cursors, leases and assignment/invoice states",
		History:     1,
		TTL:         ttl,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("reconcile bucket: %w", err)
	}
	return &ReconcileStore{kv: kv}, nil
}

// NewKVRecords returns the records kept in kv (the facts bucket of
// EnsurePipeline; EnsureReconcileStore makes the reconcile one).
func NewKVRecords(kv jetstream.KeyValue) *ReconcileStore { return &ReconcileStore{kv: kv} }

// KVRequestTimeout bounds one KV read or write. A request whose reply is lost
// (sent to a NATS node that dies, or on a connection that breaks) is never
// answered, and without this bound it would wait out its caller's context
// (a webhook's is 4 × AckWait, 2 minutes) instead of failing and being retried.
const KVRequestTimeout = 10 * time.Second

// Load implements Records.
func (s *ReconcileStore) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, KVRequestTimeout)
	defer cancel()
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", key, err)
	}
	return e.Value(), e.Revision(), nil
}

// Store implements Records.
func (s *ReconcileStore) Store(ctx context.Context, key string, b []byte, rev uint64) error {
	ctx, cancel := context.WithTimeout(ctx, KVRequestTimeout)
	defer cancel()
	var err error
	if rev == 0 {
		_, err = s.kv.Create(ctx, key, b)
	} else {
		_, err = s.kv.Update(ctx, key, b, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || isWrongSequence(err) {
		return errConflict
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

// get decodes key into v. rev is 0 when the key does not exist.
func (s *ReconcileStore) get(ctx context.Context, key string, v any) (rev uint64, err error) {
	b, rev, err := s.Load(ctx, key)
	if err != nil || rev == 0 {
		return 0, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return 0, fmt.Errorf("decode %s: %w", key, err)
	}
	return rev, nil
}

// put writes v at key if it is still at rev (0: only if it does not exist);
// errConflict otherwise.
func (s *ReconcileStore) put(ctx context.Context, key string, v any, rev uint64) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.Store(ctx, key, b, rev)
}

func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
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
}

// acquireLease takes or renews the company's lease for holder for ttl. It
// reports false when another live holder has it.
func (s *ReconcileStore) acquireLease(ctx context.Context, company, holder string, now time.Time, ttl time.Duration) (bool, string, error) {
	key := "lease." + kvKey(company)
	var l Lease
	rev, err := s.get(ctx, key, &l)
	if err != nil {
		return false, "", err
	}
	if rev != 0 && l.Holder != holder && now.Before(l.Expires) {
		return false, l.Holder, nil
	}
	previous := l.Holder
	err = s.put(ctx, key, Lease{Holder: holder, Expires: now.Add(ttl)}, rev)
	if errors.Is(err, errConflict) {
		return false, "", nil // someone else just took it
	}
	if err != nil {
		return false, "", err
	}
	return true, previous, nil
}

// releaseLease gives the lease up (on shutdown), so another replica takes over at once.
func (s *ReconcileStore) releaseLease(ctx context.Context, company, holder string) {
	key := "lease." + kvKey(company)
	var l Lease
	rev, err := s.get(ctx, key, &l)
	if err != nil || rev == 0 || l.Holder != holder {
		return
	}
	_ = s.put(ctx, key, Lease{Holder: holder, Expires: time.Time{}}, rev)
}

// tryLease is acquireLease that also returns the lease found (its holder and
// expiry when another holder keeps it).
func (s *ReconcileStore) tryLease(ctx context.Context, company, holder string, now time.Time, ttl time.Duration) (bool, Lease, error) {
	key := "lease." + kvKey(company)
	var l Lease
	rev, err := s.get(ctx, key, &l)
	if err != nil {
		return false, l, err
	}
	if rev != 0 && l.Holder != holder && now.Before(l.Expires) {
		return false, l, nil
	}
	err = s.put(ctx, key, Lease{Holder: holder, Expires: now.Add(ttl)}, rev)
	if errors.Is(err, errConflict) {
		return false, Lease{Expires: now.Add(ttl)}, nil // someone else just took it
	}
	if err != nil {
		return false, l, err
	}
	return true, l, nil
}

// holdLease extends holder's lease of company until until (after a poll, to
// past the next one). It does nothing when another holder took it meanwhile.
func (s *ReconcileStore) holdLease(ctx context.Context, company, holder string, until time.Time) error {
	key := "lease." + kvKey(company)
	var l Lease
	rev, err := s.get(ctx, key, &l)
	if err != nil || (rev != 0 && l.Holder != holder) {
		return err
	}
	err = s.put(ctx, key, Lease{Holder: holder, Expires: until}, rev)
	if errors.Is(err, errConflict) {
		return nil
	}
	return err
}

// schedKey names a company's scheduler state.
func schedKey(company string) string { return "sched." + kvKey(company) }

// schedState reads a company's scheduler state (rev 0: none yet).
func (s *ReconcileStore) schedState(ctx context.Context, company string) (schedState, uint64, error) {
	var st schedState
	rev, err := s.get(ctx, schedKey(company), &st)
	return st, rev, err
}

// saveSchedState writes a company's scheduler state. Only the lease holder
// writes it, so the last write wins.
func (s *ReconcileStore) saveSchedState(ctx context.Context, company string, st schedState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if _, err := s.kv.Put(ctx, schedKey(company), b); err != nil {
		return fmt.Errorf("write %s: %w", schedKey(company), err)
	}
	return nil
}

// schedStates reads every company's scheduler state, by company id, in one
// watch of the bucket (a cold start of a replica).
func (s *ReconcileStore) schedStates(ctx context.Context) (map[string]schedState, error) {
	w, err := s.kv.Watch(ctx, "sched.>", jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("watch schedule states: %w", err)
	}
	defer func() { _ = w.Stop() }()
	out := map[string]schedState{}
	for {
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return out, errors.New("watch schedule states: closed")
			}
			if e == nil {
				return out, nil // every stored value was delivered
			}
			c, err := companyOfKey(strings.TrimPrefix(e.Key(), "sched."))
			if err != nil {
				continue
			}
			var st schedState
			if json.Unmarshal(e.Value(), &st) == nil {
				out[c] = st
			}
		}
	}
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
func (s *ReconcileStore) putNudge(ctx context.Context, company string, at time.Time) error {
	b, _ := json.Marshal(at)
	if _, err := s.kv.Put(ctx, "nudge."+kvKey(company), b); err != nil {
		return fmt.Errorf("write nudge: %w", err)
	}
	return nil
}

// watchNudges calls f with the company of every nudge written from now on,
// until ctx ends.
func (s *ReconcileStore) watchNudges(ctx context.Context, f func(company string)) error {
	w, err := s.kv.Watch(ctx, "nudge.>", jetstream.UpdatesOnly(), jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("watch nudges: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if e == nil {
				continue
			}
			if c, err := companyOfKey(strings.TrimPrefix(e.Key(), "nudge.")); err == nil {
				f(c)
			}
		}
	}
}
