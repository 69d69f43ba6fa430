package deploy_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/consumers/natsstore/commandstream"
	"github.com/maventa-bridge/maventa-events/events"
)

// TestNATSPermissionsExample starts a nats-server with deploy/nats/permissions.conf
// and checks that an internal service may send commands and read domain events,
// and may not forge events, read the service's records or touch its streams.
func TestNATSPermissionsExample(t *testing.T) {
	opts, err := server.ProcessConfigFile("nats/permissions.conf")
	if err != nil {
		t.Fatal(err)
	}
	opts.Host, opts.Port, opts.StoreDir, opts.NoLog, opts.NoSigs = "127.0.0.1", -1, t.TempDir(), true, true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	ctx := context.Background()
	violations := make(chan error, 16)
	connect := func(user, pass string) (*nats.Conn, jetstream.JetStream) {
		t.Helper()
		nc, err := nats.Connect(ns.ClientURL(), nats.UserInfo(user, pass), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrPermissionViolation) {
				violations <- err
			}
		}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		return nc, js
	}

	// The service provisions its streams and buckets.
	_, svc := connect("maventa-events", "change-me-service")
	quiet := slog.New(slog.DiscardHandler)
	if _, err := natsstore.EnsurePipeline(ctx, svc, natsstore.PipelineConfig{}, quiet); err != nil {
		t.Fatal(err)
	}
	if _, err := commandstream.Ensure(ctx, svc, commandstream.StreamConfig{}, quiet); err != nil {
		t.Fatal(err)
	}
	const company = "53a4e05d-42f0-4e76-acd6-968ab4558c6f"
	eventSubject := events.TypeCommandSucceeded.Subject(company)
	if _, err := svc.Publish(ctx, eventSubject, []byte(`{"from":"service"}`)); err != nil {
		t.Fatal(err)
	}

	_, in := connect("internal-service", "change-me-internal")
	short := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 2*time.Second) }

	t.Run("may publish a command and get the ack", func(t *testing.T) {
		c, cancel := short()
		defer cancel()
		ack, err := in.Publish(c, events.CommandPaid.Subject(company), []byte(`{}`), jetstream.WithMsgID("cmd-1"))
		if err != nil || ack.Stream != events.CommandStreamName {
			t.Fatalf("publish command: %v %+v", err, ack)
		}
	})
	t.Run("may send a command request", func(t *testing.T) {
		nc, _ := connect("internal-service", "change-me-internal")
		svcConn, _ := connect("maventa-events", "change-me-service")
		sub, err := svcConn.Subscribe(commandstream.RequestSubjectRoot+".>", func(m *nats.Msg) { _ = m.Respond([]byte(`{"accepted":true}`)) })
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		if err := svcConn.Flush(); err != nil {
			t.Fatal(err)
		}
		if _, err := nc.Request(commandstream.RequestSubjectRoot+"."+company+".assignment.paid", []byte(`{}`), 2*time.Second); err != nil {
			t.Fatalf("request: %v", err)
		}
	})
	t.Run("may read domain events through a consumer", func(t *testing.T) {
		c, cancel := short()
		defer cancel()
		oc, err := in.OrderedConsumer(c, events.StreamName, jetstream.OrderedConsumerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		m, err := oc.Next(jetstream.FetchMaxWait(2 * time.Second))
		if err != nil || m.Subject() != eventSubject {
			t.Fatalf("read event: %v", err)
		}
	})
	denied := []struct {
		name string
		try  func(context.Context) error
	}{
		{"may not forge a domain event or an outcome", func(c context.Context) error {
			_, err := in.Publish(c, eventSubject, []byte(`{"forged":true}`))
			return err
		}},
		{"may not publish into the webhook stream", func(c context.Context) error {
			_, err := in.Publish(c, natsstore.WebhookSubjectRoot+"."+company+".DOCUMENTS.INVOICE.DELIVERED", []byte(`{}`))
			return err
		}},
		{"may not read the command records", func(c context.Context) error {
			_, err := in.KeyValue(c, "RECEIVABLES_COMMAND_RECORDS")
			return err
		}},
		{"may not delete the command stream", func(c context.Context) error { return in.DeleteStream(c, events.CommandStreamName) }},
		{"may not purge the event stream", func(c context.Context) error {
			st, err := in.Stream(c, events.StreamName)
			if err != nil {
				return err
			}
			return st.Purge(c)
		}},
		{"may not create a stream", func(c context.Context) error {
			_, err := in.CreateStream(c, jetstream.StreamConfig{Name: "SHADOW", Subjects: []string{"receivables.commands.>"}})
			return err
		}},
	}
	for _, d := range denied {
		t.Run(d.name, func(t *testing.T) {
			c, cancel := short()
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- d.try(c) }()
			// The server answers a denied publish with a permission violation
			// (asynchronously); the call itself then only times out.
			select {
			case <-violations:
			case err := <-done:
				if err == nil {
					t.Error("allowed")
				}
			}
		})
	}
	// Nothing forged reached the event stream.
	st, err := svc.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := st.Info(ctx); err != nil || info.State.Msgs != 1 {
		t.Errorf("event stream holds %d messages, want only the service's 1 (%v)", info.State.Msgs, err)
	}
}
