package natsstore

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/metric"
)

// DefaultGroupsInFlight is how many webhook messages (single or group) may
// await their acknowledgement at once before further webhooks queue for the
// next group. docs/performance.md ("Issue 14, third round") has the
// measurement behind it.
const DefaultGroupsInFlight = 2

// groupSize is the histogram of webhooks per stored message.
var groupSize, _ = meter.Int64Histogram("maventa.webhooks.store.group_size",
	metric.WithUnit("{webhook}"),
	metric.WithDescription("Webhooks per message written to the raw-webhook stream (1: stored alone; more: a group commit)"),
	metric.WithExplicitBucketBoundaries(1, 2, 4, 8, 16, 32, 64, 128, 256))

// groupCommit writes webhooks to the raw-webhook stream, grouping concurrent
// ones. Every stored message costs JetStream a parse, a store and an
// acknowledgement whatever its size, and the client an encode and a future:
// about 15-20 µs per message on the project's machine, more than all the
// rest of a webhook's intake. Grouping pays that once per group.
//
// There is no timer and no added wait: a webhook arriving when fewer than
// maxInFlight messages await their acknowledgement is written at once, with
// whatever else has queued meanwhile. Only when maxInFlight messages are in
// flight do webhooks queue; the acknowledgement of one of them writes the
// queue as the next group (up to maxGroupWebhooks and maxGroupBytes).
//
// A group gets no Nats-Msg-Id: its content is whatever happened to queue
// together, so no retry ever sends the same group again and an id could never
// match; it would only cost the server a duplicate-window entry per message.
// The price is that a webhook stored inside a group is not recognised by a
// later resend of its body (the answer says duplicate:false and the raw
// stream holds it twice); the consumers' per-aggregate records keep the
// domain events exactly once, as they do for resends beyond the window.
type groupCommit struct {
	js          jetstream.JetStream
	stream      string
	maxInFlight int

	mu       sync.Mutex
	queue    []*queuedWebhook
	inFlight int
}

// queuedWebhook is one Store call waiting for its write.
type queuedWebhook struct {
	msg  *nats.Msg // as it is stored alone: subject, sanitized headers, body
	id   string    // BodyID, its Nats-Msg-Id when stored alone
	size int       // framed size in a group
	done chan storeResult
}

type storeResult struct {
	dup bool
	seq uint64
	err error
}

