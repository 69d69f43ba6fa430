package commandstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers/commands"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/consumers/natstest"
	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

// dyingStore fails the write that would record a decided outcome, as a process
// killed right after Maventa answered and before its record was written.
type dyingStore struct {
	commands.Store
	died atomic.Bool
}

var errKilled = errors.New("process killed")

func (s *dyingStore) Put(ctx context.Context, r commands.Record, rev uint64) (uint64, error) {
	if r.State == commands.StateDone && s.died.CompareAndSwap(false, true) {
		return 0, errKilled
	}
	return s.Store.Put(ctx, r, rev)
}

func succeeded(t *testing.T, ev events.Event) events.CommandSucceeded {
	t.Helper()
	if ev.Type != events.TypeCommandSucceeded.Type() {
		t.Fatalf("outcome %s %s", ev.Type, ev.Data)
	}
	var d events.CommandSucceeded
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestKilledAfterMaventaAnsweredAppliesNothingTwice: the handler dies between
// Maventa's 201 and the durable record; the restarted service (another holder,
// once the dead one's lease ran out) reads the assignment back, finds the
// payment and reports it, without a second POST.
func TestKilledAfterMaventaAnsweredAppliesNothingTwice(t *testing.T) {
	e := newEnv(t)
	a := e.assignment("K1", "100.00")
	body := command(events.CommandPaid, "cmd-kill-1", company, a, `{"amount":"30.00","booked_at":"2026-03-01"}`)
	ds := &dyingStore{Store: e.store}
	first := commands.NewHandler(commands.Config{Holder: "first", Now: e.clock.Now, ApplyLease: time.Minute}, ds, e.emitter, e.api, quiet)
	err := first.Handle(t.Context(), events.CommandPaid.Subject(company), body)
	if !errors.Is(err, errKilled) {
		t.Fatalf("first run: %v, want it killed", err)
	}
	if n := e.sb.CompanyEvents(a, "paid"); n != 1 {
		t.Fatalf("paid applied %d times before the crash", n)
	}
	restarted := e.handler("restarted")
	var re *commands.RetryError
	if err := restarted.Handle(t.Context(), events.CommandPaid.Subject(company), body); !errors.As(err, &re) || re.After <= 0 {
		t.Fatalf("within the dead holder's lease: %v, want a retry after the lease", err)
	}
	e.clock.Advance(time.Minute + time.Second)
	if err := restarted.Handle(t.Context(), events.CommandPaid.Subject(company), body); err != nil {
		t.Fatal(err)
	}
	d := succeeded(t, e.outcome("cmd-kill-1"))
	if !d.ReadBack || d.MaventaEventID == "" {
		t.Errorf("outcome %+v, want found by reading back", d)
	}
	if n := e.sb.CompanyEvents(a, "paid"); n != 1 {
		t.Errorf("paid applied %d times", n)
	}
	if w := e.rec.writes(); len(w) != 1 {
		t.Errorf("%d writes: %+v", len(w), w)
	}
}

// TestDeadLetterReplayNeverAppliesTwice: a command dead-lettered after it was
// applied (its outcome could not be recorded) and replayed by an operator is
// decided by reading back, not sent again.
func TestDeadLetterReplayNeverAppliesTwice(t *testing.T) {
	e := newEnv(t)
	a := e.assignment("L1", "100.00")
	ds := &dyingStore{Store: e.store}
	h := commands.NewHandler(commands.Config{Holder: "only", Now: e.clock.Now}, ds, e.emitter, e.api, quiet)
	sc := e.sc
	sc.MaxAttempts = 1
	e.run(h, sc)
	e.publish(events.CommandCreditNote, "cmd-dlq-1", company, a, `{"credit_note_number":"CN-1","amount":"20.00"}`)

	dl, err := e.js.Stream(t.Context(), "MAVENTA_DEADLETTER")
	if err != nil {
		t.Fatal(err)
	}
	var m *jetstream.RawStreamMsg
	natstest.WaitFor(t, 20*time.Second, "the dead letter", func() bool {
		m, err = dl.GetLastMsgForSubject(t.Context(), natsstore.DeadLetterSubjectRoot+".>")
		return err == nil
	})
	if got := m.Header.Get(natsstore.HeaderDLReason); got != "exhausted" {
		t.Errorf("reason %q", got)
	}
	// What `maventa-events dlq replay` does: publish the body back to its subject.
	replay := &nats.Msg{Subject: m.Header.Get(natsstore.HeaderDLSubject), Data: m.Data, Header: nats.Header{}}
	if _, err := e.js.PublishMsg(t.Context(), replay, jetstream.WithMsgID("dlq-replay:1")); err != nil {
		t.Fatal(err)
	}
	d := succeeded(t, e.outcome("cmd-dlq-1"))
	if !d.ReadBack {
		t.Errorf("outcome %+v, want found by reading back", d)
	}
	if n := e.sb.CompanyEvents(a, "credit_note"); n != 1 {
		t.Errorf("credit note applied %d times", n)
	}
}

// TestTwoHandlersSameIDApplyOnce: two replicas handed the same command at the
// same moment (Maventa slow to answer) apply it once; both end with its one outcome.
func TestTwoHandlersSameIDApplyOnce(t *testing.T) {
	e := newEnv(t)
	a := e.assignment("T1", "100.00")
	e.sb.SetFault(sandbox.Fault{Method: "POST", Path: "/v1/assignments/*/events", Latency: 200 * time.Millisecond})
	body := command(events.CommandPaid, "cmd-two-1", company, a, `{"amount":"25.00","booked_at":"2026-03-01"}`)
	var wg sync.WaitGroup
	for _, holder := range []string{"replica-a", "replica-b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := e.handler(holder)
			natstest.WaitFor(t, 20*time.Second, holder+" done", func() bool {
				err := h.Handle(context.Background(), events.CommandPaid.Subject(company), body)
				var re *commands.RetryError
				if err != nil && !errors.As(err, &re) {
					t.Errorf("%s: %v", holder, err)
					return true
				}
				return err == nil
			})
		}()
	}
	wg.Wait()
	succeeded(t, e.outcome("cmd-two-1"))
	if n := e.sb.CompanyEvents(a, "paid"); n != 1 {
		t.Errorf("paid applied %d times", n)
	}
	if n := e.outcomeCount("cmd-two-1"); n != 1 {
		t.Errorf("%d outcome events", n)
	}
}

