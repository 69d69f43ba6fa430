package commands

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

// fakeMessage is a delivered command that remembers how it was settled.
type fakeMessage struct {
	subject string
	data    []byte
	seq     uint64
	once    sync.Once
	settled chan struct{} // closed on Ack or Term
	mu      sync.Mutex
	how     string
}

func (m *fakeMessage) Subject() string { return m.subject }
func (m *fakeMessage) Data() []byte    { return m.data }
func (m *fakeMessage) Seq() uint64     { return m.seq }
func (m *fakeMessage) Ack() error      { m.settle("ack"); return nil }
func (m *fakeMessage) Term() error     { m.settle("term"); return nil }
func (m *fakeMessage) Nak() error      { return nil }
func (m *fakeMessage) InProgress() error {
	return nil
}
func (m *fakeMessage) NakWithDelay(time.Duration) error { return nil }

func (m *fakeMessage) settle(how string) {
	m.mu.Lock()
	m.how = how
	m.mu.Unlock()
	m.once.Do(func() { close(m.settled) })
}

// fakeSource delivers its messages in one fetch, then waits for the end.
type fakeSource struct {
	ch chan *fakeMessage
}

func (s *fakeSource) Fetch(ctx context.Context, max int, each func(Message)) error {
	select {
	case m := <-s.ch:
		each(m)
	case <-ctx.Done():
		return nil
	}
	for range max - 1 {
		select {
		case m := <-s.ch:
			each(m)
		default:
			return nil
		}
	}
	return nil
}

// fakeOrder is the order over a known stream: a command is ready once every
// earlier command of its key is finished.
type fakeOrder struct {
	mu       sync.Mutex
	stream   map[uint64]string // seq -> order key
	finished map[uint64]bool
	// held is signalled when a command was told to wait.
	held chan struct{}
}

func (o *fakeOrder) Seen(uint64, string) {}

func (o *fakeOrder) Ready(_ context.Context, seq uint64, key string) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for s, k := range o.stream {
		if s < seq && k == key && !o.finished[s] {
			select {
			case o.held <- struct{}{}:
			default:
			}
			return false, nil
		}
	}
	return true, nil
}

func (o *fakeOrder) Finished(_ context.Context, seq uint64, _ string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.finished[seq] = true
	return nil
}

// fakeDeadLetters keeps the reasons messages were dead-lettered for.
type fakeDeadLetters struct {
	mu      sync.Mutex
	reasons map[uint64]string
}

func (d *fakeDeadLetters) Put(_ context.Context, m Message, reason string, _ error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reasons[m.Seq()] = reason
	return nil
}

// TestRunnerOnFakes runs commands through the Runner with no NATS: the
// source, order and dead letters are in memory, the handler on the fakes of
// handler_test.go, Maventa the sandbox.
func TestRunnerOnFakes(t *testing.T) {
	tests := []struct {
		name string
		// fault is set on the sandbox before the run.
		fault *sandbox.Fault
		// texts are the comments in stream order (seq 1, 2, …), delivered in
		// reverse; "" is a malformed command.
		texts []string
		// apart delivers the last command first and the others only once it
		// was told to wait (or, wrongly, ran): the earlier ones are in
		// another replica's hands meanwhile.
		apart        bool
		wantSettled  []string // per command: "ack" or "term"
		wantReasons  map[uint64]string
		wantComments []string
	}{
		{
			name:        "commands of one assignment delivered in reverse are applied in stream order",
			texts:       []string{"one", "two", "three"},
			wantSettled: []string{"ack", "ack", "ack"}, wantReasons: map[uint64]string{}, wantComments: []string{"one", "two", "three"},
		},
		{
			name:  "a command waits for the earlier one of its assignment that is still in another replica's hands",
			texts: []string{"one", "two"}, apart: true,
			wantSettled: []string{"ack", "ack"}, wantReasons: map[uint64]string{}, wantComments: []string{"one", "two"},
		},
		{
			name:        "a malformed command is dead-lettered and the next one of its key still runs",
			texts:       []string{"", "two"},
			wantSettled: []string{"term", "ack"}, wantReasons: map[uint64]string{1: "invalid_payload"}, wantComments: []string{"two"},
		},
		{
			name:        "Maventa unavailable: tried MaxAttempts times, then dead-lettered as exhausted",
			fault:       &sandbox.Fault{Method: "GET", Path: "/v1/assignments/*", Status: 503},
			texts:       []string{"one", "two"},
			wantSettled: []string{"term", "term"}, wantReasons: map[uint64]string{1: "exhausted", 2: "exhausted"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb, api, _, assignment := sandboxAPI(t)
			if tt.fault != nil {
				sb.SetFault(*tt.fault)
			}
			subject := events.CommandComment.Subject(fakeCompany)
			src := &fakeSource{ch: make(chan *fakeMessage, len(tt.texts))}
			order := &fakeOrder{stream: map[uint64]string{}, finished: map[uint64]bool{}, held: make(chan struct{}, 1)}
			var msgs []*fakeMessage
			for i, text := range tt.texts {
				body := []byte(`{"id":"broken","subject":"` + assignment + `","data":`)
				if text != "" {
					body = commentBody(t, fmt.Sprint("c", i+1), assignment, text)
				}
				m := &fakeMessage{subject: subject, data: body, seq: uint64(i + 1), settled: make(chan struct{})}
				order.stream[m.seq] = OrderKey(m.subject, m.data)
				msgs = append(msgs, m)
			}
			later := msgs
			if tt.apart {
				src.ch <- msgs[len(msgs)-1]
				later = msgs[:len(msgs)-1]
			} else {
				for _, m := range slices.Backward(msgs) {
					src.ch <- m
				}
			}
			dl := &fakeDeadLetters{reasons: map[uint64]string{}}
			h := NewHandler(Config{Holder: "r"}, newMemStore(), &memEmitter{}, api, nil)
			runner := NewRunner(RunnerConfig{MaxAttempts: 2, RetryInitial: time.Millisecond, RetryMax: 2 * time.Millisecond}, src, order, h, dl, nil)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- runner.Run(ctx) }()
			if tt.apart {
				select {
				case <-order.held:
				case <-msgs[len(msgs)-1].settled:
				case <-time.After(20 * time.Second):
					t.Fatal("the last command neither waited nor ran")
				}
				for _, m := range slices.Backward(later) {
					src.ch <- m
				}
			}
			deadline := time.After(20 * time.Second)
			for _, m := range msgs {
				select {
				case <-m.settled:
				case <-deadline:
					t.Fatalf("command %d not settled", m.seq)
				}
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			var settled []string
			for _, m := range msgs {
				m.mu.Lock()
				settled = append(settled, m.how)
				m.mu.Unlock()
			}
			if !slices.Equal(settled, tt.wantSettled) {
				t.Errorf("settled %v, want %v", settled, tt.wantSettled)
			}
			dl.mu.Lock()
			if fmt.Sprint(dl.reasons) != fmt.Sprint(tt.wantReasons) {
				t.Errorf("dead letters %v, want %v", dl.reasons, tt.wantReasons)
			}
			dl.mu.Unlock()
			sb.ClearFaults()
			sa, err := sb.Assignment(assignment)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ev := range slices.Backward(sa.Events) { // the snapshot lists newest first
				if ev.Type == "comment" {
					got = append(got, fmt.Sprint(ev.Data["comment"]))
				}
			}
			if !slices.Equal(got, tt.wantComments) {
				t.Errorf("comments at Maventa %q, want %q", got, tt.wantComments)
			}
		})
	}
}
