package events

import (
	"reflect"
	"strconv"
)

// TypeDef describes one event type of the catalog. The registry (Types) is the
// one place that lists them; docs/events.md, docs/asyncapi.yaml, docs/schemas/ and
// the golden files are generated from it and tests fail when they drift apart.
type TypeDef struct {
	// Name is "<aggregate>.<name>", e.g. "assignment.paid"; it is the kind passed to
	// NewID and, with the version, the docs' and schema files' name.
	Name string
	// Aggregate is the fourth token of the NATS subject (invoice, assignment...).
	Aggregate string
	// Event is the fifth token of the NATS subject (delivered, paid...).
	Event string
	// Version is the major version of the data format (the ".v1" of the type).
	Version int
	// DataType is the Go type of the data.
	DataType reflect.Type
	// Description says what happened, for the docs.
	Description string
	// From names the Maventa fact the event derives from.
	From string
	// SubjectIs says what the CloudEvents subject attribute holds.
	SubjectIs string
	// IDKey says which parts make the id (NewID(Name, parts...)).
	IDKey string
	// MaventaType is the Maventa assignment event type, for assignment events.
	MaventaType string
}

// Type returns the CloudEvents type, e.g. "com.maventa-bridge.receivables.assignment.paid.v1".
func (d TypeDef) Type() string { return TypePrefix + d.versioned() }

func (d TypeDef) versioned() string { return d.Name + ".v" + strconv.Itoa(d.Version) }

// SchemaFile is the file name of the data's JSON Schema under docs/schemas/ (and of
// the golden example under events/testdata/golden/).
func (d TypeDef) SchemaFile() string { return d.versioned() + ".json" }

// SchemaURL is the dataschema attribute of the type's events.
func (d TypeDef) SchemaURL() string { return SchemaBaseURL + d.SchemaFile() }

// Subject returns the NATS subject of this type's events about companyID.
func (d TypeDef) Subject(companyID string) string {
	return SubjectFor(companyID, d.Aggregate, d.Event)
}

func (d TypeDef) newData() any { return reflect.New(d.DataType).Interface() }

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

const (
	keyWebhook         = "WebhookHash of the originating webhook body"
	keyAssignmentEvent = "Maventa's assignment event id"
	keyInvoiceNotice   = "invoice id, the status (the webhook's action: `DELIVERED`, `FAILED`...) and the time Maventa gives it (the webhook's `event_timestamp`, or the listed invoice's `updated_at` when polling found it first), RFC 3339 in UTC; the WebhookHash when the payload has no invoice id"
	keyTransition      = "assignment id, the new value, and how many times the assignment entered that value before, in Maventa's time order (0 the first time)"
)

func webhookType[T any](name, desc, from, subject string) TypeDef {
	agg, ev := split(name)
	return TypeDef{Name: name, Aggregate: agg, Event: ev, Version: 1, DataType: typeOf[T](),
		Description: desc, From: from, SubjectIs: subject, IDKey: keyWebhook}
}

// invoiceType is a webhookType whose facts are kept per invoice (ApplyInvoice).
func invoiceType[T any](name, desc, from string) TypeDef {
	d := webhookType[T](name, desc, from, "invoice id")
	d.IDKey = keyInvoiceNotice
	return d
}

func assignmentType[T any](maventaType, desc string) TypeDef {
	name := "assignment." + maventaType
	return TypeDef{Name: name, Aggregate: "assignment", Event: maventaType, Version: 1, DataType: typeOf[T](),
		Description: desc, From: "assignment event `" + maventaType + "` (Receivables API)",
		SubjectIs: "assignment id", IDKey: keyAssignmentEvent, MaventaType: maventaType}
}

func split(name string) (string, string) {
	for i := 0; i < len(name); i++ {
		if name[i] == '.' {
			return name[:i], name[i+1:]
		}
	}
	return name, ""
}

