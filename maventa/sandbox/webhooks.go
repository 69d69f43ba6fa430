package sandbox

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Webhook event names. The receivables activation/rejection events are fired by
// Maventa (seed 003) but their names are NOT published: these are ASSUMED, in the
// AREA.RESOURCE.ACTION shape of the published ones. Change them here only.
const (
	EventInvoiceDelivered         = "DOCUMENTS.INVOICE.DELIVERED"
	EventInvoiceDeliveryConfirmed = "DOCUMENTS.INVOICE.DELIVERY_CONFIRMED"
	EventInvoiceFailed            = "DOCUMENTS.INVOICE.FAILED"
	EventReceivablesActivated     = "SERVICES.RECEIVABLES.ACTIVATED" // ASSUMED
	EventReceivablesRejected      = "SERVICES.RECEIVABLES.REJECTED"  // ASSUMED
)

// Envelope is the body Maventa POSTs to a webhook destination (seed 004).
type Envelope struct {
	Event          string         `json:"event"`
	CompanyID      string         `json:"company_id"`
	EventTimestamp string         `json:"event_timestamp"`
	EventData      map[string]any `json:"event_data"`
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryGaveUp    = "gave_up" // every attempt failed
	DeliveryDropped   = "dropped" // dropped by the WebhookDropRate fault; never sent
)

// WebhookDelivery is one envelope on its way to one destination.
type WebhookDelivery struct {
	ID             string `json:"id"`
	Seq            int64  `json:"seq"`
	Event          string `json:"event"`
	CompanyID      string `json:"company_id"`
	NotificationID string `json:"notification_id"`
	URL            string `json:"url"`
	Body           string `json:"body"`
	State          string `json:"state"`
	Attempts       int    `json:"attempts"`
}

// WebhookAttempt records one POST of a delivery.
type WebhookAttempt struct {
	DeliveryID string    `json:"delivery_id"`
	Event      string    `json:"event"`
	URL        string    `json:"url"`
	Attempt    int       `json:"attempt"` // 1 is the first try
	At         time.Time `json:"at"`
	Status     int       `json:"status"` // 0 when no response
	Error      string    `json:"error,omitempty"`
	Success    bool      `json:"success"`
	Body       string    `json:"body"`
}

type webhookState struct {
	mu         sync.Mutex
	seq        int64
	deliveries []*WebhookDelivery
	attempts   []WebhookAttempt
	pending    int
	idle       chan struct{} // closed when pending drops to 0
}

func (w *webhookState) init() {
	w.idle = make(chan struct{})
	close(w.idle)
}

func (w *webhookState) resetRecords() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.deliveries = nil
	w.attempts = nil
}

// WebhookAttempts returns every webhook attempt so far, in order.
func (s *Sandbox) WebhookAttempts() []WebhookAttempt {
	s.wh.mu.Lock()
	defer s.wh.mu.Unlock()
	return append([]WebhookAttempt(nil), s.wh.attempts...)
}

// WebhookDeliveries returns every delivery (one per envelope and destination).
func (s *Sandbox) WebhookDeliveries() []WebhookDelivery {
	s.wh.mu.Lock()
	defer s.wh.mu.Unlock()
	out := make([]WebhookDelivery, len(s.wh.deliveries))
	for i, d := range s.wh.deliveries {
		out[i] = *d
	}
	return out
}

// WaitWebhooks blocks until no delivery is pending (delivered, given up or
// dropped) or ctx ends. Tests use it instead of sleeping.
func (s *Sandbox) WaitWebhooks(ctx context.Context) error {
	for {
		s.wh.mu.Lock()
		p, ch := s.wh.pending, s.wh.idle
		s.wh.mu.Unlock()
		if p == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for webhooks: %w", ctx.Err())
		}
	}
}

// PatternMatches reports whether a subscription pattern matches an event name:
// segments compare literally, "*" matches one segment, and a trailing "*" matches
// all remaining segments ("NETWORKS.*" matches "NETWORKS.PEPPOL.CREATED").
func PatternMatches(pattern, event string) bool {
	p, e := strings.Split(pattern, "."), strings.Split(event, ".")
	for i, seg := range p {
		if i >= len(e) {
			return false
		}
		if seg == "*" {
			if i == len(p)-1 {
				return true
			}
			continue
		}
		if !strings.EqualFold(seg, e[i]) {
			return false
		}
	}
	return len(p) == len(e)
}

// emitLocked sends an envelope to every matching registration: the company's own
// WEBHOOKs and every VENDOR_WEBHOOK whose vendor key is the company's.
func (s *Sandbox) emitLocked(event, companyID string, data map[string]any) {
	s.emitAtLocked(event, companyID, s.cfg.Clock(), data)
}

