package natsstore

import (
	"strings"

	"github.com/maventa-bridge/maventa-events/events"
)

// maxEventTokens bounds how many subject tokens an event name may use. Maventa's
// names have three (AREA.RESOURCE.ACTION); anything deeper is folded into the last
// token so that a hostile name cannot make subjects arbitrarily deep.
const maxEventTokens = 6

// WebhookSubject is where a webhook is stored:
// maventa.webhooks.<company_id>.<AREA>.<RESOURCE>.<ACTION>, so that subscribers
// can filter with wildcards (maventa.webhooks.*.DOCUMENTS.INVOICE.>,
// maventa.webhooks.<company>.>). Every token is escaped with events.SanitizeToken,
// so no input yields an invalid subject, a wildcard or an over-long subject.
func WebhookSubject(companyID, event string) string {
	var b strings.Builder
	b.Grow(len(WebhookSubjectRoot) + len(companyID) + len(event) + 8)
	b.WriteString(WebhookSubjectRoot)
	b.WriteByte('.')
	b.WriteString(events.SanitizeToken(companyID))
	parts := strings.Split(event, ".")
	if len(parts) > maxEventTokens {
		parts = append(parts[:maxEventTokens-1], strings.Join(parts[maxEventTokens-1:], "."))
	}
	for _, p := range parts {
		b.WriteByte('.')
		b.WriteString(events.SanitizeToken(p))
	}
	return b.String()
}

// QuarantineSubject is where a malformed request is kept: maventa.quarantine.<reason>.
func QuarantineSubject(reason string) string {
	return QuarantineSubjectRoot + "." + events.SanitizeToken(reason)
}
