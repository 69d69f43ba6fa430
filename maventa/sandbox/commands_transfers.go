package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/maventa-bridge/maventa-events/events"
)

// transfer is an invoice's transfer to collection (Ropo, Amili Perintä v2).
// It is pending when requested, and sent (with a new assignment at the
// provider) the second time its state is read, so that a client following it
// sees pending first; FailTransfer makes it end in error instead.
type transfer struct {
	id       string
	provider string
	status   string // pending, sent, error
	reads    int
	fail     string
	body     json.RawMessage
	at       time.Time
}

// ReceivablesTypes are the receivables_type values of the Amili Perintä v2 transfer (seed 002).
var ReceivablesTypes = []string{"b2b", "b2c", "b2b_rental", "b2c_rental"}

// amiliTransfer is the v2 body as the sandbox checks it (nesting ASSUMED, as in maventa.AmiliTransfer).
type amiliTransfer struct {
	CollectionType  string `json:"collection_type"`
	ReceivablesType string `json:"receivables_type"`
	Amounts         struct {
		CapitalAmount  json.Number `json:"capital_amount"`
		ReminderAmount json.Number `json:"reminder_amount"`
	} `json:"amounts"`
	Payers []struct {
		Type    string `json:"type"`
		Name    string `json:"name"`
		Address struct {
			Street     string `json:"street"`
			PostalCode string `json:"postal_code"`
			City       string `json:"city"`
		} `json:"address"`
	} `json:"payers"`
	ReminderDate string `json:"reminder_date"`
}

// check lists what Amili would refuse: every seed 002 field present, one main
// debtor, full addresses.
func (t amiliTransfer) check() []string {
	var p []string
	if t.CollectionType == "" {
		p = append(p, "collection_type is required")
	}
	if !slices.Contains(ReceivablesTypes, t.ReceivablesType) {
		p = append(p, fmt.Sprintf("receivables_type %q is not one of %s", t.ReceivablesType, strings.Join(ReceivablesTypes, ", ")))
	}
	if d, err := events.ParseDecimal(t.Amounts.CapitalAmount.String()); err != nil || d.Sign() <= 0 {
		p = append(p, "amounts.capital_amount must be a positive number")
	}
	main := 0
	for i, py := range t.Payers {
		if py.Type == "main_debtor" {
			main++
		}
		if py.Name == "" || py.Address.Street == "" || py.Address.PostalCode == "" || py.Address.City == "" {
			p = append(p, fmt.Sprintf("payers[%d] needs a name and a full address", i))
		}
	}
	if main != 1 {
		p = append(p, fmt.Sprintf("payers must have exactly one main_debtor, not %d", main))
	}
	if t.ReminderDate != "" {
		if _, err := time.Parse(time.DateOnly, t.ReminderDate); err != nil {
			p = append(p, "reminder_date must be YYYY-MM-DD")
		}
	}
	return p
}

// ownedInvoiceLocked finds an invoice of the requesting company: 404 / 403 otherwise.
func (s *Sandbox) ownedInvoiceLocked(w http.ResponseWriter, r *http.Request) *Invoice {
	inv, ok := s.st.invoices[chi.URLParam(r, "id")]
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "invoice not found")
		return nil
	}
	if inv.companyID != companyFrom(r.Context()) {
		writeError(w, http.StatusForbidden, "forbidden", "invoice belongs to another company")
		return nil
	}
	return inv
}

// handleGetInvoice is GET /v1/invoices/{id}.
func (s *Sandbox) handleGetInvoice(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if inv := s.ownedInvoiceLocked(w, r); inv != nil {
		c := *inv
		writeJSON(w, http.StatusOK, &c)
	}
}

// handleTransfer is POST /v2/invoices/{id}/assignment/{ropo|amili}.
func (s *Sandbox) handleTransfer(w http.ResponseWriter, r *http.Request) {
	provider := chi.URLParam(r, "provider")
	var body json.RawMessage
	if provider == ProviderAmili {
		var t amiliTransfer
		raw, err := readBody(r)
		if err == nil {
			err = json.Unmarshal(raw, &t)
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request", "body must be the Amili Perintä v2 transfer JSON")
			return
		}
		if p := t.check(); len(p) > 0 {
			writeError(w, http.StatusUnprocessableEntity, "invalid_parameter", strings.Join(p, "; "))
			return
		}
		body = raw
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inv := s.ownedInvoiceLocked(w, r)
	if inv == nil {
		return
	}
	if inv.assignmentID != "" || s.st.transfers[inv.ID] != nil {
		writeError(w, http.StatusConflict, "already_transferred", "the invoice already has an assignment or a transfer")
		return
	}
	if inv.Status != InvoiceSent {
		writeError(w, http.StatusUnprocessableEntity, "invalid_state", "only a sent invoice can be transferred to collection")
		return
	}
	t := &transfer{id: s.newIDLocked(), provider: provider, status: "pending", body: body, at: s.now()}
	s.st.transfers[inv.ID] = t
	writeJSON(w, http.StatusCreated, s.transferViewLocked(inv, t))
}

func readBody(r *http.Request) ([]byte, error) {
	var raw json.RawMessage
	if err := decodeBody(r, &raw); err != nil {
		return nil, err
	}
	return raw, nil
}

func (s *Sandbox) transferViewLocked(inv *Invoice, t *transfer) map[string]any {
	// "id" (the transfer's own id) is ASSUMED: Maventa documents only the status.
	out := map[string]any{"id": t.id, "invoice_id": inv.ID, "provider": t.provider, "status": t.status, "assignment_id": nil, "error_message": nil}
	if inv.assignmentID != "" {
		out["assignment_id"] = inv.assignmentID
	}
	if t.status == "error" {
		out["error_message"] = t.fail
	}
	return out
}

// writeTransferLocked answers GET /v2/invoices/{id}/assignment for an invoice
// with a transfer, moving it on as described at transfer; false when it has none.
func (s *Sandbox) writeTransferLocked(w http.ResponseWriter, inv *Invoice) bool {
	t := s.st.transfers[inv.ID]
	if t == nil {
		return false
	}
	t.reads++
	if t.status == "pending" && t.reads >= 2 {
		if t.fail != "" {
			t.status = "error"
		} else {
			t.status = "sent"
			a := s.createAssignmentLocked(inv.companyID, inv, InvoiceSpec{Number: inv.Number, Date: inv.Date, DueDate: inv.DateDue,
				Sum: inv.Sum, Currency: inv.Currency, RecipientName: inv.RecipientName, RecipientBID: inv.RecipientBID})
			a.provider = t.provider
			inv.assignmentID = a.ID
		}
	}
	writeJSON(w, http.StatusOK, s.transferViewLocked(inv, t))
	return true
}

// FailTransfer makes a pending transfer of an invoice end in error with msg.
func (s *Sandbox) FailTransfer(invoiceID, msg string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.st.transfers[invoiceID]
	if t == nil {
		return fmt.Errorf("invoice %s has no transfer: %w", invoiceID, ErrNotFound)
	}
	t.fail = msg
	return nil
}

// Transfers counts the transfer requests Maventa accepted for an invoice (0 or 1:
// a second one is refused with 409).
func (s *Sandbox) Transfers(invoiceID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.transfers[invoiceID] != nil {
		return 1
	}
	return 0
}

// TransferBody is the Amili v2 body a transfer was requested with.
func (s *Sandbox) TransferBody(invoiceID string) json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.st.transfers[invoiceID]; t != nil {
		return t.body
	}
	return nil
}
