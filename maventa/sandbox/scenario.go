package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"golang.org/x/time/rate"
)

// ScenarioConfig drives a deterministic workload: companies send invoices and the
// agency and companies play out assignment lifecycles over simulated days.
type ScenarioConfig struct {
	// Companies to create (default 1). Ignored when CompanyIDs is set.
	Companies int `json:"companies"`
	// CompanyIDs runs the scenario for existing companies instead of new ones.
	CompanyIDs []string `json:"company_ids,omitempty"`
	// InvoicesPerCompany (default 10).
	InvoicesPerCompany int `json:"invoices_per_company"`
	// Seed of the scenario's choices; default the sandbox's Config.Seed.
	Seed *uint64 `json:"seed,omitempty"`
	// Rate limits the scenario to this many steps (≈ events) per second; 0 runs
	// everything at once.
	Rate float64 `json:"rate,omitempty"`
	// DayStep is the simulated time between lifecycle steps, used for happened_at
	// (default 24h). Created_at values come from the sandbox clock.
	DayStep time.Duration `json:"day_step,omitempty"`
}

// ScenarioSummary says what a scenario generated, so tests can predict the domain
// events a consumer should emit. Equal seeds give equal summaries.
type ScenarioSummary struct {
	Companies        []Company      `json:"companies"`
	Invoices         int            `json:"invoices"`
	FailedInvoices   int            `json:"failed_invoices"`
	Assignments      int            `json:"assignments"`
	Messages         int            `json:"messages"`
	Lifecycles       map[string]int `json:"lifecycles"`
	EventsByType     map[string]int `json:"events_by_type"`
	Events           int            `json:"events"`
	StatusCounts     map[string]int `json:"status_counts"`
	CollectionCounts map[string]int `json:"collection_status_counts"`
	WebhooksByEvent  map[string]int `json:"webhooks_by_event"` // envelopes emitted (before fan-out to destinations)
	AssignmentIDs    []string       `json:"assignment_ids"`
	// Digest is a hash of every generated invoice and event (types, amounts,
	// statuses; not ids or timestamps): equal for equal seeds.
	Digest string `json:"digest"`
}

// step is one scripted action at a simulated day.
type step struct {
	day int
	do  func(sim time.Time) error
}

// lifecycles and their weights.
var lifecycleWeights = []struct {
	name   string
	weight int
}{
	{"paid_in_full", 20}, {"paid_in_parts", 10}, {"direct_payment", 8}, {"reminder_then_paid", 12},
	{"collection_then_paid", 8}, {"partially_closed", 4}, {"legal_collection", 4}, {"payment_plan", 3},
	{"credit_note_full", 6}, {"credit_note_partial_then_paid", 4}, {"cancel", 4}, {"freeze", 4},
	{"due_date_change", 4}, {"messages", 4}, {"invoice_error", 3}, {"open", 2},
}

func pickLifecycle(r *rand.Rand) string {
	total := 0
	for _, l := range lifecycleWeights {
		total += l.weight
	}
	n := r.IntN(total)
	for _, l := range lifecycleWeights {
		if n < l.weight {
			return l.name
		}
		n -= l.weight
	}
	return "open"
}