// TestTwoRunnersSameCommandApplyOnce: two replicas consuming the stream, the
// same command published twice (after the duplicate window), applied once.
func TestTwoRunnersSameCommandApplyOnce(t *testing.T) {
	e := newEnv(t)
	e.run(e.handler("replica-a"), e.sc)
	e.run(e.handler("replica-b"), e.sc)
	a := e.assignment("T2", "100.00")
	e.sb.SetFault(sandbox.Fault{Method: "POST", Path: "/v1/assignments/*/events", Latency: 100 * time.Millisecond})
	for i := range 2 {
		body := command(events.CommandPaid, "cmd-two-2", company, a, `{"amount":"25.00","booked_at":"2026-03-01"}`)
		if _, err := e.js.Publish(t.Context(), events.CommandPaid.Subject(company), body, jetstream.WithMsgID(fmt.Sprint("copy-", i))); err != nil {
			t.Fatal(err)
		}
	}
	succeeded(t, e.outcome("cmd-two-2"))
	natstest.WaitFor(t, 20*time.Second, "both copies handled", func() bool {
		info, err := e.js.Consumer(t.Context(), "RECEIVABLES_COMMANDS", "maventa-events-commands")
		if err != nil {
			return false
		}
		ci, err := info.Info(t.Context())
		return err == nil && ci.NumAckPending == 0 && ci.NumPending == 0
	})
	if n := e.sb.CompanyEvents(a, "paid"); n != 1 {
		t.Errorf("paid applied %d times", n)
	}
	if n := e.outcomeCount("cmd-two-2"); n != 1 {
		t.Errorf("%d outcome events", n)
	}
}

