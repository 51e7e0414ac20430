package teams

import (
	"errors"
	"fmt"
	"html"
	"regexp"
	"strconv"
	"strings"

	"github.com/heraldops/herald/bot"
)

// Command is one parsed chat command.
type Command struct {
	Name       string // new, notify, status, list, resolve, reply, help
	Title      string // new
	Severity   int    // new; bot.DefaultSeverity when not given
	IncidentID string // notify, status, resolve; empty: the newest open one here
	Who        string // reply
	Text       string // reply
	All        bool   // list all (resolved too)
}

// ErrUsage marks a command herald did not understand; its message says why.
var ErrUsage = errors.New("usage")

var atTag = regexp.MustCompile(`(?is)<at>(.*?)</at>`)

// StripMention removes the bot's own @mention ("<at>herald</at>") from a
// Teams message and decodes the few HTML entities Teams puts in plain text.
// botName is the mentioned name from the activity's mention entity, if known;
// without it a leading mention is taken to be the bot's (a channel message
// only reaches the bot when the bot is mentioned).
func StripMention(text, botName string) string {
	stripped := false
	text = atTag.ReplaceAllStringFunc(text, func(m string) string {
		name := strings.TrimSpace(atTag.FindStringSubmatch(m)[1])
		if (botName != "" && strings.EqualFold(name, botName)) || (botName == "" && !stripped) {
			stripped = true
			return " "
		}
		return name // another person's mention reads as their name
	})
	text = html.UnescapeString(text)
	text = strings.ReplaceAll(text, "\u00a0", " ")
	return strings.TrimSpace(text)
}

// ParseCommand parses what was typed after the mention. The "incident"
// prefix is optional ("incident new X", "/incident new X" and "new X" are
// the same); an empty text is help.
func ParseCommand(text string) (Command, error) {
	fields := strings.Fields(text)
	if len(fields) > 0 && strings.EqualFold(strings.TrimPrefix(fields[0], "/"), "incident") {
		fields = fields[1:]
	}
	if len(fields) == 0 {
		return Command{Name: "help"}, nil
	}
	name := strings.ToLower(fields[0])
	args := fields[1:]
	switch name {
	case "help", "?":
		return Command{Name: "help"}, nil
	case "new", "declare":
		return parseNew(args)
	case "notify", "status", "resolve":
		c := Command{Name: name}
		if len(args) > 1 {
			return Command{}, fmt.Errorf("%w: %s", ErrUsage, textTakesOneID(name))
		}
		if len(args) == 1 {
			id, err := bot.ParseIncidentID(args[0])
			if err != nil {
				return Command{}, fmt.Errorf("%w: %v", ErrUsage, err)
			}
			c.IncidentID = id
		}
		return c, nil
	case "list":
		c := Command{Name: "list"}
		if len(args) == 1 && strings.EqualFold(args[0], "all") {
			c.All = true
		} else if len(args) > 0 {
			return Command{}, fmt.Errorf("%w: %s", ErrUsage, textListArgs)
		}
		return c, nil
	case "reply":
		if len(args) < 2 {
			return Command{}, fmt.Errorf("%w: %s", ErrUsage, textReplyNeedsWhoAndWhat)
		}
		c := Command{Name: "reply", Who: args[0], Text: strings.Join(args[1:], " ")}
		// An incident id may come first: reply INC-4 dana text.
		// Only the INC- form: a bare number may be a stakeholder's id.
		if id, err := bot.ParseIncidentID(args[0]); err == nil && len(args) >= 3 && strings.HasPrefix(strings.ToUpper(args[0]), "INC-") {
			c.IncidentID, c.Who, c.Text = id, args[1], strings.Join(args[2:], " ")
		}
		return c, nil
	}
	return Command{}, fmt.Errorf("%w: %s", ErrUsage, textUnknownCommand(fields[0]))
}

func parseNew(args []string) (Command, error) {
	c := Command{Name: "new", Severity: bot.DefaultSeverity}
	var title []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		var val string
		switch {
		case a == "--sev" || a == "-s" || a == "--severity":
			if i+1 >= len(args) {
				return Command{}, fmt.Errorf("%w: %s", ErrUsage, textSevNeedsNumber())
			}
			i++
			val = args[i]
		case strings.HasPrefix(a, "--sev="):
			val = strings.TrimPrefix(a, "--sev=")
		default:
			title = append(title, a)
			continue
		}
		sev, err := strconv.Atoi(strings.TrimPrefix(strings.ToLower(val), "sev"))
		if err != nil || sev < bot.MinSeverity || sev > bot.MaxSeverity {
			return Command{}, fmt.Errorf("%w: %s", ErrUsage, textBadSeverity(val))
		}
		c.Severity = sev
	}
	c.Title = strings.Join(title, " ")
	if c.Title == "" {
		return Command{}, fmt.Errorf("%w: %s", ErrUsage, textNoTitle)
	}
	return c, nil
}
