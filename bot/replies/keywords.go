package replies

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/heraldops/herald/bot"
)

var _ KeywordHandler = (*OptOutKeywords)(nil)

// KeywordAction is what an inbound keyword asks for.
type KeywordAction int

const (
	KeywordNone   KeywordAction = iota
	KeywordOptOut               // STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT
	KeywordOptIn                // START, YES, UNSTOP
	KeywordHelp                 // HELP, INFO
)

// The keywords carriers and Twilio recognise (Twilio's default opt-out
// handling uses the same list), so a person gets the same result whether or
// not the provider acts on them too.
var keywordActions = map[string]KeywordAction{
	"STOP": KeywordOptOut, "STOPALL": KeywordOptOut, "UNSUBSCRIBE": KeywordOptOut,
	"CANCEL": KeywordOptOut, "END": KeywordOptOut, "QUIT": KeywordOptOut,
	"START": KeywordOptIn, "YES": KeywordOptIn, "UNSTOP": KeywordOptIn,
	"HELP": KeywordHelp, "INFO": KeywordHelp,
}

// ParseKeyword recognises a keyword when it is the whole message, ignoring
// case, spaces and trailing punctuation ("Stop.", " stop all "). A keyword
// inside a sentence ("we cannot stop the outage") is a normal reply.
func ParseKeyword(body string) KeywordAction {
	var b strings.Builder
	for _, r := range body {
		if !unicode.IsSpace(r) {
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	word := strings.TrimRight(b.String(), ".!")
	return keywordActions[word]
}

// OptOutKeywords handles STOP / START / HELP in inbound messages: it keeps
// the opt-out list that planning honours, audits the change, and says what
// to answer.
type OptOutKeywords struct {
	Phones bot.PhoneStore
	Audit  bot.AuditLog
	Clock  bot.Clock
	// HelpText answers HELP and INFO (default TextHelp).
	HelpText string
	// ProviderAnswersSMS is set when Twilio's own opt-out handling (Advanced
	// Opt-Out) is on: Twilio then answers STOP/START/HELP on SMS itself, so
	// herald records the change but stays silent there. WhatsApp has no
	// provider handling and is always answered.
	ProviderAnswersSMS bool
}

// HandleKeyword acts on a keyword message. handled is false for anything
// else; answer is what to send back ("" for nothing).
func (k *OptOutKeywords) HandleKeyword(ctx context.Context, in bot.Inbound) (handled bool, answer string, err error) {
	action := ParseKeyword(in.Body)
	if action == KeywordNone {
		return false, "", nil
	}
	var audit bot.AuditAction
	switch action {
	case KeywordOptOut, KeywordOptIn:
		out := action == KeywordOptOut
		if err := k.Phones.SetOptOut(ctx, in.From, out); err != nil {
			return true, "", fmt.Errorf("recording the opt-out choice (%t) of %s: %w", out, bot.MaskPhone(in.From), err)
		}
		audit, answer = bot.AuditPhoneOptIn, TextOptedIn
		if out {
			audit, answer = bot.AuditPhoneOptOut, TextOptedOut
		}
	case KeywordHelp:
		audit, answer = bot.AuditPhoneHelp, k.HelpText
		if answer == "" {
			answer = TextHelp
		}
	}
	if k.Audit != nil {
		if err := k.Audit.Audit(ctx, bot.AuditEntry{
			At: k.now(), Actor: bot.Actor{ID: bot.MaskPhone(in.From)}, Action: audit,
			Detail: fmt.Sprintf("%q by %s from %s", strings.TrimSpace(in.Body), in.Channel.Label(), bot.MaskPhone(in.From)),
		}); err != nil {
			return true, "", fmt.Errorf("auditing a keyword from %s: %w", bot.MaskPhone(in.From), err)
		}
	}
	if k.ProviderAnswersSMS && in.Channel != bot.ChannelWhatsApp {
		answer = ""
	}
	return true, answer, nil
}

func (k *OptOutKeywords) now() time.Time {
	if k.Clock == nil {
		return bot.SystemClock{}.Now()
	}
	return k.Clock.Now()
}
