package consumers

import (
	"context"
	"time"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
)

// pollMessages emits message.received for new messages in the company's Amili
// message threads: threads whose latest message changed since the last poll are
// read in full, the thread's record skips what was already emitted. A company without
// messaging (403/404) is not asked again for an hour.
func (p *Poller) pollMessages(ctx context.Context, c string) (emitted, calls int, err error) {
	p.mu.Lock()
	until := p.noMsgs[c]
	p.mu.Unlock()
	if p.cfg.Now().Before(until) {
		return 0, 0, nil
	}
	for page := 1; ; page++ {
		pg, err := p.api.ListMessageThreads(ctx, c, maventa.PageOptions{Page: page, PerPage: maventa.MaxPerPage})
		calls++
		if maventa.IsNotFound(err) || maventa.IsAuth(err) {
			p.mu.Lock()
			p.noMsgs[c] = p.cfg.Now().Add(time.Hour)
			p.mu.Unlock()
			return emitted, calls, nil
		}
		if err != nil {
			return emitted, calls, err
		}
		for _, th := range pg.Items {
			n, k, err := p.threadMessages(ctx, c, th)
			emitted += n
			calls += k
			if err != nil {
				return emitted, calls, err
			}
		}
		if pg.NextPage == 0 || len(pg.Items) < maventa.MaxPerPage {
			return emitted, calls, nil
		}
	}
}

// threadMessages reads a thread's messages when its latest message is not the
// one seen last time.
func (p *Poller) threadMessages(ctx context.Context, c string, th maventa.MessageThread) (emitted, calls int, err error) {
	latest := th.LatestMessageID()
	var seen events.SeenRecord
	rev, err := p.store.get(ctx, threadKey(th.ID), &seen)
	if err != nil {
		return 0, 0, err
	}
	if latest == "" || (rev != 0 && seen.Latest == latest) {
		return 0, 0, nil
	}
	msgs, err := p.api.ListThreadMessages(ctx, c, th.ID)
	calls++
	if err != nil {
		return 0, calls, err
	}
	var out []events.Event
	for _, m := range msgs {
		mr, ok := m.Received(th)
		if !ok {
			continue
		}
		ev, err := events.NewMessageReceived(c, mr, events.TraceContext{})
		if err != nil {
			return 0, calls, err
		}
		out = append(out, ev)
	}
	n, err := update(ctx, p.store.kv, p.emit, threadKey(th.ID), func(rec events.SeenRecord) (events.SeenRecord, []events.Event, error) {
		next, evs := events.ApplySeen(rec, out, p.cfg.Now(), 0)
		next.Latest = latest
		return next, evs, nil
	})
	return n, calls, err
}
