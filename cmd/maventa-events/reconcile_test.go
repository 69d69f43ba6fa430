package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/consumers/natstest"
	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

var scenarioCompanies = []sandbox.Company{
	{ID: "11111111-6c1f-4a55-9b36-3f5f1e2d9a11", APIKey: "key-1", VendorAPIKey: "vendor-key", Name: "Yksi Oy"},
	{ID: "22222222-7d2f-4b66-8c47-4f6f2e3e0b22", APIKey: "key-2", VendorAPIKey: "vendor-key", Name: "Kaksi Oy"},
	{ID: "33333333-8e3a-4c77-9d58-5a7a3f4f1c33", APIKey: "key-3", VendorAPIKey: "vendor-key", Name: "Kolme Oy"},
}

// TestEveryEventArrivesOnceEvenWhenWebhooksAreLostAndMaventaFails is the
// reconciliation promise: with the sandbox dropping 20% of webhooks, failing 20%
// of Receivables API calls and rate-limiting the event list, the service emits
// exactly the events that Maventa's final state implies, each once, as it does
// with no faults at all.
func TestEveryEventArrivesOnceEvenWhenWebhooksAreLostAndMaventaFails(t *testing.T) {
	for _, faulty := range []bool{false, true} {
		t.Run(map[bool]string{false: "no faults", true: "20% webhooks dropped, 503s and 429s"}[faulty], func(t *testing.T) {
			ctx := context.Background()
			sb := sandbox.New(sandbox.Config{Seed: 5, TimeScale: 3600})
			var creds []string
			for _, c := range scenarioCompanies {
				sb.AddCompany(c)
				creds = append(creds, c.ID+"="+c.APIKey)
			}
			srv, err := sandbox.Start(sb)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Close)
			s := startService(t, map[string]string{
				"MAVENTA_AX_URL": srv.AXURL, "MAVENTA_RECEIVABLES_URL": srv.ReceivablesURL, "MAVENTA_VENDOR_API_KEY": "vendor-key",
				"MAVENTA_COMPANY_CREDENTIALS": strings.Join(creds, ","), "MAVENTA_REQUESTS_PER_SECOND": "1000",
				"CONSUMER_RETRY_INITIAL": "10ms", "CONSUMER_RETRY_MAX": "100ms", "CONSUMER_MAX_DELIVER": "100",
				"POLL_INTERVAL": "100ms", "POLL_ERROR_BACKOFF_MAX": "300ms", "LOG_LEVEL": "warn",
			})
			if _, err := sb.RegisterWebhook(scenarioCompanies[0].ID, "VENDOR_WEBHOOK", s.url+"/webhooks/maventa?secret="+testSecret,
				[]string{"DOCUMENTS.*.*"}, ""); err != nil {
				t.Fatal(err)
			}
			if faulty {
				sb.SetFault(sandbox.Fault{WebhookDropRate: 0.2})
				sb.SetFault(sandbox.Fault{Listener: "receivables", ErrorRate: 0.2, Status: 503})
				sb.SetFault(sandbox.Fault{Listener: "receivables", Method: "GET", Path: "/v1/events", Status: 429, RetryAfter: 1, Count: 3})
			}
			var ids []string
			for _, c := range scenarioCompanies {
				ids = append(ids, c.ID)
			}
			sum, err := sb.RunScenario(ctx, sandbox.ScenarioConfig{CompanyIDs: ids, InvoicesPerCompany: 6})
			if err != nil {
				t.Fatal(err)
			}
			wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			if err := sb.WaitWebhooks(wctx); err != nil {
				t.Fatal(err)
			}
			dropped := 0
			if faulty {
				dropped = countDropped(sb)
				if dropped == 0 {
					t.Fatal("the drop fault dropped nothing: the test would prove nothing")
				}
				sb.ClearFaults() // the oracle below reads Maventa's state without faults
			}
			want := expectedEvents(t, srv, scenarioCompanies)
			got := waitForIDs(t, s, want)
			var missing, extra []string
			for id, typ := range want {
				if got[id] == 0 {
					missing = append(missing, typ)
				}
			}
			for id, n := range got {
				if n > 1 {
					t.Errorf("event %s stored %d times", id, n)
				}
				if _, ok := want[id]; !ok {
					extra = append(extra, id)
				}
			}
			sort.Strings(missing)
			if len(missing) > 0 || len(extra) > 0 {
				t.Fatalf("%d events expected; missing %v; unexpected %v", len(want), missing, extra)
			}
			t.Logf("%d invoices, %d assignments, %d events expected and stored once each; webhooks dropped: %d",
				sum.Invoices, sum.Assignments, len(want), dropped)
		})
	}
}

func countDropped(sb *sandbox.Sandbox) int {
	n := 0
	for _, d := range sb.WebhookDeliveries() {
		if d.State == sandbox.DeliveryDropped {
			n++
		}
	}
	return n
}