// emitAtLocked is emitLocked for a fact that happened at `at`: an invoice's
// webhook carries the time its status changed, which is its updated_at on the
// invoice list.
func (s *Sandbox) emitAtLocked(event, companyID string, at time.Time, data map[string]any) {
	c, ok := s.st.companies[companyID]
	if !ok {
		return
	}
	env := Envelope{Event: event, CompanyID: companyID,
		EventTimestamp: at.In(s.cfg.WebhookLocation).Format(time.RFC3339), EventData: data}
	body, err := json.Marshal(env)
	if err != nil {
		s.log.Error("sandbox: marshal webhook", "event", event, "err", err)
		return
	}
	var targets []*Notification
	for _, n := range s.st.notifications {
		var owner bool
		switch n.DestinationType {
		case "VENDOR_WEBHOOK":
			key := n.VendorKey
			if key == "" && n.operatorID == "" {
				if reg, ok := s.st.companies[n.companyID]; ok {
					key = reg.VendorAPIKey
				}
			}
			owner = key != "" && key == c.VendorAPIKey
		default:
			if n.operatorID != "" {
				owner = s.operatesLocked(n.operatorID, companyID)
			} else {
				owner = n.companyID == companyID
			}
		}
		if !owner {
			continue
		}
		for _, p := range n.Events {
			if PatternMatches(p, event) {
				targets = append(targets, n)
				break
			}
		}
	}
	slices.SortFunc(targets, func(a, b *Notification) int { return int(a.seq - b.seq) })
	for _, n := range targets {
		s.enqueueLocked(event, companyID, n, body)
	}
}

// unitFloat maps (seed, a, b) to a deterministic number in [0, 1).
func unitFloat(seed uint64, a, b int64) float64 {
	h := fnv.New64a()
	var buf [24]byte
	binary.LittleEndian.PutUint64(buf[0:], seed)
	binary.LittleEndian.PutUint64(buf[8:], uint64(a))
	binary.LittleEndian.PutUint64(buf[16:], uint64(b))
	_, _ = h.Write(buf[:])
	return float64(h.Sum64()>>11) / float64(1<<53)
}

func (s *Sandbox) enqueueLocked(event, companyID string, n *Notification, body []byte) {
	s.wh.mu.Lock()
	s.wh.seq++
	d := &WebhookDelivery{ID: s.newIDLocked(), Seq: s.wh.seq, Event: event, CompanyID: companyID,
		NotificationID: n.ID, URL: n.Destination, Body: string(body), State: DeliveryPending}
	s.wh.deliveries = append(s.wh.deliveries, d)
	if rate := s.webhookDropRateLocked(); rate > 0 && unitFloat(s.cfg.Seed, 0x77686b, d.Seq) < rate {
		d.State = DeliveryDropped
		s.wh.mu.Unlock()
		s.log.Info("sandbox: webhook dropped by fault", "event", event, "url", n.Destination)
		return
	}
	if s.wh.pending == 0 {
		s.wh.idle = make(chan struct{})
	}
	s.wh.pending++
	s.wh.mu.Unlock()
	go s.deliver(d, body)
}

func (s *Sandbox) finish(d *WebhookDelivery, state string) {
	s.wh.mu.Lock()
	defer s.wh.mu.Unlock()
	d.State = state
	s.wh.pending--
	if s.wh.pending == 0 {
		close(s.wh.idle)
	}
}

// deliver POSTs body until it succeeds, or every RetryInterval for RetryFor (both
// divided by TimeScale) and then gives up. The same bytes go out every time.
func (s *Sandbox) deliver(d *WebhookDelivery, body []byte) {
	maxAttempts := 1 + int(s.cfg.RetryFor/s.cfg.RetryInterval)
	interval := s.scaled(s.cfg.RetryInterval)
	timeout := max(s.scaled(s.cfg.WebhookTimeout), s.cfg.MinWebhookTimeout)
	for attempt := 1; ; attempt++ {
		status, err := s.post(d.URL, body, timeout)
		ok := err == nil && (status == 200 || status == 201 || status == 204)
		rec := WebhookAttempt{DeliveryID: d.ID, Event: d.Event, URL: d.URL, Attempt: attempt,
			At: s.cfg.Clock().UTC(), Status: status, Success: ok, Body: string(body)}
		if err != nil {
			rec.Error = err.Error()
		} else if !ok {
			rec.Error = fmt.Sprintf("unexpected status %d", status)
		}
		s.wh.mu.Lock()
		s.wh.attempts = append(s.wh.attempts, rec)
		d.Attempts = attempt
		s.wh.mu.Unlock()
		if ok {
			s.finish(d, DeliveryDelivered)
			return
		}
		if attempt >= maxAttempts {
			s.log.Warn("sandbox: webhook dropped after retries", "event", d.Event, "url", d.URL, "attempts", attempt)
			s.finish(d, DeliveryGaveUp)
			return
		}
		t := time.NewTimer(interval)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			s.finish(d, DeliveryGaveUp)
			return
		}
	}
}

func (s *Sandbox) post(url string, body []byte, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Maventa-Sandbox-Webhooks")
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("webhook post: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}
