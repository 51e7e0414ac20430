package slack

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/heraldops/herald/bot"
	"github.com/heraldops/herald/bot/workflow"
)

// Subcommands of /incident.
const (
	cmdNew      = "new"
	cmdNotify   = "notify"
	cmdStatus   = "status"
	cmdList     = "list"
	cmdResolve  = "resolve"
	cmdReply    = "reply"
	cmdFailover = "failover"
	cmdHelp     = "help"
)

// Command is a parsed /incident command line.
type Command struct {
	Name       string // new, notify, status, list, resolve, reply, failover, help
	Title      string // new
	Severity   int    // new
	IncidentID string // notify, status, resolve, reply: canonical INC-n, empty when not given
	Who        string // reply: recipient id or name
	Text       string // reply
	All        bool   // list all
	On         bool   // failover on
}

// UsageError says why a command line was not understood; Command names the
// subcommand whose usage to show (empty: show all).
type UsageError struct {
	Command string
	Problem string
}

func (e *UsageError) Error() string { return e.Problem }

var sevFlag = regexp.MustCompile(`(?i)(?:^|\s)--sev(?:erity)?(?:=|\s+|$)(\S*)`)

// cutWord splits off the first whitespace-separated word; both parts are
// trimmed.
func cutWord(s string) (word, rest string) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i:])
}

// ParseCommand parses the text after /incident, as Slack sends it (with
// &amp; &lt; &gt; escapes and <@U123|name> style references). It is pure
// and total: any input gives a Command or a *UsageError.
func ParseCommand(text string) (Command, error) {
	text = strings.TrimSpace(fromSlackText(text))
	name, rest := cutWord(text)
	name = strings.ToLower(name)
	args := strings.Fields(rest)

	switch name {
	case "", cmdHelp:
		return Command{Name: cmdHelp}, nil
	case cmdNew:
		return parseNew(rest)
	case cmdNotify, cmdStatus, cmdResolve:
		c := Command{Name: name}
		switch len(args) {
		case 0:
		case 1:
			id, err := parseIncidentID(args[0])
			if err != nil {
				return Command{}, &UsageError{Command: name, Problem: textNotAnIncidentID(args[0])}
			}
			c.IncidentID = id
		default:
			return Command{}, &UsageError{Command: name, Problem: textTooManyWords}
		}
		return c, nil
	case cmdList:
		switch {
		case len(args) == 0:
			return Command{Name: cmdList}, nil
		case len(args) == 1 && strings.EqualFold(args[0], "all"):
			return Command{Name: cmdList, All: true}, nil
		}
		return Command{}, &UsageError{Command: cmdList, Problem: textListArgs}
	case cmdReply:
		return parseReply(rest)
	case cmdFailover:
		if len(args) == 1 {
			switch strings.ToLower(args[0]) {
			case "on":
				return Command{Name: cmdFailover, On: true}, nil
			case "off":
				return Command{Name: cmdFailover}, nil
			}
		}
		return Command{}, &UsageError{Command: cmdFailover, Problem: textOnOrOff}
	}
	return Command{}, &UsageError{Problem: textUnknownCommand(truncate(name, 30))}
}

func parseNew(rest string) (Command, error) {
	c := Command{Name: cmdNew, Severity: bot.DefaultSeverity}
	flags := sevFlag.FindAllStringSubmatchIndex(rest, -1)
	switch len(flags) {
	case 0:
	case 1:
		m := flags[0]
		val := rest[m[2]:m[3]]
		n, err := strconv.Atoi(strings.TrimPrefix(strings.ToUpper(val), "SEV"))
		if err != nil || n < bot.MinSeverity || n > bot.MaxSeverity {
			return Command{}, &UsageError{Command: cmdNew, Problem: textBadSeverity(truncate(val, 10))}
		}
		c.Severity = n
		rest = rest[:m[0]] + " " + rest[m[1]:]
	default:
		return Command{}, &UsageError{Command: cmdNew, Problem: textSevTwice}
	}
	c.Title = strings.Join(strings.Fields(rest), " ")
	switch {
	case c.Title == "":
		return Command{}, &UsageError{Command: cmdNew, Problem: textNoTitle}
	case utf8.RuneCountInString(c.Title) > workflow.MaxTitleLength:
		return Command{}, &UsageError{Command: cmdNew, Problem: textTitleTooLong()}
	}
	return c, nil
}

// parseReply parses "[INC-n] <who> <text>"; the id must carry its INC-
// prefix here, so a recipient called 42 is not taken for an incident.
func parseReply(rest string) (Command, error) {
	c := Command{Name: cmdReply}
	first, after := cutWord(rest)
	if strings.HasPrefix(strings.ToUpper(first), "INC-") {
		id, err := parseIncidentID(first)
		if err != nil {
			return Command{}, &UsageError{Command: cmdReply, Problem: textNotAnIncidentID(truncate(first, 30))}
		}
		c.IncidentID = id
		rest = after
	}
	c.Who, c.Text = cutWord(rest)
	if c.Who == "" || c.Text == "" {
		return Command{}, &UsageError{Command: cmdReply, Problem: textReplyNeedsWhoAndWhat}
	}
	return c, nil
}

// parseIncidentID is bot.ParseIncidentID, also refusing ids the core would
// not read back (it takes a bare "1000000000" but not "INC-1000000000").
func parseIncidentID(s string) (string, error) {
	id, err := bot.ParseIncidentID(s)
	if err != nil {
		return "", err
	}
	if _, err := bot.ParseIncidentID(id); err != nil {
		return "", err
	}
	return id, nil
}

var slackRef = regexp.MustCompile(`<([^<>|]*)(?:\|([^<>]*))?>`)

// fromSlackText turns Slack's escaped message text into what the person
// typed: <@U1|dana> -> @dana, <#C1|ops> -> #ops, <https://x|x> -> https://x,
// then &lt; &gt; &amp; back to < > &. Slack normalises whitespace variants
// too, so non-breaking spaces become spaces.
func fromSlackText(s string) string {
	s = slackRef.ReplaceAllStringFunc(s, func(ref string) string {
		m := slackRef.FindStringSubmatch(ref)
		target, label := m[1], m[2]
		switch {
		case strings.HasPrefix(target, "@") || strings.HasPrefix(target, "#"):
			if label != "" {
				return target[:1] + label
			}
			return target
		case strings.HasPrefix(target, "!"):
			if label != "" {
				return label
			}
			return "@" + strings.TrimPrefix(target, "!")
		}
		return target
	})
	s = strings.ReplaceAll(s, "\u00a0", " ")
	return slackUnescaper.Replace(s)
}

var slackUnescaper = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")