// expectedEvents derives from Maventa's final state the id of every domain event
// the service must emit: each sent invoice's delivery status, each assignment's
// whole history, each message.
func expectedEvents(t *testing.T, srv *sandbox.Server, companies []sandbox.Company) map[string]string {
	t.Helper()
	ctx := context.Background()
	creds := map[string]string{}
	for _, c := range companies {
		creds[c.ID] = c.APIKey
	}
	client, err := maventa.New(maventa.Config{AXBaseURL: srv.AXURL, ReceivablesBaseURL: srv.ReceivablesURL,
		VendorAPIKey: maventa.NewSecret("vendor-key"), RequestsPerSecond: -1}, maventa.StaticCredentials(creds), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, c := range companies {
		for inv, err := range client.Invoices(ctx, c.ID, maventa.InvoiceQuery{UpdatedAfter: time.Now().Add(-time.Hour)}, 100) {
			if err != nil {
				t.Fatal(err)
			}
			def, status := events.TypeInvoiceDelivered, "DELIVERED"
			if inv.Status == "FAILED" {
				def, status = events.TypeInvoiceDeliveryFailed, "FAILED"
			}
			var updated time.Time
			if err := json.Unmarshal(inv.Extra["updated_at"], &updated); err != nil {
				t.Fatalf("invoice %s updated_at: %v", inv.ID, err)
			}
			want[events.InvoiceNoticeID(def, inv.ID, status, updated)] = def.Name
		}
		for a, err := range client.Assignments(ctx, c.ID, maventa.AssignmentQuery{}, 100) {
			if err != nil {
				t.Fatal(err)
			}
			full, err := client.GetAssignment(ctx, c.ID, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			evs, err := firstLook(c.ID, full)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range evs {
				want[e.ID] = e.Type
			}
		}
		for th, err := range client.MessageThreads(ctx, c.ID, 100) {
			if err != nil {
				t.Fatal(err)
			}
			msgs, err := client.ListThreadMessages(ctx, c.ID, th.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				want[events.IDFor(events.TypeMessageReceived, th.ID, m.ID)] = "message " + m.ID
			}
		}
	}
	return want
}

// waitForIDs waits until every wanted id is stored and the webhook consumer is
// idle, then returns how often each stored id appears.
func waitForIDs(t *testing.T, s *service, want map[string]string) map[string]int {
	t.Helper()
	b, err := natsstore.OpenBroker(context.Background(), natsstore.BrokerConfig{URL: s.natsURL}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	var got map[string]int
	stored := func() int {
		n := 0
		for id := range want {
			if got[id] > 0 {
				n++
			}
		}
		return n
	}
	natstest.WaitFor(t, 90*time.Second, fmt.Sprintf("all %d expected events stored and the consumer idle", len(want)), func() bool {
		got = map[string]int{}
		st, err := b.JS.Stream(ctx, events.StreamName)
		if err != nil {
			return false
		}
		state := st.CachedInfo().State
		for seq := state.FirstSeq; seq <= state.LastSeq && state.Msgs > 0; seq++ {
			m, err := st.GetMsg(ctx, seq)
			if err != nil {
				t.Fatal(err)
			}
			got[m.Header.Get("Nats-Msg-Id")]++
		}
		if stored() < len(want) {
			return false
		}
		c, err := b.JS.Consumer(ctx, "MAVENTA_WEBHOOKS", "maventa-events-webhooks")
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
	return got
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func TestReconcileBackfillCommand(t *testing.T) {
	sb := sandbox.New(sandbox.Config{Seed: 9})
	c := scenarioCompanies[0]
	sb.AddCompany(c)
	srv, err := sandbox.Start(sb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	r, err := sb.SendInvoice(c.ID, sandbox.InvoiceSpec{Number: "7001", Sum: sandbox.Amt("10.00"), RecipientName: "A",
		Street: "Katu 1", PostalCode: "00100", City: "Helsinki"})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"MAVENTA_AX_URL": srv.AXURL, "MAVENTA_RECEIVABLES_URL": srv.ReceivablesURL,
		"MAVENTA_VENDOR_API_KEY": "vendor-key", "MAVENTA_COMPANY_CREDENTIALS": c.ID + "=" + c.APIKey, "POLL_ENABLED": "false"}
	s := startService(t, env) // polling off: only the backfill can find the invoice
	args := []string{"maventa-events", "reconcile", "-nats-url", s.natsURL, "-company", c.ID, "-since", "1h"}
	var out syncBuffer
	if err := run(context.Background(), args, envFunc(env), &out, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "new domain events") {
		t.Fatalf("output: %s", out.String())
	}
	// Again while the service runs: nothing twice.
	var again syncBuffer
	if err := run(context.Background(), args, envFunc(env), &again, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(again.String(), " 0 new domain events") {
		t.Fatalf("second backfill emitted again: %s", again.String())
	}
	got := waitForIDs(t, s, map[string]string{events.IDFor(events.TypeAssignmentOpened, r.AssignmentID): "opened"})
	for id, n := range got {
		if n != 1 {
			t.Errorf("%s stored %d times", id, n)
		}
	}
	for _, bad := range [][]string{
		{"maventa-events", "reconcile", "-since", "1h"},
		{"maventa-events", "reconcile", "-all", "-since", "30d"},
		{"maventa-events", "reconcile", "-all", "-since", "yesterday"},
	} {
		if err := run(context.Background(), bad, envFunc(env), io.Discard, io.Discard); err == nil {
			t.Errorf("%v accepted", bad[2:])
		}
	}
}

// firstLook is everything an assignment yields when it is seen for the first
// time: assignment opened, its events and the transitions they cause.
func firstLook(companyID string, a maventa.Assignment) ([]events.Event, error) {
	s, err := a.Snapshot()
	if err != nil {
		return nil, err
	}
	_, evs, err := events.ApplyAssignment(events.AssignmentRecord{}, companyID, events.AssignmentFacts{Snapshot: &s}, events.TraceContext{})
	return evs, err
}
