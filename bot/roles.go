package bot

import (
	"slices"
)

// Roles says who may do what. IDs are chat user ids (Slack user ids, Teams
// AAD object ids) or, for SMS during failover, E.164 phone numbers.
type Roles struct {
	Responders      []string
	Approvers       []string
	ResponderPhones []string
	ApproverPhones  []string
}

// IsResponder reports whether a may declare, compose, send and resolve.
func (r Roles) IsResponder(a Actor) bool {
	return a.ID != "" && (slices.Contains(r.Responders, a.ID) || slices.Contains(r.ResponderPhones, a.ID))
}

// IsApprover reports whether a may approve or reject updates.
func (r Roles) IsApprover(a Actor) bool {
	return a.ID != "" && (slices.Contains(r.Approvers, a.ID) || slices.Contains(r.ApproverPhones, a.ID))
}

// Role names, as shown in refusals.
const (
	RoleResponder = "responder"
	RoleApprover  = "approver"
)
