package command

import (
	"strings"
	"unicode"

	"github.com/heraldops/herald/bot"
)

// Parse reads a command line: the words after /incident in Slack or after
// the @herald mention in Teams, once the adapter has undone its platform's
// escapes. It is pure and total: any input gives a Command or a *UsageError.
//
// Command words and flags are case-insensitive, so a phone's caps lock or a
// capitalised first word reads the same. A leading "incident" (or
// "/incident") is skipped: Teams users type "@herald incident new ...", and
// people who learned the slash command type it everywhere.
func Parse(text string) (Command, error) {
	word, rest := cutWord(text)
	if w := lowerASCII(strings.TrimPrefix(word, "/")); w == "incident" {
		word, rest = cutWord(rest)
	}
	if word == "" {
		return Command{Name: Help}, nil
	}
	name, ok := lookup(word)
	if !ok {
		return Command{}, usageError("", ProblemUnknownCommand, word)
	}
	switch name {
	case New:
		return parseNew(rest)
	case Notify:
		return parseNotify(rest)
	case Status, Resolve, Reach, Scheduled:
		return parseOptionalID(name, rest)
	case List:
		return parseList(rest)
	case Reply:
		return parseReply(rest)
	case Update:
		return parseUpdate(rest)
	case Approve, Reject:
		return parseDecision(name, rest)
	case Cancel:
		return parseCancel(rest)
	case Tag:
		return parseTag(rest)
	case Clock:
		return parseClock(rest)
	case Failover:
		return parseFailover(rest)
	}
	return parseHelp(rest)
}

// ParseSMS reads an SMS command from a registered responder or approver.
// The grammar is Parse's; SMS only asks for more, because a text message
// has no channel to take the newest incident from and no form to fill in
// the rest: UPDATE needs its incident, NOTIFY its incident, audience and
// template.
func ParseSMS(text string) (Command, error) {
	c, err := Parse(text)
	if err != nil {
		return Command{}, err
	}
	switch {
	case (c.Name == Update || c.Name == Notify) && c.IncidentID == "":
		return Command{}, usageError(c.Name, ProblemNoIncidentID, "")
	case c.Name == Notify && c.Template == "":
		return Command{}, usageError(c.Name, ProblemNoTemplate, "")
	}
	return c, nil
}

// cutWord splits off the first whitespace-separated word; both parts are
// trimmed, and the rest keeps its inner spacing and newlines (a reply's
// text is passed on as typed).
func cutWord(s string) (word, rest string) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i:])
}

// parseIncidentID is bot.ParseIncidentID, also refusing ids the core would
// not read back (it takes a bare "1000000000" but not "INC-1000000000").
func parseIncidentID(s string) (string, bool) {
	id, err := bot.ParseIncidentID(s)
	if err != nil {
		return "", false
	}
	if _, err := bot.ParseIncidentID(id); err != nil {
		return "", false
	}
	return id, true
}

// hasINCPrefix reports whether a word was meant as an incident id: where a
// bare number could be something else (a stakeholder called 42), only the
// INC- form is an id, and a broken INC- word is an error, not a name.
func hasINCPrefix(w string) bool { return len(w) >= 4 && lowerASCII(w[:4]) == "inc-" }

// parseOptionalID reads "<name> [INC-n]".
func parseOptionalID(name Name, rest string) (Command, error) {
	c := Command{Name: name}
	args := strings.Fields(rest)
	switch len(args) {
	case 0:
		return c, nil
	case 1:
		id, ok := parseIncidentID(args[0])
		if !ok {
			return Command{}, usageError(name, ProblemNotIncidentID, args[0])
		}
		c.IncidentID = id
		return c, nil
	}
	return Command{}, usageError(name, ProblemTooManyWords, "")
}

// parseList reads "list [all]".
func parseList(rest string) (Command, error) {
	args := strings.Fields(rest)
	switch {
	case len(args) == 0:
		return Command{Name: List}, nil
	case len(args) == 1 && lowerASCII(args[0]) == "all":
		return Command{Name: List, All: true}, nil
	}
	return Command{}, usageError(List, ProblemListArgs, "")
}

// parseReply reads "reply [INC-n] <who> <text>". The id must carry its INC-
// prefix, so a recipient called 42 is not taken for an incident.
func parseReply(rest string) (Command, error) {
	c := Command{Name: Reply}
	first, after := cutWord(rest)
	if hasINCPrefix(first) {
		id, ok := parseIncidentID(first)
		if !ok {
			return Command{}, usageError(Reply, ProblemNotIncidentID, first)
		}
		c.IncidentID = id
		rest = after
	}
	c.Who, c.Text = cutWord(rest)
	if c.Who == "" || c.Text == "" {
		return Command{}, usageError(Reply, ProblemNoWhoOrWhat, "")
	}
	return c, nil
}

