package maventa

import "context"

// invoiceLookupPages bounds how many pages AssignmentsForInvoice reads when
// Maventa ignores the (unpublished) invoice filter and lists everything, newest
// first: a just-sent invoice's assignment is among the newest.
const invoiceLookupPages = 3

// AssignmentsForInvoice returns the assignments linked to invoiceID
// (reference_ids type invoice_id, the link seed 003 documents), with their events.
// It lists assignments filtered by invoice and keeps only those whose reference
// really matches, then fetches each one with its events: 1 + (matches) calls when
// the filter works.
func (c *Client) AssignmentsForInvoice(ctx context.Context, companyID, invoiceID string) ([]Assignment, error) {
	var ids []string
	for page := 1; page <= invoiceLookupPages; page++ {
		p, err := c.ListAssignments(ctx, companyID, AssignmentQuery{InvoiceID: invoiceID}, PageOptions{Page: page, PerPage: MaxPerPage})
		if err != nil {
			return nil, err
		}
		for _, a := range p.Items {
			if id, ok := a.InvoiceID(); ok && id == invoiceID {
				ids = append(ids, a.ID)
			}
		}
		if len(ids) > 0 || p.NextPage == 0 {
			break
		}
	}
	out := make([]Assignment, 0, len(ids))
	for _, id := range ids {
		a, err := c.GetAssignment(ctx, companyID, id)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}