// The catalog. Each variable is one event type; Types lists them all.
var (
	TypeInvoiceDelivered = invoiceType[InvoiceDelivered]("invoice.delivered",
		"Maventa completed sending an invoice to its route.",
		"webhook `DOCUMENTS.INVOICE.DELIVERED`")
	TypeInvoiceDeliveryConfirmed = invoiceType[InvoiceDeliveryConfirmed]("invoice.delivery_confirmed",
		"The receiving operator confirmed an invoice's delivery (only some routes confirm).",
		"webhook `DOCUMENTS.INVOICE.DELIVERY_CONFIRMED`")
	TypeInvoiceDeliveryFailed = invoiceType[InvoiceDeliveryFailed]("invoice.delivery_failed",
		"An invoice reached a final error, possibly after it was delivered. `reason` classifies Maventa's error text: `missing_address` (RECEIVABLES-SERVICE code #5), `duplicate_open_assignment` (#6), `due_date_too_close` (#13) or `other`.",
		"webhook `DOCUMENTS.INVOICE.FAILED`")
	TypeInvoiceReceived = invoiceType[InvoiceReceived]("invoice.received",
		"The company received an invoice.",
		"webhook `DOCUMENTS.INVOICE.RECEIVED`")

	TypeDocumentDelivered = webhookType[DocumentDelivered]("document.delivered",
		"A document other than an invoice (order, voucher...) was sent to its route.",
		"webhook `DOCUMENTS.<TYPE>.DELIVERED`, TYPE other than INVOICE", "document id, or the document type when the payload has no id")
	TypeDocumentDeliveryConfirmed = webhookType[DocumentDeliveryConfirmed]("document.delivery_confirmed",
		"The receiving operator confirmed a document's delivery.",
		"webhook `DOCUMENTS.<TYPE>.DELIVERY_CONFIRMED`, TYPE other than INVOICE", "document id, or the document type when the payload has no id")
	TypeDocumentDeliveryFailed = webhookType[DocumentDeliveryFailed]("document.delivery_failed",
		"A document reached a final error.",
		"webhook `DOCUMENTS.<TYPE>.FAILED`, TYPE other than INVOICE", "document id, or the document type when the payload has no id")
	TypeDocumentReceived = webhookType[DocumentReceived]("document.received",
		"The company received a document other than an invoice.",
		"webhook `DOCUMENTS.<TYPE>.RECEIVED`, TYPE other than INVOICE", "document id, or the document type when the payload has no id")

	TypeNetworkCreated = webhookType[NetworkCreated]("network.created",
		"A registration of the company in a network (PEPPOL, BANK, VISMA...) was requested.",
		"webhook `NETWORKS.<NETWORK>.CREATED`", "network name")
	TypeNetworkEnabled = webhookType[NetworkEnabled]("network.enabled",
		"The company's registration in a network is open.",
		"webhook `NETWORKS.<NETWORK>.ENABLED`", "network name")
	TypeNetworkDisabled = webhookType[NetworkDisabled]("network.disabled",
		"The company's registration in a network was closed.",
		"webhook `NETWORKS.<NETWORK>.DISABLED`", "network name")
	TypeCompanyAuthorizationChanged = webhookType[CompanyAuthorizationChanged]("company.authorization_changed",
		"The company's authorization (KYC) state changed to VERIFIED, UNVERIFIED or UNKNOWN.",
		"webhook `COMPANIES.AUTHORIZATION.<STATE>`", "company id")

	TypeServiceActivated = serviceType[ServiceActivated]("service.activated",
		"The collection agency activated the company's receivables service. For Amili, `iban`/`bic` are Amili's account, which the ERP must add to its consumer-invoicing SI messages.")
	TypeServiceRejected = serviceType[ServiceRejected]("service.rejected",
		"The collection agency rejected the activation of the company's receivables service.")
	TypeServicePending = serviceType[ServicePending]("service.pending",
		"Activation of the receivables service is pending: the company's signer must complete KYC at `activation_url`, or the agency is reviewing.")

	TypeAssignmentOpened = TypeDef{Name: "assignment.opened", Aggregate: "assignment", Event: "opened", Version: 1,
		DataType:    typeOf[AssignmentOpened](),
		Description: "A new assignment: an invoice entered the agency's payment monitoring. Carries a snapshot, with the new payment reference number (reference_ids type `number`) the ERP needs to match payments.",
		From:        "an assignment seen for the first time (Receivables API `GET /v1/assignments`)",
		SubjectIs:   "assignment id", IDKey: "assignment id"}

	TypeAssignmentPaid = assignmentType[AssignmentPaid]("paid",
		"A payment was reported: by the agency when the debtor paid, or by the company for a direct payment. A negative amount marks a credit note as used (`credit_note_used`). Created by the company or the agency.")
	TypeAssignmentClose = assignmentType[AssignmentClose]("close",
		"The agency closed the assignment (paid, credited or cancelled). Created by the agency.")
	TypeAssignmentPartiallyClosed = assignmentType[AssignmentPartiallyClosed]("partially_closed",
		"The invoice is paid but the agency still collects its fees from the debtor. Created by the agency.")
	TypeAssignmentComment = assignmentType[AssignmentComment]("comment",
		"A comment or question between the company and the agency. Created by the company or the agency.")
	TypeAssignmentDueDateChangeRequest = assignmentType[AssignmentDueDateChangeRequest]("due_date_change_request",
		"The company asked for a new due date. Created by the company.")
	TypeAssignmentDueDateChanged = assignmentType[AssignmentDueDateChanged]("due_date_changed",
		"The agency accepted a due date change; the assignment's due date changed (the invoice did not). Created by the agency.")
	TypeAssignmentCreditNote = assignmentType[AssignmentCreditNote]("credit_note",
		"The company linked a credit note (positive amount) to the assignment. Created by the company.")
	TypeAssignmentCancel = assignmentType[AssignmentCancel]("cancel",
		"The company cancelled the agency's process for the assignment. Created by the company.")
	TypeAssignmentFreeze = assignmentType[AssignmentFreeze]("freeze",
		"The company asked to suspend collection until `end_date` (or ended a suspension early). Created by the company.")
	TypeAssignmentFreezeConfirmed = assignmentType[AssignmentFreezeConfirmed]("freeze_confirmed",
		"The agency applied a suspension. Created by the agency.")
	TypeAssignmentUnfreezed = assignmentType[AssignmentUnfreezed]("unfreezed",
		"The suspension ended; collection resumes. Created by the agency.")
	TypeAssignmentInterestPaid = assignmentType[AssignmentInterestPaid]("interest_paid",
		"The agency paid interest accrued on the assignment. Created by the agency.")
	TypeAssignmentCashDiscount = assignmentType[AssignmentCashDiscount]("cash_discount",
		"The debtor took a cash discount; paid plus discount equals the sum. Created by the agency.")
	TypeAssignmentReminderSent = assignmentType[AssignmentReminderSent]("reminder_sent",
		"The agency sent the first payment reminder. Created by the agency.")
	TypeAssignmentSecondReminderSent = assignmentType[AssignmentSecondReminderSent]("second_reminder_sent",
		"The agency sent the second payment reminder. Created by the agency.")
	TypeAssignmentCollectionStarted = assignmentType[AssignmentCollectionStarted]("collection_started",
		"The agency sent the first payment demand: debt collection started. Created by the agency.")
	TypeAssignmentSecondDemandSent = assignmentType[AssignmentSecondDemandSent]("second_demand_sent",
		"The agency sent the second payment demand. Created by the agency.")
	TypeAssignmentTrattaSent = assignmentType[AssignmentTrattaSent]("tratta_sent",
		"The agency sent a tratta. Created by the agency.")
	TypeAssignmentLegalCollectionStarted = assignmentType[AssignmentLegalCollectionStarted]("legal_collection_started",
		"A summons application was filed: legal collection started. Created by the agency.")
	TypeAssignmentApplicationForEnforcement = assignmentType[AssignmentApplicationForEnforcement]("application_for_enforcement",
		"The claim went to the enforcement authority. Created by the agency.")
	TypeAssignmentLackOfMeans = assignmentType[AssignmentLackOfMeans]("lack_of_means",
		"The enforcement authority found the debtor insolvent. Created by the agency.")
	TypeAssignmentPaymentPlan = assignmentType[AssignmentPaymentPlan]("payment_plan",
		"A payment plan was agreed. Created by the agency.")
	TypeAssignmentCreditLossSuggestion = assignmentType[AssignmentCreditLossSuggestion]("credit_loss_suggestion",
		"The agency recommends booking a credit loss. Created by the agency.")
	TypeAssignmentCreditLoss = assignmentType[AssignmentCreditLoss]("credit_loss",
		"The company booked a credit loss (accounting only: collection continues, collection status unchanged). Created by the company.")
	TypeAssignmentServiceLevelChanged = assignmentType[AssignmentServiceLevelChanged]("service_level_changed",
		"The debtor is in (or moved between) the VIP / PREMIUM service level groups. Created by the agency.")
	TypeAssignmentDeliveryStatus = assignmentType[AssignmentDeliveryStatus]("delivery_status",
		"Delivery state of the original invoice, collapsed as in Maventa's UI (DeliveryStatusFilter): the first DELIVERED, every FAILED, and the first DELIVERED after a FAILED; repeated DELIVERED are not published. Created by Maventa.")

	TypeAssignmentStatusChanged = TypeDef{Name: "assignment.status_changed", Aggregate: "assignment", Event: "status_changed", Version: 1,
		DataType:    typeOf[AssignmentStatusChanged](),
		Description: "The assignment's status (open, closed, partially_closed) changed; published only on a change (AssignmentStatusAfter, folded over every known assignment event in Maventa's time order). `source` is `snapshot` when the assignment read from Maventa says so although no event seen does: Maventa wins.",
		From:        "a `close` / `partially_closed` assignment event, or a changed status on a polled assignment",
		SubjectIs:   "assignment id", IDKey: keyTransition}
	TypeAssignmentCollectionStatusChanged = TypeDef{Name: "assignment.collection_status_changed", Aggregate: "assignment", Event: "collection_status_changed", Version: 1,
		DataType:    typeOf[AssignmentCollectionStatusChanged](),
		Description: "The assignment's collection status changed; published only on a change (CollectionStatusAfter, folded over every known assignment event in Maventa's time order). `source` is `snapshot` when the assignment read from Maventa says so although no event seen does: Maventa wins.",
		From:        "a reminder / collection assignment event, or a changed collection_status on a polled assignment",
		SubjectIs:   "assignment id", IDKey: keyTransition}

	TypeMessageReceived = TypeDef{Name: "message.received", Aggregate: "message", Event: "received", Version: 1,
		DataType:    typeOf[MessageReceived](),
		Description: "A message in a message thread between the company and the agency (Amili messaging).",
		From:        "a message seen when polling `GET /v1/message_threads/{thread_id}/messages`",
		SubjectIs:   "message thread id", IDKey: "thread id, message id"}

	TypeUnrecognized = TypeDef{Name: "unrecognized.received", Aggregate: "unrecognized", Event: "received", Version: 1,
		DataType:    typeOf[Unrecognized](),
		Description: "A webhook event name or assignment event type this catalog does not know. Published with the original data, never dropped.",
		From:        "any unknown webhook or assignment event type",
		SubjectIs:   "the assignment id for an assignment event, otherwise the webhook event name",
		IDKey:       "WebhookHash of the webhook, or Maventa's assignment event id"}
)

