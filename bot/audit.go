package bot

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"
)

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

	AuditFailoverAuto   AuditAction = "failover.auto"   // the chat health check switched mode by itself
	AuditFailoverStatus AuditAction = "failover.status" // the mode was read at the terminal

	AuditAuditRead   AuditAction = "audit.read"   // the trail was printed at the terminal
	AuditAuditExport AuditAction = "audit.export" // the trail was exported for an auditor
	AuditAuditVerify AuditAction = "audit.verify" // the chain was checked
	AuditCLIRefused  AuditAction = "cli.refused"  // roles.operators refused a terminal command
)

// AuditSMSCommand is the action of an SMS command from a registered
// responder during failover: "sms.status", "sms.approve", ...
func AuditSMSCommand(command string) AuditAction {
	return AuditAction("sms." + strings.ToLower(command))
}

// AuditHashVersion starts the canonical encoding AuditHash digests, so a
// future change of encoding cannot be confused with this one.
const AuditHashVersion = "herald-audit-v1"

// AuditHash is the hash that chains an entry to the one before it: SHA-256,
// hex, over a canonical encoding of the entry followed by prev, the previous
// entry's hash ("" for the first entry ever written). The encoding is the
// sequence AuditHashVersion, time (UTC, RFC 3339 with nanoseconds), actor
// platform, actor id, actor name, action, incident, detail, prev, each
// written as its byte length (unsigned varint) then its bytes. It is spelled
// out, not JSON, so that anyone holding the entries can recompute it in any
// language, and so a new field in AuditEntry never silently changes it.
func AuditHash(e AuditEntry, prev string) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, f := range []string{AuditHashVersion, e.At.UTC().Format(time.RFC3339Nano), string(e.Actor.Platform),
		e.Actor.ID, e.Actor.Name, string(e.Action), e.IncidentID, e.Detail, prev} {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(f)))])
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}
