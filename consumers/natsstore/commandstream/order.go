package commandstream

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/maventa-bridge/maventa-events/consumers/commands"
	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/nats-io/nats.go/jetstream"
)

// orderGate keeps the commands of one order key (company and target) in
// stream order across replicas. JetStream spreads the consumer's messages over
// every replica that pulls, so the next command of an assignment may reach
// replica B while A still applies the one before it. Before a command runs,
// the gate finds the command of the same key just before it in the stream and
// lets it run only once that one is finished:
//
//   - every message at or below the consumer's ack floor is finished
//     (acknowledged or dead-lettered);
//   - above the floor, a key's cursor in the record bucket ("o.<hash>") holds
//     the stream sequence of its last finished command, written before the
//     message is acknowledged. Commands of a key finish in stream order (this
//     gate), so the cursor at or past the previous command means it is done.
//
// Messages above the floor that were delivered to other replicas are read from
// the stream once and remembered.
type orderGate struct {
	stream jetstream.Stream
	cons   jetstream.Consumer
	kv     jetstream.KeyValue

	mu      sync.Mutex
	floor   uint64              // every message at or below is acknowledged
	scanned uint64              // messages in (floor, scanned] are in bySeq/byKey
	bySeq   map[uint64]string   // order key of messages above the floor
	byKey   map[string][]uint64 // sorted stream sequences of each key above the floor
}

// rescanAfter is how far a sequence may lie above what was scanned before the
// ack floor is read again, rather than reading every message of the gap.
const rescanAfter = 256

func newOrderGate(stream jetstream.Stream, cons jetstream.Consumer, kv jetstream.KeyValue) *orderGate {
	return &orderGate{stream: stream, cons: cons, kv: kv, bySeq: map[uint64]string{}, byKey: map[string][]uint64{}}
}

// Seen records the order key of a delivered message, saving a stream read.
func (g *orderGate) Seen(seq uint64, key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if seq > g.floor {
		g.remember(seq, key)
	}
}

func (g *orderGate) remember(seq uint64, key string) {
	if _, ok := g.bySeq[seq]; ok {
		return
	}
	g.bySeq[seq] = key
	s := g.byKey[key]
	i, _ := slices.BinarySearch(s, seq)
	g.byKey[key] = slices.Insert(s, i, seq)
}

// refresh reads the consumer's ack floor and forgets what lies below it.
func (g *orderGate) refresh(ctx context.Context) error {
	info, err := g.cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("command consumer info: %w", err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if f := info.AckFloor.Stream; f > g.floor {
		g.floor = f
		g.scanned = max(g.scanned, f)
		for seq, key := range g.bySeq {
			if seq > f {
				continue
			}
			delete(g.bySeq, seq)
			s := g.byKey[key]
			i, _ := slices.BinarySearch(s, f+1)
			if s = s[i:]; len(s) == 0 {
				delete(g.byKey, key)
			} else {
				g.byKey[key] = s
			}
		}
	}
	return nil
}

// previous returns the stream sequence of the command of key just before seq
// that lies above the ack floor, or 0.
func (g *orderGate) previous(ctx context.Context, seq uint64, key string) (uint64, error) {
	g.mu.Lock()
	from, floor := g.scanned, g.floor
	g.mu.Unlock()
	if seq > max(from, floor)+rescanAfter {
		if err := g.refresh(ctx); err != nil {
			return 0, err
		}
		g.mu.Lock()
		from, floor = g.scanned, g.floor
		g.mu.Unlock()
	}
	for s := max(from, floor) + 1; s < seq; s++ {
		g.mu.Lock()
		_, known := g.bySeq[s]
		g.mu.Unlock()
		if !known {
			m, err := g.stream.GetMsg(ctx, s)
			switch {
			case errors.Is(err, jetstream.ErrMsgNotFound):
				// Deleted or expired: nothing to wait for.
			case err != nil:
				return 0, fmt.Errorf("read command %d: %w", s, err)
			default:
				g.mu.Lock()
				if s > g.floor {
					g.remember(s, commands.OrderKey(m.Subject, m.Data))
				}
				g.mu.Unlock()
			}
		}
		g.mu.Lock()
		g.scanned = max(g.scanned, s)
		g.mu.Unlock()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.byKey[key]
	i, _ := slices.BinarySearch(s, seq)
	if i == 0 || s[i-1] <= g.floor {
		return 0, nil
	}
	return s[i-1], nil
}

// Ready reports whether every earlier command of key is finished, so the
// command at seq may run.
func (g *orderGate) Ready(ctx context.Context, seq uint64, key string) (bool, error) {
	prev, err := g.previous(ctx, seq, key)
	if err != nil || prev == 0 {
		return err == nil, err
	}
	if cur, _, err := g.cursor(ctx, key); err != nil {
		return false, err
	} else if cur >= prev {
		return true, nil
	}
	if err := g.refresh(ctx); err != nil {
		return false, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return prev <= g.floor, nil
}

func cursorKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "o." + hex.EncodeToString(sum[:16])
}

func (g *orderGate) cursor(ctx context.Context, key string) (seq, rev uint64, err error) {
	ctx, cancel := context.WithTimeout(ctx, natsstore.KVRequestTimeout)
	defer cancel()
	e, err := g.kv.Get(ctx, cursorKey(key))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read order cursor: %w", err)
	}
	seq, err = strconv.ParseUint(string(e.Value()), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("order cursor %s: %w", e.Key(), err)
	}
	return seq, e.Revision(), nil
}

// Finished moves key's cursor up to seq (never down); called before the
// message is acknowledged.
func (g *orderGate) Finished(ctx context.Context, seq uint64, key string) error {
	for range 10 {
		cur, rev, err := g.cursor(ctx, key)
		if err != nil {
			return err
		}
		if cur >= seq {
			return nil
		}
		wctx, cancel := context.WithTimeout(ctx, natsstore.KVRequestTimeout)
		v := []byte(strconv.FormatUint(seq, 10))
		if rev == 0 {
			_, err = g.kv.Create(wctx, cursorKey(key), v)
		} else {
			_, err = g.kv.Update(wctx, cursorKey(key), v, rev)
		}
		cancel()
		var apiErr *jetstream.APIError
		if errors.Is(err, jetstream.ErrKeyExists) || (errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence) {
			continue
		}
		if err != nil {
			return fmt.Errorf("write order cursor: %w", err)
		}
		return nil
	}
	return errors.New("order cursor keeps changing concurrently")
}
