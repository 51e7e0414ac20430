package bot

import "strings"

// AuditAction names what an audit entry records. The values are part of the
// audit trail people read and export, so they never change once used.
type AuditAction string

// Every action herald audits.
const (
	AuditIncidentDeclare AuditAction = "incident.declare"
	AuditIncidentResolve AuditAction = "incident.resolve"

	AuditBroadcastRequest  AuditAction = "broadcast.request"  // an update waits for approval
	AuditBroadcastSend     AuditAction = "broadcast.send"     // an update sent without approval
	AuditBroadcastApprove  AuditAction = "broadcast.approve"  // four eyes said yes
	AuditBroadcastReject   AuditAction = "broadcast.reject"   // four eyes said no
	AuditBroadcastExpire   AuditAction = "broadcast.expire"   // nobody decided in time
	AuditBroadcastWithdraw AuditAction = "broadcast.withdraw" // a failed start from the terminal, undone
	AuditBroadcastRelay    AuditAction = "broadcast.relay"    // relayed by SMS during failover
	AuditBroadcastResume   AuditAction = "broadcast.resume"   // the sweeper restarted an interrupted start
	AuditBroadcastDone     AuditAction = "broadcast.done"     // every delivery settled

	AuditReplyReceive  AuditAction = "reply.receive"
	AuditReplyUnrouted AuditAction = "reply.unrouted"
	AuditReplyAnswer   AuditAction = "reply.answer"

	AuditPhoneOptOut AuditAction = "phone.opt_out"
	AuditPhoneOptIn  AuditAction = "phone.opt_in"
	AuditPhoneHelp   AuditAction = "phone.help"

	AuditFailoverForce   AuditAction = "failover.force"
	AuditRecipientForget AuditAction = "recipient.forget"
	AuditConfigReload    AuditAction = "config.reload"
)

// AuditSMSCommand is the action of an SMS command from a registered
// responder during failover: "sms.status", "sms.approve", ...
func AuditSMSCommand(command string) AuditAction {
	return AuditAction("sms." + strings.ToLower(command))
}
