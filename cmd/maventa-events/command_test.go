package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/consumers/commands"
	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/consumers/natstest"
	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

// TestCommandSendThroughTheService is the command side end to end: `command
// send` publishes a direct payment, the running service applies it at the
// sandbox once and publishes command.succeeded, and polling then brings the
// payment and the agency's close as the usual domain events, once each.
func TestCommandSendThroughTheService(t *testing.T) {
	rig := newCommandRig(t, 3)
	sb, co := rig.sb, rig.co
	inv := rig.invoice(t, "C1", "80.00")
	s := startService(t, rig.env(map[string]string{"POLL_INTERVAL": "100ms"}))
	env := envFunc(map[string]string{"NATS_URL": s.natsURL})
	cli := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := run(context.Background(), append([]string{"maventa-events", "command"}, args...), env, &out, &errb)
		return out.String() + errb.String(), err
	}

	out, err := cli("send", "-type", "assignment.paid", "-company", co.ID, "-subject", inv.AssignmentID, "-id", "pay-1",
		"-correlation-id", "run-7", "-data", `{"amount":"80.00","booked_at":"2026-03-01","archive_number":"A-1"}`, "-json")
	if err != nil {
		t.Fatalf("send: %v\n%s", err, out)
	}
	var rec commands.Record
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatalf("send output %q: %v", out, err)
	}
	var d events.CommandSucceeded
	_ = json.Unmarshal(rec.OutcomeData, &d)
	if rec.Outcome != events.OutcomeSucceeded || d.MaventaEventID == "" || rec.CorrelationID != "run-7" {
		t.Fatalf("record %+v", rec)
	}

	// The outcome, then the company's paid event and the agency's close, each once.
	b, err := natsstore.OpenBroker(context.Background(), natsstore.BrokerConfig{URL: s.natsURL}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	count := func() map[string]int {
		n := map[string]int{}
		for _, e := range storedEvents(t, b.JS) {
			n[e.Type]++
			if e.Type == events.TypeAssignmentPaid.Type() && e.MaventaEventID != d.MaventaEventID {
				t.Errorf("paid event %s is not the one the command created (%s)", e.MaventaEventID, d.MaventaEventID)
			}
		}
		return n
	}
	var got map[string]int
	natstest.WaitFor(t, 30*time.Second, "the payment and the close arrive by polling", func() bool {
		got = count()
		return got[events.TypeAssignmentClose.Type()] > 0 && got[events.TypeAssignmentPaid.Type()] > 0
	})
	for _, typ := range []string{events.TypeCommandSucceeded.Type(), events.TypeAssignmentPaid.Type(), events.TypeAssignmentClose.Type()} {
		if got[typ] != 1 {
			t.Errorf("%s: %d events, want 1 (all: %v)", typ, got[typ], got)
		}
	}
	if n := sb.CompanyEvents(inv.AssignmentID, "paid"); n != 1 {
		t.Errorf("paid applied %d times", n)
	}

	// Sending the same command again answers with the same outcome and applies nothing.
	if out, err := cli("send", "-type", "assignment.paid", "-company", co.ID, "-subject", inv.AssignmentID, "-id", "pay-1",
		"-correlation-id", "run-7", "-data", `{"amount":"80.00","booked_at":"2026-03-01","archive_number":"A-1"}`); err != nil || !strings.Contains(out, "outcome: succeeded") {
		t.Errorf("resend: %v\n%s", err, out)
	}
	if n := sb.CompanyEvents(inv.AssignmentID, "paid"); n != 1 {
		t.Errorf("paid applied %d times after a resend", n)
	}

	// A whole CloudEvent from a file.
	file := filepath.Join(t.TempDir(), "comment.json")
	body := `{"specversion":"1.0","id":"file-1","source":"erp://test","type":"` + events.CommandComment.Type() + `","subject":"` + inv.AssignmentID +
		`","companyid":"` + co.ID + `","data":{"text":"from a file"}}`
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := cli("send", "-file", file); err != nil || !strings.Contains(out, "outcome: succeeded") {
		t.Errorf("send -file: %v\n%s", err, out)
	}

	// An answer lost without effect: outcome_unknown, then the operator resolves it.
	sb.SetFault(sandbox.Fault{Method: "POST", Path: "/v1/assignments/*/events", Status: 504, Count: 1})
	if out, err := cli("send", "-type", "assignment.comment", "-company", co.ID, "-subject", inv.AssignmentID, "-id", "lost-1",
		"-data", `{"text":"lost"}`); err != nil || !strings.Contains(out, "outcome: outcome_unknown") || !strings.Contains(out, "command resolve -id lost-1") {
		t.Fatalf("send with a lost answer: %v\n%s", err, out)
	}
	if out, err := cli("resolve", "-id", "lost-1", "-not-applied", "-by", "ops@example.com", "-note", "not at Maventa"); err != nil ||
		!strings.Contains(out, "resolved by ops@example.com") {
		t.Errorf("resolve: %v\n%s", err, out)
	}
	natstest.WaitFor(t, 10*time.Second, "the resolution event", func() bool { return count()[events.TypeCommandFailed.Type()] == 1 })

	if out, err := cli("status", "-id", "pay-1"); err != nil || !strings.Contains(out, "state: done") || !strings.Contains(out, "outcome: succeeded") {
		t.Errorf("status: %v\n%s", err, out)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad data is refused before sending", []string{"send", "-type", "assignment.paid", "-company", co.ID, "-subject", inv.AssignmentID,
			"-data", `{"amount":1.234,"booked_at":"x"}`}, "data.amount"},
		{"unknown command names the known ones", []string{"send", "-type", "assignment.pay", "-company", co.ID}, "assignment.paid, assignment.credit_note"},
		{"status of an unknown id", []string{"status", "-id", "nope"}, "no record"},
		{"resolve needs a decision", []string{"resolve", "-id", "pay-1", "-by", "ops"}, "exactly one of -applied or -not-applied"},
		{"a succeeded command cannot be resolved", []string{"resolve", "-id", "pay-1", "-applied", "-by", "ops"}, "only a command whose outcome is unknown"},
		{"unknown subcommand", []string{"cancel"}, "unknown command subcommand"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := cli(tt.args...)
			if err == nil || !strings.Contains(err.Error()+out, tt.want) {
				t.Errorf("err %v, output %q; want %q", err, out, tt.want)
			}
		})
	}
}