func serviceType[T any](name, desc string) TypeDef {
	d := webhookType[T](name, desc,
		"the service activation webhook (name not published by Maventa, see ServiceWebhookType) or a state change seen on `GET /v2/services/<provider>/receivables`",
		"provider (`amili` or `ropo`)")
	d.IDKey = "WebhookHash of the webhook; when polled: provider, status, iban, bic, activation_url"
	return d
}

var allTypes = []TypeDef{
	TypeInvoiceDelivered, TypeInvoiceDeliveryConfirmed, TypeInvoiceDeliveryFailed, TypeInvoiceReceived,
	TypeDocumentDelivered, TypeDocumentDeliveryConfirmed, TypeDocumentDeliveryFailed, TypeDocumentReceived,
	TypeNetworkCreated, TypeNetworkEnabled, TypeNetworkDisabled, TypeCompanyAuthorizationChanged,
	TypeServiceActivated, TypeServiceRejected, TypeServicePending,
	TypeAssignmentOpened,
	TypeAssignmentPaid, TypeAssignmentClose, TypeAssignmentPartiallyClosed, TypeAssignmentComment,
	TypeAssignmentDueDateChangeRequest, TypeAssignmentDueDateChanged, TypeAssignmentCreditNote, TypeAssignmentCancel,
	TypeAssignmentFreeze, TypeAssignmentFreezeConfirmed, TypeAssignmentUnfreezed, TypeAssignmentInterestPaid,
	TypeAssignmentCashDiscount, TypeAssignmentReminderSent, TypeAssignmentSecondReminderSent,
	TypeAssignmentCollectionStarted, TypeAssignmentSecondDemandSent, TypeAssignmentTrattaSent,
	TypeAssignmentLegalCollectionStarted, TypeAssignmentApplicationForEnforcement, TypeAssignmentLackOfMeans,
	TypeAssignmentPaymentPlan, TypeAssignmentCreditLossSuggestion, TypeAssignmentCreditLoss,
	TypeAssignmentServiceLevelChanged, TypeAssignmentDeliveryStatus,
	TypeAssignmentStatusChanged, TypeAssignmentCollectionStatusChanged,
	TypeMessageReceived,
	TypeCommandSucceeded, TypeCommandRejected, TypeCommandFailed, TypeCommandOutcomeUnknown,
	TypeInvoiceTransferSent, TypeInvoiceTransferFailed,
	TypeUnrecognized,
}

// byType and byMaventaType index allTypes by CloudEvents type and by Maventa
// assignment event type.
var byType, byMaventaType = indexTypes(allTypes)

func indexTypes(defs []TypeDef) (byType, byMaventaType map[string]TypeDef) {
	byType, byMaventaType = map[string]TypeDef{}, map[string]TypeDef{}
	for _, d := range defs {
		byType[d.Type()] = d
		if d.MaventaType != "" {
			byMaventaType[d.MaventaType] = d
		}
	}
	// Maventa's collection status table names the tratta step "tratta"; the
	// event type list says "tratta_sent". Both are the same step.
	byMaventaType["tratta"] = TypeAssignmentTrattaSent
	return byType, byMaventaType
}

// LookupType returns the definition of a CloudEvents type string.
func LookupType(ceType string) (TypeDef, bool) {
	d, ok := byType[ceType]
	return d, ok
}

// TypeForAssignmentEvent returns the event type of a Maventa assignment event type
// ("paid" -> assignment.paid); false for a type the catalog does not know, whose
// events are published as unrecognized.
func TypeForAssignmentEvent(maventaType string) (TypeDef, bool) {
	d, ok := byMaventaType[maventaType]
	return d, ok
}
