package events

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Messaging (seed 000: Amili Kassavirta and Amili Perintä) and service level
// (Amili Kassavirta) commands.
var (
	CommandAddAssignmentMessage = commandDef[AddMessageCommand]("message.add_to_assignment",
		"Add a message about an assignment for Visma Amili (a thread is created if the assignment has none).",
		"assignment id", "POST /v1/assignments/{id}/messages `{\"message\":\"...\"}` (field name ASSUMED)",
		"the assignment's messages: a new one with the same text", `{"text":"Could you call the debtor before the next reminder?"}`, "")
	CommandAddThreadMessage = commandDef[AddMessageCommand]("message.add_to_thread",
		"Answer in a message thread.",
		"message thread id", "POST /v1/message_threads/{id}/messages `{\"message\":\"...\"}` (field name ASSUMED)",
		"the thread's messages: a new one with the same text", `{"text":"Yes, a payment plan of three instalments is fine."}`, "")
	CommandFlagThread = commandDef[FlagThreadCommand]("message_thread.flag",
		"Flag (or unflag) a message thread.",
		"message thread id", "PATCH /v1/message_threads/{id} `{\"flagged\":true}` (body ASSUMED)",
		"the thread's flagged state", `{"flagged":true}`, "")
	CommandMarkMessageSeen = commandDef[MarkMessageSeenCommand]("message.mark_seen",
		"Mark a message as seen.",
		"message id", "PUT /v1/messages/{id}/seen",
		"not needed: PUT is idempotent and resent by the client", `{}`, "")
	CommandSetServiceLevel = commandDef[SetServiceLevelCommand]("service_level.set",
		"Set a customer's service level by business id (Amili Kassavirta): default, premium, vip or service_bypass.",
		"the customer's business id (Y-tunnus, 1234567-8)", "PATCH /v1/service_levels/{customer_bid} `{\"service_level\":\"vip\"}` (body ASSUMED)",
		"the customer's service level", `{"service_level":"vip"}`, "")
)

// AddMessageCommand is the data of message.add_to_assignment and message.add_to_thread.
type AddMessageCommand struct {
	// Text is the message.
	Text string `json:"text"`
}

// Check implements CommandData.
func (c AddMessageCommand) Check(p *Problems) { checkText(c.Text, "data.text", p) }

// FlagThreadCommand is the data of message_thread.flag.
type FlagThreadCommand struct {
	// Flagged is true to flag (the default when absent), false to unflag.
	Flagged *bool `json:"flagged,omitempty"`
}

// IsFlagged is Flagged with its default (true).
func (c FlagThreadCommand) IsFlagged() bool { return c.Flagged == nil || *c.Flagged }

// Check implements CommandData.
func (FlagThreadCommand) Check(*Problems) {}

// MarkMessageSeenCommand is the data of message.mark_seen (none).
type MarkMessageSeenCommand struct{}

// Check implements CommandData.
func (MarkMessageSeenCommand) Check(*Problems) {}

// ServiceLevels are the levels PATCH /v1/service_levels accepts (seed 000).
var ServiceLevels = []string{"default", "premium", "vip", "service_bypass"}

// SetServiceLevelCommand is the data of service_level.set.
type SetServiceLevelCommand struct {
	// ServiceLevel is default, premium, vip or service_bypass.
	ServiceLevel string `json:"service_level"`
}

// Check implements CommandData.
func (c SetServiceLevelCommand) Check(p *Problems) {
	if !slices.Contains(ServiceLevels, strings.ToLower(c.ServiceLevel)) {
		p.Add("data.service_level", fmt.Sprintf("%q is not one of %s", c.ServiceLevel, strings.Join(ServiceLevels, ", ")))
	}
}

// finnishBID is a Finnish business id (Y-tunnus): seven digits, a hyphen, a check digit.
var finnishBID = regexp.MustCompile(`^[0-9]{7}-[0-9]$`)

// CheckBusinessID checks a Y-tunnus, check digit included (Amili Kassavirta
// is Finnish: its service levels are keyed by the customer's Y-tunnus).
func CheckBusinessID(bid string) error {
	if !finnishBID.MatchString(bid) {
		return fmt.Errorf("%q is not a Finnish business id (Y-tunnus, like 1234567-8)", bid)
	}
	weights := []int{7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(bid[i]-'0') * w
	}
	check := 0
	switch r := sum % 11; r {
	case 0:
	case 1:
		return fmt.Errorf("%q is not a valid business id (no Y-tunnus has remainder 1)", bid)
	default:
		check = 11 - r
	}
	if int(bid[8]-'0') != check {
		return fmt.Errorf("%q has a wrong check digit (want %d)", bid, check)
	}
	return nil
}