// RunScenario runs cfg and returns its summary. With Rate > 0 it paces itself and
// stops early (returning what it did so far and ctx's error) when ctx ends.
func (s *Sandbox) RunScenario(ctx context.Context, cfg ScenarioConfig) (ScenarioSummary, error) {
	seed := s.cfg.Seed
	if cfg.Seed != nil {
		seed = *cfg.Seed
	}
	if cfg.Companies <= 0 {
		cfg.Companies = 1
	}
	if cfg.InvoicesPerCompany <= 0 {
		cfg.InvoicesPerCompany = 10
	}
	if cfg.DayStep <= 0 {
		cfg.DayStep = 24 * time.Hour
	}
	r := rand.New(rand.NewPCG(seed, 0x7363656e))
	sum := ScenarioSummary{Lifecycles: map[string]int{}, EventsByType: map[string]int{}, StatusCounts: map[string]int{},
		CollectionCounts: map[string]int{}, WebhooksByEvent: map[string]int{}}

	s.mu.Lock()
	var companies []Company
	if len(cfg.CompanyIDs) > 0 {
		for _, id := range cfg.CompanyIDs {
			c, err := s.company(id)
			if err != nil {
				s.mu.Unlock()
				return sum, err
			}
			companies = append(companies, *c)
		}
	} else {
		for i := range cfg.Companies {
			companies = append(companies, s.addCompanyLocked(Company{
				Name: fmt.Sprintf("Scenario Company %d Oy", i+1), BID: fmt.Sprintf("%07d-%d", 1000000+r.IntN(8999999), r.IntN(10)),
			}))
		}
	}
	start := s.now()
	s.mu.Unlock()
	sum.Companies = companies

	var steps []step
	var assignmentIDs []*string
	for ci, c := range companies {
		for n := range cfg.InvoicesPerCompany {
			lc := pickLifecycle(r)
			sum.Lifecycles[lc]++
			cents := 1000 + r.Int64N(499000)
			total := Amt(fmt.Sprintf("%d.%02d", cents/100, cents%100))
			part := cents / (2 + r.Int64N(3))
			partAmt := Amt(fmt.Sprintf("%d.%02d", part/100, part%100))
			restAmt := Amount{total.Sub(partAmt.Decimal)}
			spec := InvoiceSpec{
				Number: fmt.Sprintf("S%d-%d", ci+1, n+1), Sum: total,
				RecipientName: fmt.Sprintf("Debtor %d", r.IntN(50)+1), RecipientBID: fmt.Sprintf("%07d-%d", 2000000+r.IntN(50), 1),
				Street: "Testikatu 1", PostalCode: "00100", City: "Helsinki",
				Date:    start.Format(time.DateOnly),
				DueDate: start.AddDate(0, 0, 14).Format(time.DateOnly),
			}
			if lc == "invoice_error" {
				if r.IntN(2) == 0 {
					spec.PostalCode = ""
				} else {
					spec.DueDate = start.AddDate(0, 0, 1).Format(time.DateOnly)
				}
			}
			idp := new(string)
			assignmentIDs = append(assignmentIDs, idp)
			companyID := c.ID
			steps = append(steps, step{0, func(time.Time) error {
				res, err := s.SendInvoice(companyID, spec)
				if err != nil {
					return err
				}
				sum.Invoices++
				if res.Status == InvoiceFailed {
					sum.FailedInvoices++
					sum.WebhooksByEvent[EventInvoiceFailed]++
					return nil
				}
				sum.WebhooksByEvent[EventInvoiceDelivered]++
				*idp = res.AssignmentID
				return nil
			}})
			agency := func(day int, typ string, data map[string]any) {
				steps = append(steps, step{day, func(sim time.Time) error {
					_, err := s.AddAgencyEvent(*idp, typ, data, sim)
					return err
				}})
			}
			company := func(day int, typ string, data map[string]any) {
				steps = append(steps, step{day, func(sim time.Time) error {
					_, err := s.AddCompanyEvent(*idp, typ, data, sim)
					return err
				}})
			}
			paid := func(a Amount) map[string]any {
				return map[string]any{FieldSumPaid: a, "archive_number": fmt.Sprintf("%d", 10000+r.IntN(90000))}
			}
			switch lc {
			case "paid_in_full":
				agency(10+r.IntN(5), "paid", paid(total))
			case "paid_in_parts":
				agency(8, "paid", paid(partAmt))
				agency(20, "paid", paid(restAmt))
			case "direct_payment":
				company(12, "paid", paid(total))
			case "reminder_then_paid":
				agency(24, "reminder_sent", nil)
				agency(30, "paid", paid(total))
			case "collection_then_paid":
				agency(24, "reminder_sent", nil)
				agency(38, "second_reminder_sent", nil)
				agency(52, "collection_started", nil)
				agency(66, "second_demand_sent", nil)
				agency(70, "paid", paid(total))
				agency(70, "interest_paid", map[string]any{"sum": Amt("1.25")})
			case "partially_closed":
				agency(24, "reminder_sent", nil)
				agency(40, "paid", paid(total))
				agency(40, "partially_closed", nil)
			case "legal_collection":
				agency(24, "reminder_sent", nil)
				agency(52, "collection_started", nil)
				agency(90, "legal_collection_started", nil)
				agency(150, "application_for_enforcement", nil)
				agency(200, "lack_of_means", nil)
				agency(210, "credit_loss_suggestion", nil)
				company(215, "credit_loss", nil)
			case "payment_plan":
				agency(24, "reminder_sent", nil)
				agency(52, "collection_started", nil)
				agency(60, "payment_plan", nil)
				agency(90, "paid", paid(partAmt))
			case "credit_note_full":
				company(5, "credit_note", map[string]any{FieldCreditNoteNumber: "CN-" + spec.Number, FieldCreditSum: total})
			case "credit_note_partial_then_paid":
				company(5, "credit_note", map[string]any{FieldCreditNoteNumber: "CN-" + spec.Number, FieldCreditSum: partAmt})
				agency(14, "paid", paid(restAmt))
			case "cancel":
				company(3, "cancel", nil)
			case "freeze":
				end := start.AddDate(0, 0, 45).Format(time.DateOnly)
				company(16, "freeze", map[string]any{FieldFrozen: true, FieldEndDate: end})
				agency(45, "unfreezed", map[string]any{"happened_at": end})
				agency(50, "paid", paid(total))
			case "due_date_change":
				company(5, "due_date_change_request", map[string]any{FieldDueDate: start.AddDate(0, 0, 30).Format(time.DateOnly)})
				agency(31, "paid", paid(total))
			case "messages":
				steps = append(steps, step{3, func(time.Time) error {
					s.mu.Lock()
					defer s.mu.Unlock()
					a := s.st.assignments[*idp]
					if a == nil {
						return nil
					}
					_, err := s.addMessageLocked(a.companyID, s.threadForLocked(a), "Asiakas pyytää maksuaikaa.", "company")
					sum.Messages++
					return err
				}})
				steps = append(steps, step{4, func(time.Time) error {
					_, err := s.AddAgencyMessage(*idp, "Maksuaika myönnetty.")
					sum.Messages++
					return err
				}})
				agency(4, "comment", map[string]any{FieldComment: "Extension granted by phone."})
				agency(20, "paid", paid(total))
			}
		}
	}
	// Play steps day by day; within a day, in script order.
	slices.SortStableFunc(steps, func(a, b step) int { return a.day - b.day })
	var lim *rate.Limiter
	if cfg.Rate > 0 {
		lim = rate.NewLimiter(rate.Limit(cfg.Rate), 1)
	}
	var runErr error
	for _, st := range steps {
		if lim != nil {
			if err := lim.Wait(ctx); err != nil {
				runErr = fmt.Errorf("scenario: %w", err)
				break
			}
		} else if err := ctx.Err(); err != nil {
			runErr = fmt.Errorf("scenario: %w", err)
			break
		}
		if err := st.do(start.Add(time.Duration(st.day) * cfg.DayStep)); err != nil && !isSkippable(err) {
			runErr = fmt.Errorf("scenario step on day %d: %w", st.day, err)
			break
		}
	}
	s.summarize(&sum, assignmentIDs)
	return sum, runErr
}

// isSkippable: steps on invoices that failed (no assignment) are skipped.
func isSkippable(err error) bool {
	return errors.Is(err, ErrNotFound)
}

func (s *Sandbox) summarize(sum *ScenarioSummary, ids []*string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := sha256.New()
	for _, idp := range ids {
		a := s.st.assignments[*idp]
		if a == nil {
			fmt.Fprintf(h, "failed;")
			continue
		}
		sum.Assignments++
		sum.AssignmentIDs = append(sum.AssignmentIDs, a.ID)
		sum.StatusCounts[a.Status]++
		sum.CollectionCounts[a.CollectionStatus]++
		fmt.Fprintf(h, "%s|%s|%s|%s|%s|%s|%s;", a.Number, a.Sum, a.Paid, a.Status, a.CollectionStatus, a.DueDate, a.ServiceLevel)
		for _, e := range a.Events {
			sum.EventsByType[e.Type]++
			sum.Events++
			fmt.Fprintf(h, "%s:%v,", e.Type, e.Data[FieldSumPaid])
		}
	}
	sum.Digest = hex.EncodeToString(h.Sum(nil))
}