// TestTimeoutsAfterApplyNeverApplyTwice: 30 % of the POSTs are applied and then
// answered 504. Every command ends with one outcome; each is applied exactly
// once (found by reading back) or reported outcome_unknown, never twice.
func TestTimeoutsAfterApplyNeverApplyTwice(t *testing.T) {
	e := newEnv(t)
	e.run(e.handler("h1"), e.sc)
	e.sb.SetFault(sandbox.Fault{Method: "POST", Path: "/v1/assignments/*/events", ErrorRate: 0.3, Status: 504, AfterApply: true})
	const assignments, perAssignment = 8, 5
	var ids []string
	idsOf := map[string]string{} // command id -> assignment
	for i := range assignments {
		a := e.assignment(fmt.Sprint("M", i), "100.00")
		for j := range perAssignment {
			id := fmt.Sprintf("cmd-to-%d-%d", i, j)
			ids = append(ids, id)
			idsOf[id] = a
			e.publish(events.CommandComment, id, company, a, `{"text":"`+id+`"}`)
		}
	}
	readBack, unknown := 0, 0
	for _, id := range ids {
		out := e.outcome(id)
		applied := countComments(t, e, idsOf[id], id)
		switch out.Type {
		case events.TypeCommandSucceeded.Type():
			if succeeded(t, out).ReadBack {
				readBack++
			}
			if applied != 1 {
				t.Errorf("%s succeeded but applied %d times", id, applied)
			}
		case events.TypeCommandOutcomeUnknown.Type():
			unknown++
			if applied > 1 {
				t.Errorf("%s applied %d times", id, applied)
			}
		default:
			t.Errorf("%s: %s %s", id, out.Type, out.Data)
		}
	}
	for _, id := range ids {
		if n := e.outcomeCount(id); n != 1 {
			t.Errorf("%s: %d outcome events", id, n)
		}
	}
	if readBack == 0 {
		t.Error("no answer was lost: the fault did not apply")
	}
	t.Logf("%d commands, %d found by reading back after a lost answer, %d outcome_unknown, %d POSTs", len(ids), readBack, unknown, len(e.rec.writes()))
	if len(e.rec.writes()) != len(ids) {
		t.Errorf("%d POSTs for %d commands: a write was resent", len(e.rec.writes()), len(ids))
	}
}

// countComments counts the company's comments on a whose text is text.
func countComments(t *testing.T, e *env, a, text string) int {
	t.Helper()
	sa, err := e.sb.Assignment(a)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range sa.Events {
		if ev.Type == "comment" && ev.PartyID == company && fmt.Sprint(ev.Data["comment"]) == text {
			n++
		}
	}
	return n
}

// TestLostAnswerWithoutEffectIsUnknownUntilResolved: a 504 whose write did not
// apply cannot be told from one that did by the answer alone: reading back finds
// nothing, the outcome is unknown, nothing is resent, and the operator's
// resolution publishes the final outcome.
func TestLostAnswerWithoutEffectIsUnknownUntilResolved(t *testing.T) {
	e := newEnv(t)
	h := e.handler("h1")
	e.run(h, e.sc)
	a := e.assignment("U1", "100.00")
	e.sb.SetFault(sandbox.Fault{Method: "POST", Path: "/v1/assignments/*/events", Status: 504, Count: 1})
	e.publish(events.CommandPaid, "cmd-unk-1", company, a, `{"amount":"10.00","booked_at":"2026-03-01"}`)
	out := e.outcome("cmd-unk-1")
	if out.Type != events.TypeCommandOutcomeUnknown.Type() {
		t.Fatalf("outcome %s %s", out.Type, out.Data)
	}
	var d events.CommandOutcomeUnknown
	_ = json.Unmarshal(out.Data, &d)
	if !strings.Contains(d.Error, "504") || !strings.Contains(d.Seen, "0 new paid events") {
		t.Errorf("unknown %+v", d)
	}
	if n := len(e.rec.writes()); n != 1 {
		t.Errorf("%d writes: resent after an ambiguous answer", n)
	}
	if _, err := h.Resolve(t.Context(), "cmd-unk-1", commands.Resolution{Applied: false, By: "ops@example.com", Note: "not in Maventa's UI"}); err != nil {
		t.Fatal(err)
	}
	natstest.WaitFor(t, 10*time.Second, "the resolution event", func() bool { return e.outcomeCount("cmd-unk-1") == 2 })
	e.mu.Lock()
	res := e.outcomes["cmd-unk-1"][1]
	e.mu.Unlock()
	var f events.CommandFailed
	_ = json.Unmarshal(res.Data, &f)
	if res.Type != events.TypeCommandFailed.Type() || f.ResolvedBy != "ops@example.com" {
		t.Errorf("resolution %s %s", res.Type, res.Data)
	}
	if _, err := h.Resolve(t.Context(), "cmd-unk-1", commands.Resolution{Applied: true, By: "other"}); err == nil {
		t.Error("a contradicting second resolution was accepted")
	}
	if _, err := h.Resolve(t.Context(), "no-such", commands.Resolution{By: "x"}); err == nil {
		t.Error("resolving an unknown id was accepted")
	}
	// A command with a known outcome cannot be resolved.
	e.publish(events.CommandComment, "cmd-known", company, a, `{"text":"x"}`)
	e.outcome("cmd-known")
	if _, err := h.Resolve(t.Context(), "cmd-known", commands.Resolution{Applied: true, By: "x"}); !errors.Is(err, commands.ErrNotUnknown) {
		t.Errorf("resolve of a succeeded command: %v", err)
	}
}