// parseUpdate reads "update [INC-n] <text>". A bare number first is the
// incident, as SMS responders have always typed UPDATE 42 ...; an update's
// text starting with a number can say INC-n first.
func parseUpdate(rest string) (Command, error) {
	c := Command{Name: Update}
	first, after := cutWord(rest)
	if id, ok := parseIncidentID(first); ok {
		c.IncidentID, rest = id, after
	} else if hasINCPrefix(first) {
		return Command{}, usageError(Update, ProblemNotIncidentID, first)
	}
	c.Text = rest
	if c.Text == "" {
		return Command{}, usageError(Update, ProblemNoText, "")
	}
	return c, nil
}

// parseDecision reads "approve <code> [note]" and "reject <code> [reason]".
// Words after an approval's code are kept as its Reason rather than refused:
// "APPROVE 4821 ok" typed under stress must still approve.
func parseDecision(name Name, rest string) (Command, error) {
	code, reason := cutWord(rest)
	if code == "" {
		return Command{}, usageError(name, ProblemNoCode, "")
	}
	if !isCode(code) {
		return Command{}, usageError(name, ProblemBadCode, code)
	}
	return Command{Name: name, Code: code, Reason: reason}, nil
}

// isCode: approval codes are short letters and digits (4 digits today).
func isCode(s string) bool {
	if len(s) > 16 {
		return false
	}
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			return false
		}
	}
	return true
}

// parseCancel reads "cancel [INC-n | <broadcast or scheduled update id>]".
func parseCancel(rest string) (Command, error) {
	args := strings.Fields(rest)
	switch len(args) {
	case 0:
		return Command{Name: Cancel}, nil
	case 1:
		if id, ok := parseIncidentID(args[0]); ok {
			return Command{Name: Cancel, IncidentID: id}, nil
		}
		if !isTarget(args[0]) {
			return Command{}, usageError(Cancel, ProblemBadTarget, args[0])
		}
		// Ids are shown upper-case (B-7-1); people type them any way.
		return Command{Name: Cancel, Target: strings.ToUpper(args[0])}, nil
	}
	return Command{}, usageError(Cancel, ProblemTooManyWords, "")
}

// isTarget: a broadcast or schedule id is letters, digits and hyphens.
func isTarget(s string) bool {
	if len(s) > 40 || s[0] == '-' {
		return false
	}
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || r == '-') {
			return false
		}
	}
	return true
}

// parseTag reads "tag INC-n <tag>[,<tag>...]".
func parseTag(rest string) (Command, error) {
	args := strings.Fields(rest)
	if len(args) == 0 {
		return Command{}, usageError(Tag, ProblemNoIncidentID, "")
	}
	id, ok := parseIncidentID(args[0])
	switch {
	case !ok && hasINCPrefix(args[0]):
		return Command{}, usageError(Tag, ProblemNotIncidentID, args[0])
	case !ok:
		return Command{}, usageError(Tag, ProblemNoIncidentID, "")
	case len(args) == 1:
		return Command{}, usageError(Tag, ProblemTagNeedsOneTag, "")
	case len(args) > 2:
		return Command{}, usageError(Tag, ProblemTooManyWords, "")
	}
	tags, err := parseTags(Tag, args[1], nil)
	if err != nil {
		return Command{}, err
	}
	return Command{Name: Tag, IncidentID: id, Tags: tags}, nil
}

// parseClock reads "clock INC-n done <name>"; a clock's name may have spaces
// (DORA initial notification).
func parseClock(rest string) (Command, error) {
	first, rest := cutWord(rest)
	id, ok := parseIncidentID(first)
	switch {
	case !ok && hasINCPrefix(first):
		return Command{}, usageError(Clock, ProblemNotIncidentID, first)
	case !ok:
		return Command{}, usageError(Clock, ProblemNoIncidentID, "")
	}
	verb, name := cutWord(rest)
	name = strings.Join(strings.Fields(name), " ")
	if lowerASCII(verb) != "done" || name == "" {
		return Command{}, usageError(Clock, ProblemClockNeedsDone, "")
	}
	return Command{Name: Clock, IncidentID: id, ClockName: name}, nil
}

// parseFailover reads "failover on|off".
func parseFailover(rest string) (Command, error) {
	if args := strings.Fields(rest); len(args) == 1 {
		switch lowerASCII(args[0]) {
		case "on":
			return Command{Name: Failover, On: true}, nil
		case "off":
			return Command{Name: Failover}, nil
		}
	}
	return Command{}, usageError(Failover, ProblemOnOrOff, "")
}

// parseHelp reads "help [<command>]". Anything else after help ("help me")
// is the plea it looks like, answered with the full list, not a refusal.
func parseHelp(rest string) (Command, error) {
	c := Command{Name: Help}
	if args := strings.Fields(rest); len(args) == 1 {
		if n, ok := lookup(args[0]); ok && n != Help {
			c.Topic = n
		}
	}
	return c, nil
}
