//go:build faults

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

// TestFaultCommands: 300 commands (payments and comments on 20 assignments)
// against a Maventa that applies 30 % of the writes and then answers 504, sends
// 429s with Retry-After and 503s on reads, while the service binary is killed
// (SIGKILL) mid-run and restarted on the same store. Every command must end
// with exactly one outcome event, and no write may be applied twice.
func TestFaultCommands(t *testing.T) {
	const name = "commands_sigkill_504_after_apply"
	rig := newCommandRig(t, 13)
	sb, co := rig.sb, rig.co
	const assignments, perAssignment = 20, 15
	var ids []string
	target := map[string]string{} // command id -> assignment
	marker := map[string]string{} // command id -> the unique text or archive number it writes
	bodies := map[string][]byte{}
	for i := range assignments {
		inv := rig.invoice(t, fmt.Sprint("F", i), "1000.00")
		for j := range perAssignment {
			id := fmt.Sprintf("fault-cmd-%02d-%02d", i, j)
			def, data := events.CommandComment, `{"text":"`+id+`"}`
			if j%2 == 0 {
				def, data = events.CommandPaid, `{"amount":"1.00","booked_at":"2026-03-01","archive_number":"`+id+`"}`
			}
			b, err := events.Command{ID: id, Source: "faults://suite", Type: def.Type(), Subject: inv.AssignmentID,
				CompanyID: co.ID, Data: json.RawMessage(data)}.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
			target[id], marker[id], bodies[id] = inv.AssignmentID, id, b
		}
	}
	// The first matching fault applies: the write fault first.
	var installed []sandbox.Fault
	for _, f := range []sandbox.Fault{
		{Listener: "receivables", Method: "POST", Path: "/v1/assignments/*/events", ErrorRate: 0.3, Status: 504, AfterApply: true},
		{Listener: "receivables", Method: "GET", Status: 429, RetryAfter: 1, Count: 5},
		{Listener: "receivables", Method: "GET", ErrorRate: 0.1, Status: 503},
	} {
		f.ID = sb.SetFault(f)
		installed = append(installed, f)
	}

	env := rig.env(map[string]string{"DATA_DIR": t.TempDir(), "COMMAND_APPLY_LEASE": "2s", "COMMAND_CONCURRENCY": "8"})
	p := startProc(t, env)
	b, err := natsstore.OpenBroker(context.Background(), natsstore.BrokerConfig{URL: p.natsURL}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, id := range ids {
		def, _ := events.LookupCommand(mustCommandType(t, bodies[id]))
		if _, err := b.JS.Publish(ctx, def.Subject(co.ID), bodies[id], jetstream.WithMsgID(id)); err != nil {
			t.Fatal(err)
		}
	}
	outcomes := func(js jetstream.JetStream) map[string][]events.Event {
		out := map[string][]events.Event{}
		for _, ev := range storedEvents(t, js) {
			var d struct {
				CommandID string `json:"command_id"`
			}
			_ = json.Unmarshal(ev.Data, &d)
			out[d.CommandID] = append(out[d.CommandID], ev)
		}
		return out
	}
	waitFor(t, 60*time.Second, "a third of the outcomes before the kill", func() bool { return len(outcomes(b.JS)) >= len(ids)/3 })
	b.Close()
	if err := p.signal(syscall.SIGKILL); err == nil {
		t.Log("killed process exited cleanly?")
	}
	p = startProc(t, env)
	b, err = natsstore.OpenBroker(ctx, natsstore.BrokerConfig{URL: p.natsURL}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var got map[string][]events.Event
	waitFor(t, 3*time.Minute, "every command's outcome", func() bool { got = outcomes(b.JS); return len(got) >= len(ids) })

	lost, dup, twice, readBack, unknown := 0, 0, 0, 0, 0
	applied := appliedWrites(t, sb, target)
	for _, id := range ids {
		evs := got[id]
		switch {
		case len(evs) == 0:
			lost++
			continue
		case len(evs) > 1:
			dup += len(evs) - 1
		}
		n := applied[marker[id]]
		if n > 1 {
			twice++
		}
		switch evs[0].Type {
		case events.TypeCommandSucceeded.Type():
			var d events.CommandSucceeded
			_ = json.Unmarshal(evs[0].Data, &d)
			if d.ReadBack {
				readBack++
			}
			if n != 1 {
				t.Errorf("%s succeeded but applied %d times", id, n)
			}
		case events.TypeCommandOutcomeUnknown.Type():
			unknown++
		default:
			t.Errorf("%s: %s %s", id, evs[0].Type, evs[0].Data)
		}
	}
	line := fmt.Sprintf("scenario=%s lost=%d duplicated=%d applied_twice=%d", name, lost, dup, twice)
	fmt.Printf("%s  # commands=%d read_back_after_lost_answer=%d outcome_unknown=%d restarts=1 faults=%s\n",
		line, len(ids), readBack, unknown, faultUse(sb, installed))
	if lost != 0 || dup != 0 || twice != 0 {
		t.Error(line)
	}
}

func mustCommandType(t *testing.T, body []byte) string {
	t.Helper()
	var c struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatal(err)
	}
	return c.Type
}

// appliedWrites counts, per unique marker (comment text or archive number), the
// company's events carrying it on the commands' assignments.
func appliedWrites(t *testing.T, sb *sandbox.Sandbox, target map[string]string) map[string]int {
	t.Helper()
	seen := map[string]bool{}
	out := map[string]int{}
	for _, a := range target {
		if seen[a] {
			continue
		}
		seen[a] = true
		sa, err := sb.Assignment(a)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range sa.Events {
			if ev.Type != "comment" && ev.Type != "paid" {
				continue
			}
			for _, k := range []string{"comment", "archive_number"} {
				if v, ok := ev.Data[k].(string); ok {
					out[v]++
				}
			}
		}
	}
	return out
}
