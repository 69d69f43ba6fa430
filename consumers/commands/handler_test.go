package commands

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

// fixture is a handler on in-memory fakes (store, emitter) and the sandbox as
// Maventa, with no NATS: the application on its own.
type fixture struct {
	store   *memStore
	emitter *memEmitter
	sb      *sandbox.Sandbox
	wc      *writeCounter
	h       *Handler
	// other is a second replica on the same store, emitter and Maventa.
	other      *Handler
	assignment string
}

// comment is the body of a comment command with id on the fixture's assignment.
func (f *fixture) comment(t *testing.T, id, text string) []byte {
	t.Helper()
	return commentBody(t, id, f.assignment, text)
}

// commentBody is the body of a comment command with id on assignment.
func commentBody(t *testing.T, id, assignment, text string) []byte {
	t.Helper()
	b, err := events.Command{ID: id, Source: "erp://test", Type: events.CommandComment.Type(), Subject: assignment,
		CompanyID: fakeCompany, Data: json.RawMessage(`{"text":"` + text + `"}`)}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHandleOnFakes runs comment commands through Handler.Handle on the
// in-memory store and emitter: every command is written to Maventa at most
// once and announced once, whatever is redelivered, raced or lost.
func TestHandleOnFakes(t *testing.T) {
	type step struct {
		text string // the comment; another text under the same id is another command
		want string // "" (done), "retry" or the dead-letter reason
	}
	succeeded := []string{events.TypeCommandSucceeded.Type()}
	tests := []struct {
		name         string
		prepare      func(t *testing.T, f *fixture)
		steps        []step
		wantWrites   int
		wantTypes    []string
		wantReadBack bool
	}{
		{
			name:       "a redelivered command is applied and announced once",
			steps:      []step{{"hello", ""}, {"hello", ""}},
			wantWrites: 1, wantTypes: succeeded,
		},
		{
			name:       "an id reused for other content is dead-lettered, not applied",
			steps:      []step{{"hello", ""}, {"goodbye", "command_id_reused"}},
			wantWrites: 1, wantTypes: succeeded,
		},
		{
			name: "of two replicas racing on one command, the one that loses the revision sends nothing",
			prepare: func(t *testing.T, f *fixture) {
				raced := false
				f.store.beforePut = func(r Record, _ uint64) {
					if r.State != StateApplying || r.Holder != "a" || raced {
						return
					}
					raced = true
					// Replica b takes the same command from "received" to
					// done while a is about to claim it.
					if err := f.other.Handle(t.Context(), events.CommandComment.Subject(fakeCompany), f.comment(t, "cmd-1", "hello")); err != nil {
						t.Errorf("replica b: %v", err)
					}
				}
			},
			steps:      []step{{"hello", ""}},
			wantWrites: 1, wantTypes: succeeded,
		},
		{
			name: "a lost record write after Maventa answered is retried by reading back, never resent",
			prepare: func(t *testing.T, f *fixture) {
				lost := false
				f.store.failPut = func(r Record) bool {
					if r.State == StateDone && !lost {
						lost = true
						return true
					}
					return false
				}
			},
			steps:      []step{{"hello", "retry"}, {"hello", ""}},
			wantWrites: 1, wantTypes: succeeded, wantReadBack: true,
		},
		{
			name: "an answer lost after Maventa applied the write is read back, never resent",
			prepare: func(t *testing.T, f *fixture) {
				f.sb.SetFault(sandbox.Fault{Method: "POST", Path: "/v1/assignments/*/events", Status: 504, AfterApply: true, Count: 1})
			},
			steps:      []step{{"hello", ""}},
			wantWrites: 1, wantTypes: succeeded, wantReadBack: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb, api, wc, assignment := sandboxAPI(t)
			f := &fixture{store: newMemStore(), emitter: &memEmitter{}, sb: sb, wc: wc, assignment: assignment}
			f.h = NewHandler(Config{Holder: "a"}, f.store, f.emitter, api, nil)
			f.other = NewHandler(Config{Holder: "b"}, f.store, f.emitter, api, nil)
			if tt.prepare != nil {
				tt.prepare(t, f)
			}
			ctx := context.Background()
			for i, s := range tt.steps {
				err := f.h.Handle(ctx, events.CommandComment.Subject(fakeCompany), f.comment(t, "cmd-1", s.text))
				if got := errKind(err); got != s.want {
					t.Errorf("step %d: Handle = %v (%q), want %q", i, err, got, s.want)
				}
			}
			if n := wc.count(); n != tt.wantWrites {
				t.Errorf("%d writes at Maventa, want %d", n, tt.wantWrites)
			}
			if got := f.emitter.types(); !slices.Equal(got, tt.wantTypes) {
				t.Fatalf("events %v, want %v", got, tt.wantTypes)
			}
			var d events.CommandSucceeded
			if err := json.Unmarshal(f.emitter.evs[0].Data, &d); err != nil {
				t.Fatal(err)
			}
			if d.ReadBack != tt.wantReadBack || d.MaventaEventID == "" {
				t.Errorf("outcome %+v, want read_back %t and Maventa's event id", d, tt.wantReadBack)
			}
			rec, _, err := f.store.Get(ctx, "cmd-1")
			if err != nil || rec.State != StateDone || len(rec.Published) != 1 {
				t.Errorf("record %+v (%v): want done with its outcome published", rec, err)
			}
		})
	}
}

// errKind names what the runner does with Handle's error: "" acknowledge,
// "retry", or the dead-letter reason.
func errKind(err error) string {
	var re *RetryError
	var pe *PermanentError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &re):
		return "retry"
	case errors.As(err, &pe):
		return pe.Reason
	}
	return "unexpected: " + err.Error()
}