// TestCommandsOfOneAssignmentKeepTheirOrder: with several commands running at
// once and Maventa answering at uneven speed, each assignment receives its
// commands in the order they were published.
func TestCommandsOfOneAssignmentKeepTheirOrder(t *testing.T) {
	e := newEnv(t)
	sc := e.sc
	sc.Concurrency = 8
	e.run(e.handler("h1"), sc)
	e.sb.SetFault(sandbox.Fault{Method: "POST", Path: "/v1/assignments/*/events", Latency: 5 * time.Millisecond, ErrorRate: 0.2, Status: 503})
	const perAssignment = 12
	var as []string
	for i := range 3 {
		as = append(as, e.assignment(fmt.Sprint("O", i), "100.00"))
	}
	for j := range perAssignment {
		for _, a := range as {
			e.publish(events.CommandComment, fmt.Sprintf("ord-%s-%02d", a, j), company, a, fmt.Sprintf(`{"text":"%02d"}`, j))
		}
	}
	for _, a := range as {
		e.outcome(fmt.Sprintf("ord-%s-%02d", a, perAssignment-1))
		if got := comments(t, e, a); !slices.Equal(got, sequence(perAssignment)) {
			t.Errorf("assignment %s got its comments in the order %v", a, got)
		}
	}
}

// countingEmitter counts the events handed to the emitter.
type countingEmitter struct {
	commands.Emitter
	n atomic.Int64
}

func (c *countingEmitter) Emit(ctx context.Context, evs []events.Event) (int, error) {
	c.n.Add(int64(len(evs)))
	return c.Emitter.Emit(ctx, evs)
}

// TestOutcomeNotAnnouncedAgainAfterMarkersExpire: a decided command seen again
// (a replay weeks later, when the processed markers and JetStream's window are
// gone) does not publish its outcome again: the record knows it is stored.
func TestOutcomeNotAnnouncedAgainAfterMarkersExpire(t *testing.T) {
	e := newEnv(t)
	ce := &countingEmitter{Emitter: e.emitter}
	h := commands.NewHandler(commands.Config{Holder: "h", Now: e.clock.Now}, e.store, ce, e.api, quiet)
	a := e.assignment("PX1", "10.00")
	body := command(events.CommandComment, "px-1", company, a, `{"text":"x"}`)
	for range 2 {
		if err := h.Handle(t.Context(), events.CommandComment.Subject(company), body); err != nil {
			t.Fatal(err)
		}
	}
	if n := ce.n.Load(); n != 1 {
		t.Errorf("%d events handed to the emitter, want the one outcome", n)
	}
	rec, _, _ := e.store.Get(t.Context(), "px-1")
	if len(rec.Published) != 1 {
		t.Errorf("record published %v", rec.Published)
	}
}

