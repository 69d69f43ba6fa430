package natsstore

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
)

// invoiceWebhook is a DOCUMENTS.INVOICE.DELIVERED webhook of company for its
// own invoice.
func invoiceWebhook(invoice string) []byte {
	return []byte(`{"event":"DOCUMENTS.INVOICE.DELIVERED","company_id":"` + company + `","event_timestamp":"2020-04-15T08:47:08+03:00","event_data":{"invoice_id":"` + invoice + `","invoice_number":"1003","destination":"PEPPOL","recipient_name":"Recipient","recipient_bid":"933646920"}}`)
}

// postGroup stores bodies as one group message, built as Store builds it.
func (p *pipeline) postGroup(bodies ...[]byte) {
	p.t.Helper()
	g := &groupCommit{js: p.b.JS, stream: p.sc.withDefaults().WebhookStream, maxInFlight: 1}
	var batch []*queuedWebhook
	for _, body := range bodies {
		msg := &nats.Msg{Subject: WebhookSubject(company, "DOCUMENTS.INVOICE.DELIVERED"), Data: body,
			Header: headerWith(http.Header{"User-Agent": {"Maventa"}}, HeaderEvent, "DOCUMENTS.INVOICE.DELIVERED", HeaderCompanyID, company)}
		sanitizeHeader(msg.Header)
		batch = append(batch, &queuedWebhook{msg: msg, id: BodyID(body), size: groupEntrySize(msg.Header, body), done: make(chan storeResult, 1)})
	}
	f, err := g.send(batch)
	if err != nil {
		p.t.Fatal(err)
	}
	select {
	case ack := <-f.Ok():
		if ack.Duplicate {
			p.t.Fatal("group deduplicated")
		}
	case err := <-f.Err():
		p.t.Fatal(err)
	}
}

func groupBodies(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = invoiceWebhook("group-invoice-" + strconv.Itoa(i))
	}
	return out
}

// A group's webhooks are each processed like one stored alone; a transient
// failure of one retries the whole group, and the webhooks done in the first
// delivery emit nothing again: with the domain stream's duplicate window
// (100ms) passed before the redelivery (150ms at least), only the
// per-aggregate records can keep each event single.
func TestAGroupRetriedForOneWebhookEmitsEveryEventOnce(t *testing.T) {
	api := &fakeMaventa{service: maventa.ServiceStatus{Status: "DISABLED"},
		errs: []error{&maventa.APIError{Status: 503, Code: "unavailable"}}}
	p := newPipelineWith(t, api, StreamsConfig{}, PipelineConfig{EventDuplicateWindow: 100 * time.Millisecond})
	const n = 5
	p.postGroup(groupBodies(n)...)
	p.consume(ConsumerConfig{RetryInitial: 300 * time.Millisecond, RetryMax: 300 * time.Millisecond}, nil)
	if calls := api.calls.Load(); calls <= n {
		t.Fatalf("%d Maventa calls: the group was not redelivered after the 503", calls)
	}
	counts, evs := p.domainEvents()
	assertCounts(t, counts, map[string]int{typeOf(events.TypeInvoiceDelivered): n})
	ids := map[string]bool{}
	for _, e := range evs {
		ids[e.ID] = true
	}
	if len(ids) != n || len(storedDeadLetters(t, p)) != 0 {
		t.Fatalf("%d distinct events, %d dead letters; want %d and 0", len(ids), len(storedDeadLetters(t, p)), n)
	}
}

// A permanent failure dead-letters that webhook alone, in the single-webhook
// format, while the rest of its group is processed; dlq replay of it stores
// it as a single webhook that is processed again.
func TestAPermanentFailureInAGroupDeadLettersOnlyThatWebhook(t *testing.T) {
	api := &fakeMaventa{service: maventa.ServiceStatus{Status: "DISABLED"},
		errs: []error{&maventa.APIError{Status: 403, Code: "forbidden", Message: "no access"}}}
	p := newPipeline(t, api, StreamsConfig{})
	const n = 4
	bodies := groupBodies(n)
	p.postGroup(bodies...)
	p.consume(ConsumerConfig{}, nil)
	dl := storedDeadLetters(t, p)
	if len(dl) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dl))
	}
	d := dl[0]
	index, err := strconv.Atoi(d.Header.Get(HeaderDLGroupIndex))
	if err != nil || index < 0 || index >= n {
		t.Fatalf("group index %q", d.Header.Get(HeaderDLGroupIndex))
	}
	single := WebhookSubject(company, "DOCUMENTS.INVOICE.DELIVERED")
	if !bytes.Equal(d.Data, bodies[index]) || d.Header.Get(HeaderDLReason) != "forbidden" || d.Header.Get(HeaderDLSubject) != single ||
		d.Header.Get(HeaderCompanyID) != company || d.Header.Get(HeaderOriginalID) != BodyID(bodies[index]) ||
		d.Subject != DeadLetterSubjectRoot+".forbidden."+company || d.Header.Get("User-Agent") != "Maventa" {
		t.Fatalf("dead letter %s %s %v", d.Subject, d.Data, d.Header)
	}
	counts, _ := p.domainEvents()
	assertCounts(t, counts, map[string]int{typeOf(events.TypeInvoiceDelivered): n})

	ctx := context.Background()
	q, err := OpenDeadLetterQueue(ctx, p.b.JS, p.pc, p.sc)
	if err != nil {
		t.Fatal(err)
	}
	letter, err := q.Get(ctx, d.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	seq, err := q.Replay(ctx, letter)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := p.b.JS.Stream(ctx, "MAVENTA_WEBHOOKS")
	m, err := st.GetMsg(ctx, seq)
	if err != nil || m.Subject != single || !bytes.Equal(m.Data, bodies[index]) || m.Header.Get(HeaderDLGroupIndex) != "" {
		t.Fatalf("replayed %v: %s %s %v", err, m.Subject, m.Data, m.Header)
	}
	p.consume(ConsumerConfig{}, nil)
	counts, _ = p.domainEvents()
	assertCounts(t, counts, map[string]int{typeOf(events.TypeInvoiceDelivered): n})
	if len(storedDeadLetters(t, p)) != 0 {
		t.Fatal("the replayed webhook was dead-lettered again")
	}
}

// A group message whose body is not a group is kept whole as a dead letter,
// not acknowledged into oblivion.
func TestACorruptGroupIsDeadLetteredWhole(t *testing.T) {
	p := newPipeline(t, &fakeMaventa{service: maventa.ServiceStatus{Status: "DISABLED"}}, StreamsConfig{})
	if _, err := p.b.JS.Publish(context.Background(), WebhookGroupSubject, []byte("not a group")); err != nil {
		t.Fatal(err)
	}
	p.consume(ConsumerConfig{}, nil)
	dl := storedDeadLetters(t, p)
	if len(dl) != 1 || dl[0].Header.Get(HeaderDLReason) != "invalid_group" || string(dl[0].Data) != "not a group" ||
		dl[0].Header.Get(HeaderDLSubject) != WebhookGroupSubject {
		t.Fatalf("dead letters: %v", dl)
	}
}