// TestREADMEListsEveryCommand: the README's command table names every command
// of the catalog and no other.
func TestREADMEListsEveryCommand(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Sending commands to Maventa")
	if !ok {
		t.Fatal("README.md has no 'Sending commands to Maventa' section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	listed := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		if name, ok := strings.CutPrefix(line, "| `"); ok {
			name, _, _ = strings.Cut(name, "`")
			listed[name] = true
		}
	}
	for _, d := range events.Commands() {
		if !listed[d.Name] {
			t.Errorf("README.md's command table lacks %s", d.Name)
		}
		delete(listed, d.Name)
	}
	for name := range listed {
		t.Errorf("README.md's command table lists %s, which is no command", name)
	}
}

// TestEveryAssignmentCommandsFactsArriveAsDomainEvents: each assignment command
// sent through the running service is followed, by polling, by the company's
// own event and the agency's reaction as domain events, once each.
func TestEveryAssignmentCommandsFactsArriveAsDomainEvents(t *testing.T) {
	rig := newCommandRig(t, 4)
	co := rig.co
	s := startService(t, rig.env(map[string]string{"POLL_INTERVAL": "100ms"}))
	env := envFunc(map[string]string{"NATS_URL": s.natsURL})
	tests := []struct {
		command, data string
		want          []events.TypeDef // domain events about the assignment, besides assignment.opened
	}{
		{"assignment.paid", `{"amount":"50.00","booked_at":"2026-03-01"}`, []events.TypeDef{events.TypeAssignmentPaid, events.TypeAssignmentClose}},
		{"assignment.credit_note", `{"credit_note_number":"CN-1","amount":"50.00"}`, []events.TypeDef{events.TypeAssignmentCreditNote, events.TypeAssignmentClose}},
		{"assignment.comment", `{"text":"Paid in cash at the counter."}`, []events.TypeDef{events.TypeAssignmentComment}},
		{"assignment.due_date_change_request", `{"due_date":"2030-01-31"}`, []events.TypeDef{events.TypeAssignmentDueDateChangeRequest, events.TypeAssignmentDueDateChanged}},
		{"assignment.cancel", `{}`, []events.TypeDef{events.TypeAssignmentCancel, events.TypeAssignmentClose}},
		{"assignment.freeze", `{"end_date":"2030-01-31"}`, []events.TypeDef{events.TypeAssignmentFreeze, events.TypeAssignmentFreezeConfirmed}},
		{"assignment.credit_loss", `{}`, []events.TypeDef{events.TypeAssignmentCreditLoss}},
	}
	subjects := map[string]string{}
	for i, tt := range tests {
		inv := rig.invoice(t, fmt.Sprint("D", i), "50.00")
		subjects[tt.command] = inv.AssignmentID
		var out, errb bytes.Buffer
		if err := run(context.Background(), []string{"maventa-events", "command", "send", "-type", tt.command, "-company", co.ID,
			"-subject", inv.AssignmentID, "-data", tt.data, "-id", "facts-" + tt.command}, env, &out, &errb); err != nil || !strings.Contains(out.String(), "outcome: succeeded") {
			t.Fatalf("%s: %v\n%s%s", tt.command, err, out.String(), errb.String())
		}
	}
	b, err := natsstore.OpenBroker(context.Background(), natsstore.BrokerConfig{URL: s.natsURL}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	bySubject := func() map[string]map[string]int {
		out := map[string]map[string]int{}
		for _, e := range storedEvents(t, b.JS) {
			if out[e.Subject] == nil {
				out[e.Subject] = map[string]int{}
			}
			out[e.Subject][e.Type]++
		}
		return out
	}
	var got map[string]map[string]int
	natstest.WaitFor(t, 60*time.Second, "every command's facts as domain events", func() bool {
		got = bySubject()
		for _, tt := range tests {
			for _, d := range tt.want {
				if got[subjects[tt.command]][d.Type()] == 0 {
					return false
				}
			}
		}
		return true
	})
	for _, tt := range tests {
		for _, d := range tt.want {
			if n := got[subjects[tt.command]][d.Type()]; n != 1 {
				t.Errorf("%s: %d %s events, want 1", tt.command, n, d.Name)
			}
		}
	}
}

// TestDLQReplayOfACommandNeverAppliesIt: a command id reused for other content
// is dead-lettered; `dlq replay` puts it back on the command stream, where it is
// refused again; the other content is never applied and the id keeps its one outcome.
func TestDLQReplayOfACommandNeverAppliesIt(t *testing.T) {
	rig := newCommandRig(t, 6)
	sb, co := rig.sb, rig.co
	inv := rig.invoice(t, "R1", "10.00")
	s := startService(t, rig.env(map[string]string{"POLL_ENABLED": "false"}))
	env := envFunc(map[string]string{"NATS_URL": s.natsURL})
	cli := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := run(context.Background(), append([]string{"maventa-events"}, args...), env, &out, &errb)
		return out.String() + errb.String(), err
	}
	if out, err := cli("command", "send", "-type", "assignment.comment", "-company", co.ID, "-subject", inv.AssignmentID,
		"-id", "reuse-1", "-data", `{"text":"first"}`); err != nil || !strings.Contains(out, "outcome: succeeded") {
		t.Fatalf("send: %v\n%s", err, out)
	}
	b, err := natsstore.OpenBroker(context.Background(), natsstore.BrokerConfig{URL: s.natsURL}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	other, _ := events.Command{ID: "reuse-1", Source: "erp://test", Type: events.CommandComment.Type(), Subject: inv.AssignmentID,
		CompanyID: co.ID, Data: json.RawMessage(`{"text":"other content"}`)}.Marshal()
	if _, err := b.JS.Publish(context.Background(), events.CommandComment.Subject(co.ID), other, jetstream.WithMsgID("another-msg-id")); err != nil {
		t.Fatal(err)
	}
	var out string
	natstest.WaitFor(t, 20*time.Second, "the dead letter", func() bool {
		out, _ = cli("dlq", "list", "-reason", "command_id_reused")
		return strings.Contains(out, "command_id_reused")
	})
	if out, err := cli("dlq", "replay", "-reason", "command_id_reused"); err != nil || !strings.Contains(out, "replayed 1") {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	natstest.WaitFor(t, 20*time.Second, "the replayed command refused again", func() bool {
		out, _ = cli("dlq", "list", "-reason", "command_id_reused")
		return strings.Contains(out, "command_id_reused")
	})
	sa, _ := sb.Assignment(inv.AssignmentID)
	for _, ev := range sa.Events {
		if ev.Type == "comment" && ev.Data["comment"] == "other content" {
			t.Error("the reused id's other content was applied")
		}
	}
	if n := sb.CompanyEvents(inv.AssignmentID, "comment"); n != 1 {
		t.Errorf("%d comments applied, want 1", n)
	}
}
