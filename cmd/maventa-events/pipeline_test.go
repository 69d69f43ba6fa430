package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/consumers/natstest"
	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

// TestSandboxInvoicesBecomeDomainEventsOnceEach is the product end to end: the
// sandbox sends invoices and posts Maventa's webhooks to the real service, which
// stores them, processes them against the sandbox's Receivables API and
// publishes domain events, each exactly once.
func TestSandboxInvoicesBecomeDomainEventsOnceEach(t *testing.T) {
	ctx := context.Background()
	// TimeScale 3600: a webhook that fails is retried a second later, not an hour.
	sb := sandbox.New(sandbox.Config{Seed: 7, TimeScale: 3600})
	withCreds := sandbox.Company{ID: "6f1c2a77-6c1f-4a55-9b36-3f5f1e2d9a11", APIKey: "api-key-1", VendorAPIKey: "vendor-key", Name: "Luotto Oy", BID: "1234567-8"}
	noCreds := sandbox.Company{ID: "7a2d3b88-7d2f-4b66-8c47-4f6f2e3e0b22", APIKey: "api-key-2", VendorAPIKey: "vendor-key", Name: "Ilman Oy", BID: "2345678-9"}
	sb.AddCompany(withCreds)
	sb.AddCompany(noCreds)
	srv, err := sandbox.Start(sb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)

	s := startService(t, map[string]string{
		"MAVENTA_AX_URL": srv.AXURL, "MAVENTA_RECEIVABLES_URL": srv.ReceivablesURL,
		"MAVENTA_VENDOR_API_KEY": "vendor-key", "MAVENTA_COMPANY_CREDENTIALS": withCreds.ID + "=api-key-1",
		"MAVENTA_REQUESTS_PER_SECOND": "1000", "CONSUMER_RETRY_INITIAL": "10ms", "CONSUMER_RETRY_MAX": "50ms",
		"LOG_LEVEL": "info",
	})
	// One VENDOR_WEBHOOK covers every company linked to the vendor key.
	if _, err := sb.RegisterWebhook(withCreds.ID, "VENDOR_WEBHOOK", s.url+"/webhooks/maventa?secret="+testSecret,
		[]string{"DOCUMENTS.*.*", "NETWORKS.*", "COMPANIES.AUTHORIZATION.*"}, ""); err != nil {
		t.Fatal(err)
	}
	// Maventa answers the first assignment lookup with 503: retried, still one event each.
	sb.SetFault(sandbox.Fault{Listener: "receivables", Method: "GET", Path: "/v1/assignments", Status: 503, Count: 1})
	invoice := func(n, postal string) sandbox.InvoiceSpec {
		return sandbox.InvoiceSpec{Number: n, Sum: sandbox.Amt("123.40"), RecipientName: "Asiakas Oy", RecipientBID: "3456789-0",
			Street: "Katu 1", PostalCode: postal, City: "Helsinki"}
	}
	delivered, err := sb.SendInvoice(withCreds.ID, invoice("1001", "00100"))
	if err != nil || delivered.Status != "SENT" || delivered.AssignmentID == "" {
		t.Fatalf("send: %+v %v", delivered, err)
	}
	failed, err := sb.SendInvoice(withCreds.ID, invoice("1002", "")) // no postal code: RECEIVABLES-SERVICE #5
	if err != nil || failed.Status != "FAILED" {
		t.Fatalf("send: %+v %v", failed, err)
	}
	uncredentialed, err := sb.SendInvoice(noCreds.ID, invoice("2001", "00100"))
	if err != nil || uncredentialed.Status != "SENT" {
		t.Fatalf("send: %+v %v", uncredentialed, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := sb.WaitWebhooks(wctx); err != nil {
		t.Fatalf("webhooks not delivered: %v", err)
	}
	// Maventa's retry of a delivered webhook carries the same body.
	for _, a := range sb.WebhookAttempts() {
		if a.Success && strings.Contains(a.Body, delivered.InvoiceID) {
			if code, body := s.post(t, a.Body); code != 200 {
				t.Fatalf("retry: %d %s", code, body)
			}
			break
		}
	}

	want := map[string]int{
		events.TypeInvoiceDelivered.Type():      2, // both companies
		events.TypeInvoiceDeliveryFailed.Type(): 1,
		events.TypeAssignmentOpened.Type():      1, // only the company with credentials is enriched
		mustType(t, "delivery_status").Type():   1,
	}
	got, all := waitForEvents(t, s, sum(want))
	if f := sb.Faults(); len(f) != 0 {
		t.Errorf("the 503 fault was never used up: %+v", f)
	}
	for typ, n := range want {
		if got[typ] != n {
			t.Errorf("%s: %d, want %d", typ, got[typ], n)
		}
	}
	if len(all) != sum(want) {
		t.Errorf("%d events, want %d: %v", len(all), sum(want), got)
	}
	for _, e := range all {
		switch e.Type {
		case events.TypeAssignmentOpened.Type():
			if e.Subject != delivered.AssignmentID || e.CompanyID != withCreds.ID {
				t.Errorf("assignment opened for %s/%s", e.CompanyID, e.Subject)
			}
		case events.TypeInvoiceDeliveryFailed.Type():
			d, err := e.DecodeData()
			if err != nil {
				t.Fatal(err)
			}
			if df, ok := d.(*events.InvoiceDeliveryFailed); !ok || df.Reason != events.ReasonMissingAddress {
				t.Errorf("delivery failed data %+v, want reason %s", d, events.ReasonMissingAddress)
			}
		}
	}
}

func mustType(t *testing.T, maventaType string) events.TypeDef {
	t.Helper()
	d, ok := events.TypeForAssignmentEvent(maventaType)
	if !ok {
		t.Fatalf("no catalog type for %s", maventaType)
	}
	return d
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// waitForEvents waits until the webhook consumer has nothing left to do and the
// domain stream holds at least n events, then returns them.
func waitForEvents(t *testing.T, s *service, n int) (map[string]int, []events.Event) {
	t.Helper()
	b, err := natsstore.OpenBroker(context.Background(), natsstore.BrokerConfig{URL: s.natsURL}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	natstest.WaitFor(t, 60*time.Second, "the domain events arrive and the consumer is idle", func() bool {
		st, err := b.JS.Stream(ctx, events.StreamName)
		c, cerr := b.JS.Consumer(ctx, "MAVENTA_WEBHOOKS", "maventa-events-webhooks")
		if err != nil || cerr != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && st.CachedInfo().State.Msgs >= uint64(n)
	})
	st, _ := b.JS.Stream(ctx, events.StreamName)
	state := st.CachedInfo().State
	counts := map[string]int{}
	var all []events.Event
	for seq := state.FirstSeq; seq <= state.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		e, err := events.Decode(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		counts[e.Type]++
		all = append(all, e)
	}
	return counts, all
}

func TestTailShowsDomainEventsFiltered(t *testing.T) {
	s := startService(t, nil)
	if code, _ := s.post(t, sampleWebhook); code != 200 {
		t.Fatal("post failed")
	}
	waitForEvents(t, s, 1)
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"readable", []string{"-all", "-n", "1"}, "invoice.delivered"},
		{"json", []string{"-all", "-n", "1", "-json"}, `"type":"com.maventa-bridge.receivables.invoice.delivered.v1"`},
		{"by company and type", []string{"-all", "-n", "1", "-company", "53a4e05d-42f0-4e76-acd6-968ab4558c6f", "-type", "invoice.delivered"}, "invoice_number"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out syncBuffer
			args := append([]string{"maventa-events", "tail", "-nats-url", s.natsURL}, tt.args...)
			if err := run(context.Background(), args, envFunc(nil), &out, io.Discard); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Fatalf("output lacks %q:\n%s", tt.want, out.String())
			}
		})
	}
	if _, err := tailFilter("", "assignment.*"); err == nil {
		t.Error("a wildcard in -type was accepted")
	}
}
