package maventa_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/maventa-bridge/maventa-events/maventa"
)

func TestSandboxServiceLevels(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res := e.invoice(t, sbCompany, "S1", "10.00", "Vip Customer Oy", "3333333-3")

	list, err := e.c.ListServiceLevels(ctx, sbCompany)
	if err != nil || len(list) != 0 {
		t.Errorf("initial service levels = %+v, %v", list, err)
	}
	sl, err := e.c.SetServiceLevel(ctx, sbCompany, "3333333-3", "vip")
	if err != nil || sl.CustomerBID != "3333333-3" || sl.ServiceLevel != "vip" {
		t.Fatalf("set = %+v, %v", sl, err)
	}
	if _, err := e.c.SetServiceLevel(ctx, sbCompany, "4444444-4", "premium"); err != nil {
		t.Fatal(err)
	}
	list, err = e.c.ListServiceLevels(ctx, sbCompany)
	if err != nil || len(list) != 2 || list[0].CustomerBID != "3333333-3" || list[0].ServiceLevel != "vip" ||
		list[1].CustomerBID != "4444444-4" || list[1].ServiceLevel != "premium" {
		t.Errorf("service levels = %+v, %v", list, err)
	}
	if got, err := e.c.GetServiceLevel(ctx, sbCompany, "3333333-3"); err != nil || got.ServiceLevel != "vip" {
		t.Errorf("get vip = %+v, %v", got, err)
	}
	if got, err := e.c.GetServiceLevel(ctx, sbCompany, "9999999-9"); err != nil || got.ServiceLevel != "default" || got.CustomerBID != "9999999-9" {
		t.Errorf("get default = %+v, %v", got, err)
	}
	// Visma Amili logs service_level_changed on the customer's open assignment.
	a, err := e.c.GetAssignment(ctx, sbCompany, res.AssignmentID)
	if err != nil {
		t.Fatal(err)
	}
	if a.ServiceLevel != "vip" || len(eventsOf(a, maventa.EventServiceLevelChanged)) != 1 {
		t.Errorf("assignment service level %q, events %+v", a.ServiceLevel, a.Events)
	}
	// Back to default: no longer listed. Another company sees none of it.
	if sl, err := e.c.SetServiceLevel(ctx, sbCompany, "4444444-4", "default"); err != nil || sl.ServiceLevel != "default" {
		t.Errorf("set default = %+v, %v", sl, err)
	}
	if list, err := e.c.ListServiceLevels(ctx, sbCompany); err != nil || len(list) != 1 {
		t.Errorf("after default: %+v, %v", list, err)
	}
	if list, err := e.c.ListServiceLevels(ctx, sbOther); err != nil || len(list) != 0 {
		t.Errorf("other company: %+v, %v", list, err)
	}
	_, err = e.c.SetServiceLevel(ctx, sbCompany, "3333333-3", "gold")
	var ae *maventa.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusUnprocessableEntity {
		t.Errorf("invalid level: %v", err)
	}
}