// TestOrderHoldsAcrossReplicas: two replicas pull from the one consumer, so
// JetStream hands each some of an assignment's commands; Maventa must still
// receive them in the order they were published.
func TestOrderHoldsAcrossReplicas(t *testing.T) {
	e := newEnv(t)
	sc := e.sc
	sc.Concurrency = 2
	e.run(e.handler("replica-a"), sc)
	e.run(e.handler("replica-b"), sc)
	// Uneven answers, so that a replica holding a later command would often
	// get to Maventa before the one holding the earlier command.
	e.sb.SetFault(sandbox.Fault{Method: "POST", Path: "/v1/assignments/*/events", Latency: 15 * time.Millisecond, ErrorRate: 0.3})
	const n = 24
	as := []string{e.assignment("X1", "100.00"), e.assignment("X2", "100.00")}
	for j := range n {
		for _, a := range as {
			e.publish(events.CommandComment, fmt.Sprintf("x-%s-%02d", a, j), company, a, fmt.Sprintf(`{"text":"%02d"}`, j))
		}
	}
	holders := map[string]int{}
	for _, a := range as {
		for j := range n {
			id := fmt.Sprintf("x-%s-%02d", a, j)
			if ev := e.outcome(id); ev.Type != events.TypeCommandSucceeded.Type() {
				t.Fatalf("%s: %s %s", id, ev.Type, ev.Data)
			}
			rec, _, err := e.store.Get(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			holders[rec.Holder]++
		}
		if got := comments(t, e, a); !slices.Equal(got, sequence(n)) {
			t.Errorf("assignment %s got its comments in the order %v", a, got)
		}
	}
	// Both replicas applied some, or the test proved nothing.
	if len(holders) != 2 {
		t.Errorf("commands applied by %v, want both replicas", holders)
	}
}

// comments lists the texts of the company's comments on assignment a, oldest first.
func comments(t *testing.T, e *env, a string) []string {
	t.Helper()
	sa, err := e.sb.Assignment(a)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(sa.Events) - 1; i >= 0; i-- { // the snapshot lists newest first
		if ev := sa.Events[i]; ev.Type == "comment" {
			got = append(got, fmt.Sprint(ev.Data["comment"]))
		}
	}
	return got
}

// sequence is "00", "01", ... n-1.
func sequence(n int) []string {
	out := make([]string, n)
	for j := range out {
		out[j] = fmt.Sprintf("%02d", j)
	}
	return out
}

// TestShutdownNeverLetsALaterCommandOvertake: a replica stopping while an
// assignment's command is retried in place gives back the commands queued
// behind it rather than applying them first; the next run applies both in
// order.
func TestShutdownNeverLetsALaterCommandOvertake(t *testing.T) {
	e := newEnv(t)
	a := e.assignment("S1", "100.00")
	// The message (first) is refused while the fault lasts; the comment (second)
	// would go through at once.
	fid := e.sb.SetFault(sandbox.Fault{Method: "POST", Path: "/v1/assignments/*/messages", ErrorRate: 1, Status: 503})
	e.publish(events.CommandAddAssignmentMessage, "sd-1", company, a, `{"text":"first"}`)
	e.publish(events.CommandComment, "sd-2", company, a, `{"text":"second"}`)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewRunner(e.sc, e.js, e.handler("h1"), e.dl, quiet).Run(ctx) }()
	natstest.WaitFor(t, 10*time.Second, "the first command tried", func() bool {
		for _, w := range e.rec.writes() {
			if strings.HasSuffix(w.Path, "/messages") {
				return true
			}
		}
		return false
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := e.sb.CompanyEvents(a, "comment"); n != 0 {
		t.Fatalf("the second command was applied at shutdown, before the first")
	}
	e.sb.ClearFault(fid)
	e.run(e.handler("h2"), e.sc)
	if ev := e.outcome("sd-2"); ev.Type != events.TypeCommandSucceeded.Type() {
		t.Fatalf("sd-2: %s %s", ev.Type, ev.Data)
	}
	e.outcome("sd-1")
	var kinds []string // the writes' kinds, repeats (retries) folded
	for _, w := range e.rec.writes() {
		if k := path.Base(w.Path); len(kinds) == 0 || kinds[len(kinds)-1] != k {
			kinds = append(kinds, k)
		}
	}
	if !slices.Equal(kinds, []string{"messages", "events"}) {
		t.Errorf("writes in the order %v, want the message's (retries included) before the comment", kinds)
	}
}