// store queues msg, writes the queue if fewer than maxInFlight writes are
// awaiting their acknowledgement, and waits for msg's result or ctx's end.
func (g *groupCommit) store(ctx context.Context, msg *nats.Msg, id string) (dup bool, seq uint64, err error) {
	q := &queuedWebhook{msg: msg, id: id, size: groupEntrySize(msg.Header, msg.Data), done: make(chan storeResult, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, q)
	var batch []*queuedWebhook
	if g.inFlight < g.maxInFlight {
		batch = g.takeLocked()
	}
	g.mu.Unlock()
	if batch != nil {
		g.lead(ctx, batch)
	}
	select {
	case r := <-q.done:
		return r.dup, r.seq, r.err
	case <-ctx.Done():
		g.mu.Lock()
		if i := slices.Index(g.queue, q); i >= 0 {
			g.queue = slices.Delete(g.queue, i, i+1) // never sent: nothing will be stored
		}
		g.mu.Unlock()
		return false, 0, errNoAck(ctx)
	}
}

// takeLocked removes the next group from the queue and counts it in flight:
// the queue's head, and as many of the webhooks behind it as fit, in order. A
// webhook over maxGroupMember goes alone. nil when the queue is empty.
func (g *groupCommit) takeLocked() []*queuedWebhook {
	n, bytes := 0, 0
	for n < len(g.queue) && n < maxGroupWebhooks {
		size := g.queue[n].size
		if size > maxGroupMember {
			if n == 0 {
				n = 1
			}
			break
		}
		if n > 0 && bytes+size > maxGroupBytes {
			break
		}
		bytes += size
		n++
	}
	if n == 0 {
		return nil
	}
	batch := slices.Clone(g.queue[:n])
	rest := copy(g.queue, g.queue[n:])
	clear(g.queue[rest:])
	g.queue = g.queue[:rest]
	g.inFlight++
	return batch
}

// lead writes batch and waits for its acknowledgement on the calling
// request's goroutine, which waits for it anyway. What queued meanwhile is
// handed to a goroutine (drive), so this request is answered at once; so is
// the wait itself if ctx ends first.
func (g *groupCommit) lead(ctx context.Context, batch []*queuedWebhook) {
	f, err := g.send(batch)
	if err != nil {
		if next := g.settle(batch, nil, err); next != nil {
			go g.drive(next)
		}
		return
	}
	var ack *jetstream.PubAck
	select {
	case ack = <-f.Ok():
	case err = <-f.Err():
	case <-ctx.Done():
		go g.await(batch, f)
		return
	}
	if len(batch) > 1 && refusedGroup(err) {
		go func() { g.drive(g.settle(batch, ack, err)) }() // settle retries each alone: not on this request
		return
	}
	if next := g.settle(batch, ack, err); next != nil {
		go g.drive(next)
	}
}

// await waits for f, the write of batch, then drives what queued meanwhile.
func (g *groupCommit) await(batch []*queuedWebhook, f jetstream.PubAckFuture) {
	ack, err := ackOf(f)
	g.drive(g.settle(batch, ack, err))
}

// ackOf waits for the outcome of a write: its acknowledgement or its error.
// There is no deadline here: the connection's async-publish timeout
// (AsyncPublishLimits) fails every future that gets no answer.
func ackOf(f jetstream.PubAckFuture) (*jetstream.PubAck, error) {
	select {
	case ack := <-f.Ok():
		return ack, nil
	case err := <-f.Err():
		return nil, err
	}
}

// drive writes batch and every group that queues behind it, one after the
// other, until the queue is empty when an acknowledgement arrives. At most
// maxInFlight writes (leaders' and drivers') are in flight at once.
func (g *groupCommit) drive(batch []*queuedWebhook) {
	for batch != nil {
		f, err := g.send(batch)
		if err != nil {
			batch = g.settle(batch, nil, err)
			continue
		}
		ack, err := ackOf(f)
		batch = g.settle(batch, ack, err)
	}
}

// send writes batch: a lone webhook as itself, two or more as one group
// message on WebhookGroupSubject without a Nats-Msg-Id.
func (g *groupCommit) send(batch []*queuedWebhook) (jetstream.PubAckFuture, error) {
	if len(batch) == 1 {
		return g.js.PublishMsgAsync(batch[0].msg, jetstream.WithMsgID(batch[0].id), jetstream.WithExpectStream(g.stream))
	}
	size := len(groupMagic) + 8
	msgs := make([]*nats.Msg, len(batch))
	for i, q := range batch {
		size += q.size
		// The body id goes into the stored headers, so that a webhook read
		// back from a group is what it would be stored alone.
		q.msg.Header[nats.MsgIdHdr] = []string{q.id}
		msgs[i] = q.msg
	}
	out := &nats.Msg{
		Subject: WebhookGroupSubject,
		Header:  nats.Header{HeaderGroupCount: []string{strconv.Itoa(len(batch))}},
		Data:    appendGroup(make([]byte, 0, size), msgs),
	}
	return g.js.PublishMsgAsync(out, jetstream.WithExpectStream(g.stream))
}

// settle gives every webhook of batch the outcome of its write, frees its
// place in flight and takes the next group (nil when nothing queued). A group
// refused as too large is written again member by member (each alone, so
// that a valid webhook is never refused because of its neighbours); so is a
// group refused for any other reason about the message itself.
func (g *groupCommit) settle(batch []*queuedWebhook, ack *jetstream.PubAck, err error) []*queuedWebhook {
	switch {
	case err == nil:
		groupSize.Record(context.Background(), int64(len(batch)))
		for _, q := range batch {
			q.done <- storeResult{dup: ack.Duplicate && len(batch) == 1, seq: ack.Sequence}
		}
	case len(batch) > 1 && refusedGroup(err):
		g.alone(batch)
	default:
		err = storeError(err)
		for _, q := range batch {
			q.done <- storeResult{err: err}
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inFlight--
	if g.inFlight < g.maxInFlight {
		return g.takeLocked()
	}
	return nil
}

// alone writes every webhook of a refused group as a message of its own,
// pipelined, and gives each its own outcome.
func (g *groupCommit) alone(batch []*queuedWebhook) {
	fs := make([]jetstream.PubAckFuture, len(batch))
	errs := make([]error, len(batch))
	for i, q := range batch {
		delete(q.msg.Header, nats.MsgIdHdr) // WithMsgID sets it again
		fs[i], errs[i] = g.js.PublishMsgAsync(q.msg, jetstream.WithMsgID(q.id), jetstream.WithExpectStream(g.stream))
	}
	for i, q := range batch {
		if errs[i] != nil {
			q.done <- storeResult{err: storeError(errs[i])}
			continue
		}
		ack, err := ackOf(fs[i])
		if err != nil {
			q.done <- storeResult{err: storeError(err)}
			continue
		}
		groupSize.Record(context.Background(), 1)
		q.done <- storeResult{dup: ack.Duplicate, seq: ack.Sequence}
	}
}

// refusedGroup reports a refusal of the message itself (its size, in
// practice: the group's subject and headers are ours), which its members
// alone may not get.
func refusedGroup(err error) bool {
	var refused *RefusedError
	return errors.As(storeError(err), &refused)
}