func TestSandboxMessaging(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a1 := e.invoice(t, sbCompany, "M1", "10.00", "Debtor Oy", "1111111-1").AssignmentID
	a2 := e.invoice(t, sbCompany, "M2", "10.00", "Debtor Oy", "1111111-1").AssignmentID

	// A company message about an assignment creates its thread.
	m1, err := e.c.AddAssignmentMessage(ctx, sbCompany, a1, maventa.NewMessage{Message: "Asiakas riitauttaa laskun"})
	if err != nil || m1.ID == "" || m1.Message != "Asiakas riitauttaa laskun" || m1.CreatedAt == nil {
		t.Fatalf("assignment message = %+v, %v", m1, err)
	}
	if _, err := e.sb.AddAgencyMessage(a2, "Please confirm the debtor's address"); err != nil {
		t.Fatal(err)
	}

	// Two threads, one per page.
	pg, err := e.c.ListMessageThreads(ctx, sbCompany, maventa.PageOptions{PerPage: 1})
	if err != nil || len(pg.Items) != 1 || pg.Total != 2 || pg.NextPage != 2 || pg.Items[0].AssignmentID != a2 {
		t.Fatalf("threads page = %+v, %v", pg, err)
	}
	e.rt.reset()
	var threads []maventa.MessageThread
	for th, err := range e.c.MessageThreads(ctx, sbCompany, 1) {
		if err != nil {
			t.Fatal(err)
		}
		threads = append(threads, th)
	}
	if len(threads) != 2 || e.rt.count("GET /v1/message_threads") != 2 {
		t.Fatalf("threads = %+v in %d requests", threads, e.rt.count("GET /v1/message_threads"))
	}
	i := slices.IndexFunc(threads, func(th maventa.MessageThread) bool { return th.AssignmentID == a1 })
	if i < 0 {
		t.Fatalf("no thread for %s in %+v", a1, threads)
	}
	thread := threads[i]
	var latest maventa.Message
	if err := json.Unmarshal(thread.Extra["latest_message"], &latest); err != nil || latest.ID != m1.ID {
		t.Errorf("latest message = %s (%v)", thread.Extra["latest_message"], err)
	}

	got, err := e.c.GetMessageThread(ctx, sbCompany, thread.ID)
	if err != nil || got.ID != thread.ID || got.AssignmentID != a1 || got.Flagged {
		t.Errorf("thread = %+v, %v", got, err)
	}
	if th, err := e.c.FlagMessageThread(ctx, sbCompany, thread.ID, true); err != nil || !th.Flagged {
		t.Errorf("flag = %+v, %v", th, err)
	}
	if th, err := e.c.GetMessageThread(ctx, sbCompany, thread.ID); err != nil || !th.Flagged {
		t.Errorf("flag not kept: %+v, %v", th, err)
	}
	if th, err := e.c.FlagMessageThread(ctx, sbCompany, thread.ID, false); err != nil || th.Flagged {
		t.Errorf("unflag = %+v, %v", th, err)
	}

	m2, err := e.c.AddThreadMessage(ctx, sbCompany, thread.ID, maventa.NewMessage{Message: "Liitteenä hyvityslasku"})
	if err != nil || m2.ID == "" || m2.Message != "Liitteenä hyvityslasku" {
		t.Fatalf("thread message = %+v, %v", m2, err)
	}
	agency, err := e.sb.AddAgencyMessage(a1, "Kiitos, suljemme toimeksiannon")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := e.c.ListThreadMessages(ctx, sbCompany, thread.ID)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, m := range msgs {
		texts = append(texts, m.Message)
	}
	if want := []string{"Kiitos, suljemme toimeksiannon", "Liitteenä hyvityslasku", "Asiakas riitauttaa laskun"}; !slices.Equal(texts, want) {
		t.Errorf("thread messages = %q, want newest first %q", texts, want)
	}
	amsgs, err := e.c.ListAssignmentMessages(ctx, sbCompany, a1)
	if err != nil || len(amsgs) != 3 || amsgs[0].ID != agency.ID {
		t.Errorf("assignment messages = %+v, %v", amsgs, err)
	}
	if other, err := e.c.ListAssignmentMessages(ctx, sbCompany, a2); err != nil || len(other) != 1 {
		t.Errorf("a2 messages = %+v, %v", other, err)
	}

	// The agency's message is marked seen.
	if string(amsgs[0].Extra["seen_at"]) != "null" {
		t.Errorf("unseen message seen_at = %s", amsgs[0].Extra["seen_at"])
	}
	if err := e.c.MarkMessageSeen(ctx, sbCompany, agency.ID); err != nil {
		t.Fatal(err)
	}
	amsgs, err = e.c.ListAssignmentMessages(ctx, sbCompany, a1)
	if err != nil || len(amsgs) == 0 || string(amsgs[0].Extra["seen_at"]) == "null" {
		t.Errorf("seen message = %+v, %v", amsgs, err)
	}
	// Another company can read none of it.
	if _, err := e.c.GetMessageThread(ctx, sbOther, thread.ID); !maventa.IsAuth(err) {
		t.Errorf("other company's thread: %v", err)
	}
	if err := e.c.MarkMessageSeen(ctx, sbCompany, "00000000-0000-0000-0000-000000000000"); !maventa.IsNotFound(err) {
		t.Errorf("seen of a missing message: %v", err)
	}
}
