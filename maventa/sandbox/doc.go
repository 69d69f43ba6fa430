// Package sandbox is a faithful local fake of Maventa: the AX API (OAuth2 token,
// webhook registrations, receivables service activation, sent invoices), the
// Receivables API (assignments, assignment events, service levels, messaging) and
// Maventa's webhook sender, plus an admin API that plays the parts of Visma Amili,
// Ropo and Maventa's back office. Every test, demo and load run of the service uses
// it instead of the real Maventa. It is written from the public documents (see
// /work/shared), never from our client code, so that it can check the client.
//
// # Go API
//
//	sb := sandbox.New(sandbox.Config{Seed: 1})   // zero values documented on Config
//	defer sb.Close()
//	sb.AddCompany(sandbox.Company{ID: "…uuid…", APIKey: "k", VendorAPIKey: "v", Name: "Acme Oy", BID: "1234567-8"})
//	srv, err := sandbox.Start(sb)                 // three listeners on 127.0.0.1:0
//	defer srv.Close()
//	// srv.AXURL, srv.ReceivablesURL, srv.AdminURL
//
// Handlers can also be mounted directly: sb.AXHandler(), sb.ReceivablesHandler(),
// sb.AdminHandler().
//
// Driving Maventa's side from Go (most also exposed on the admin HTTP API):
//
//	res, err := sb.SendInvoice(companyID, sandbox.InvoiceSpec{...}) // Amili Kassavirta: validates (#5, #13, #6), creates the assignment, fires DOCUMENTS.INVOICE.*
//	err = sb.FailDelivery(invoiceID, "msg")                          // DOCUMENTS.INVOICE.FAILED + delivery_status FAILED
//	id, err := sb.ReceiveInvoice(companyID, number, senderName, senderBID, origin) // DOCUMENTS.INVOICE.RECEIVED
//	ev, err := sb.AddAgencyEvent(assignmentID, "reminder_sent", data, happenedAt) // as Visma Amili (delivery_status: as Maventa); rules applied
//	ev, err := sb.AddCompanyEvent(assignmentID, "paid", data, happenedAt)         // as POST /v1/assignments/{id}/events
//	m, err := sb.AddAgencyMessage(assignmentID, "text")
//	err = sb.SetServiceLevel(companyID, bid, "vip")
//	a, err := sb.Assignment(id); inv, err := sb.Invoice(id)
//	err = sb.RequestService(companyID, "amili", params)  // as PUT /v2/services/amili/receivables: pending
//	err = sb.ActivateService(companyID, "amili")         // active + SERVICES.RECEIVABLES.ACTIVATED (ASSUMED name) with vfsfi
//	err = sb.RejectService(companyID, "ropo", reason)    // rejected + SERVICES.RECEIVABLES.REJECTED (ASSUMED name)
//	err = sb.NetworkEvent(companyID, "PEPPOL", "CREATED", profiles) // NETWORKS.<NET>.<ACTION>
//	err = sb.AuthorizationEvent(companyID, "VERIFIED")              // COMPANIES.AUTHORIZATION.<STATE>
//	n, err := sb.RegisterWebhook(companyID, "WEBHOOK", url, []string{"DOCUMENTS.*.*"}, "")
//	id := sb.SetFault(sandbox.Fault{...}); sb.ClearFault(id); sb.ClearFaults(); sb.Faults()
//	sb.ExpireTokens(); sb.SetTokenLifetime(d); sb.AddOperator(id, secret, companyIDs...) // none: every company
//	sb.WebhookAttempts(); sb.WebhookDeliveries(); sb.WaitWebhooks(ctx) // wait instead of sleeping
//	sum, err := sb.RunScenario(ctx, sandbox.ScenarioConfig{...})       // deterministic for a seed
//	n := sb.CompanyEvents(assignmentID, "paid")   // the company's applied writes, for never-twice checks
//	n = sb.EndFreezes(); err = sb.FailTransfer(invoiceID, msg); n = sb.Transfers(invoiceID)
//	sb.Reset()
//
// Money is Amount (an events.Decimal that is written as a JSON number, as
// Maventa writes it). Event data values are JSON values; amounts in data are
// json.Number (Go callers may pass Amount, events.Decimal or int).
//
// # HTTP surfaces
//
// AX listener: POST /oauth2/token; /v1/company/notifications[/{id}];
// /v1/operator/notifications[/{id}] (operator tokens);
// /v2/services/amili/receivables; /v2/services/ropo/receivables;
// /v1/services/receivables (legacy); GET /v1/invoices[/{id}]; GET /v2/invoices/{id}/assignment;
// POST /v2/invoices/{id}/assignment/ropo|amili (pending on the first read, then sent).
//
// Receivables listener: /v1/assignments, /v1/assignments/overview,
// /v1/assignments/{id}, /v1/assignments/{id}/events,
// /v1/assignments/{id}/events/{event_id}/seen, /v1/events, /v1/service_levels[/{bid}],
// /v1/message_threads[/{id}[/messages]], /v1/assignments/{id}/messages,
// /v1/messages/{id}/seen.
//
// Admin listener (JSON, no auth, loopback only):
//
//	GET    /admin/healthz
//	POST   /admin/companies                               Company -> 201 Company
//	GET    /admin/companies
//	POST   /admin/companies/{id}/invoices                 InvoiceSpec -> InvoiceResult
//	POST   /admin/companies/{id}/received_invoices        {"invoice_number","sender_name","sender_bid","origin"} -> DOCUMENTS.INVOICE.RECEIVED
//	POST   /admin/invoices/{id}/fail                      {"error_message"} -> DOCUMENTS.INVOICE.FAILED + delivery_status FAILED
//	POST   /admin/assignments/{id}/events                 {"type","data","happened_at","party":"agency"|"maventa"|"company"} -> Event
//	GET    /admin/assignments/{id}                        Assignment with events
//	POST   /admin/assignments/{id}/messages               {"message"} agency message
//	POST   /admin/companies/{id}/services/{provider}/activate   provider amili|ropo
//	POST   /admin/companies/{id}/services/{provider}/reject     {"reason"}
//	POST   /admin/companies/{id}/networks                 {"network","action","profiles"}
//	POST   /admin/companies/{id}/authorization            {"state":"VERIFIED"|"UNVERIFIED"|"UNKNOWN"}
//	POST   /admin/faults                                  Fault JSON, "latency" as a Go duration ("250ms") -> {"id"}
//	GET    /admin/faults
//	DELETE /admin/faults                                  clear all
//	DELETE /admin/faults/{id}
//	POST   /admin/tokens/expire                           expire every issued token
//	PUT    /admin/tokens/lifetime                         {"seconds": n}
//	POST   /admin/scenario                                ScenarioConfig -> ScenarioSummary
//	POST   /admin/freezes/end                             end the suspensions whose end_date passed -> {"ended": n}
//	POST   /admin/invoices/{id}/transfer/fail             {"error_message"} the pending transfer ends in error
//	GET    /admin/webhooks/attempts
//	GET    /admin/webhooks/deliveries
//	POST   /admin/webhooks/wait                           blocks until no delivery is pending
//	POST   /admin/reset
//
// # Webhooks
//
// Deliveries follow seed 004: POST of {"event","company_id","event_timestamp",
// "event_data"} (event_timestamp in Europe/Helsinki, "+02:00"), success only on
// 200/201/204 within WebhookTimeout, otherwise retried every RetryInterval for
// RetryFor (1 + 24 attempts by default), the same body bytes each time, then
// dropped. TimeScale divides the three durations. Basic auth userinfo and query
// secrets in the registered URL are used as they are. WEBHOOK registrations get
// the registering company's events; VENDOR_WEBHOOK ones get the events of every
// company with the registrant's vendor key (or the body's vendor_key).
//
// # Assumptions
//
// Everything Maventa has not published is kept in one place and marked ASSUMED:
//   - filter names of GET /v1/assignments, /v1/events, /v1/invoices (filters.go);
//     unknown parameters are ignored, malformed date filters answer 422;
//   - scopes per route beyond receivables:assignments and company:read/write
//     for notifications (token.go); a company token asking for no scope gets all
//     company scopes;
//   - the receivables activation webhook names and payload (webhooks.go, services.go);
//   - what an operator token may do (token.go, "Operator tokens"): it acts for every
//     company the operator operates (AddOperator's list, none: all), on the whole
//     Receivables API (scope operator:receivables:assignments; lists span those
//     companies; service levels need an operator of exactly one company) and on
//     /v1/operator/notifications (scope operator:notifications; its WEBHOOKs hear
//     every operated company); company-only AX routes answer it 403;
//   - data field names of credit_note {credit_note_number, sum},
//     due_date_change_request / due_date_changed {due_date}, comment {comment},
//     service_level_changed {service_level}, delivery_status {status},
//     cash_discount {sum} (rules.go);
//   - every event carries assignment_id; events inside an assignment are newest first;
//   - party ids: the agency's is seed 003's example id, Maventa's is invented;
//   - thread/message shapes (messages.go), the overview shape (receivables.go),
//     the invoice list shape, the v2 service status values (pending, active,
//     rejected) and activation_url;
//   - lists are newest created_at first (ties by creation order); a poller that
//     pages through a list while items are added may see an item twice at a page
//     boundary but never misses one; per_page defaults to 20 and values above 100
//     are clamped to 100; page 0 or non-numbers answer 422; a page past the end
//     is an empty array;
//   - "not already set" collection statuses only climb the ladder unknown <
//     reminder_sent < debt_collection < (everything else); the others are set
//     unconditionally;
//   - a due date change is rejected (comment) once collection_status is
//     debt_collection or later; a freeze is rejected (comment) after legal
//     collection, recovery proceedings or lack of means;
//   - a company event other than comment/credit_loss on a closed assignment is 422.
package sandbox
