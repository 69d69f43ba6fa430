package main

import (
	"context"
	"maps"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

// commandRig is what every service-level command test starts from: a sandbox
// Maventa with one company whose credentials the service is given.
type commandRig struct {
	sb  *sandbox.Sandbox
	srv *sandbox.Server
	co  sandbox.Company
}

func newCommandRig(t *testing.T, seed uint64) *commandRig {
	t.Helper()
	sb := sandbox.New(sandbox.Config{Seed: seed, TimeScale: 3600, Logger: quietLog()})
	co := sandbox.Company{ID: "6f1c2a77-6c1f-4a55-9b36-3f5f1e2d9a11", APIKey: "api-key-1", VendorAPIKey: "vendor-key", Name: "Luotto Oy", BID: "1234567-1"}
	sb.AddCompany(co)
	srv, err := sandbox.Start(sb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return &commandRig{sb: sb, srv: srv, co: co}
}

// env is the service's environment against the sandbox, commands on, with
// extra set on top.
func (r *commandRig) env(extra map[string]string) map[string]string {
	env := map[string]string{
		"MAVENTA_AX_URL": r.srv.AXURL, "MAVENTA_RECEIVABLES_URL": r.srv.ReceivablesURL, "MAVENTA_VENDOR_API_KEY": "vendor-key",
		"MAVENTA_COMPANY_CREDENTIALS": r.co.ID + "=" + r.co.APIKey, "MAVENTA_REQUESTS_PER_SECOND": "1000", "COMMANDS_ENABLED": "true",
		"LOG_LEVEL": "warn",
	}
	maps.Copy(env, extra)
	return env
}

// invoice sends an invoice of sum that opens an assignment, and returns it.
func (r *commandRig) invoice(t *testing.T, number, sum string) sandbox.InvoiceResult {
	t.Helper()
	inv, err := r.sb.SendInvoice(r.co.ID, sandbox.InvoiceSpec{Number: number, Sum: sandbox.Amt(sum), RecipientName: "Asiakas Oy",
		RecipientBID: "3456789-0", Street: "Katu 1", PostalCode: "00100", City: "Helsinki"})
	if err != nil || inv.AssignmentID == "" {
		t.Fatalf("invoice %s: %+v %v", number, inv, err)
	}
	return inv
}

// storedEvents returns every domain event stored so far (none while the
// stream cannot be read).
func storedEvents(t *testing.T, js jetstream.JetStream) []events.Event {
	t.Helper()
	ctx := context.Background()
	st, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		return nil
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil
	}
	var out []events.Event
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		e, err := events.Decode(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}
