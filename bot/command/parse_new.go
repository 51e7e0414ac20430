package command

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldops/herald/bot"
)

// parseNew reads "new <title> [flags]": the flags may stand anywhere among
// the title's words, and "--" ends them (a title may then contain "--sev").
// A word that starts with dashes but is no flag of new (--sevenfold) is part
// of the title: titles quote error messages and command lines.
func parseNew(rest string) (Command, error) {
	c := Command{Name: New, Severity: bot.DefaultSeverity}
	words := strings.Fields(rest)
	var title []string
	seen := map[Flag]bool{}
	for i := 0; i < len(words); i++ {
		w := words[i]
		if w == "--" || w == "\u2014" || w == "\u2013" {
			title = append(title, words[i+1:]...)
			break
		}
		flag, value, inline := splitFlag(w)
		if flag == "" {
			title = append(title, w)
			continue
		}
		if flag != FlagTag && seen[flag] {
			return Command{}, usageError(New, ProblemFlagTwice, string(flag))
		}
		seen[flag] = true
		if flag == FlagDrill {
			if inline {
				return Command{}, usageError(New, ProblemFlagTakesNoValue, string(flag))
			}
			c.Drill = true
			continue
		}
		if !inline {
			if i+1 >= len(words) {
				return Command{}, usageError(New, ProblemNoValue, string(flag))
			}
			i++
			value = words[i]
		}
		// "--detected 20m ago": the age may be followed by the word ago.
		if flag == FlagDetected && i+1 < len(words) && lowerASCII(words[i+1]) == "ago" {
			i++
		}
		if err := c.setFlag(flag, value); err != nil {
			return Command{}, err
		}
	}
	c.Title = strings.Join(title, " ")
	switch {
	case c.Title == "":
		return Command{}, usageError(New, ProblemNoTitle, "")
	// The workflow refuses it too; refusing here answers with new's usage at once.
	case utf8.RuneCountInString(c.Title) > bot.MaxTitleLength:
		return Command{}, usageError(New, ProblemTitleTooLong, "")
	}
	return c, nil
}

// splitFlag recognises one of new's flags in w and returns it with an
// inline value (--sev=2). Phones and chat apps turn a typed "--" into an
// en or em dash, so "—sev 2" is "--sev 2" too.
func splitFlag(w string) (flag Flag, value string, inline bool) {
	for _, dash := range []string{"\u2014", "\u2013"} {
		if strings.HasPrefix(w, dash) {
			w = "--" + w[len(dash):]
		}
	}
	if !strings.HasPrefix(w, "-") {
		return "", "", false
	}
	key, value, inline := strings.Cut(w, "=")
	switch lowerASCII(key) {
	case "-s", "--sev", "--severity":
		flag = FlagSeverity
	case "--drill":
		flag = FlagDrill
	case "--tag", "--tags":
		flag = FlagTag
	case "--detected":
		flag = FlagDetected
	default:
		return "", "", false
	}
	return flag, value, inline
}

func (c *Command) setFlag(flag Flag, value string) error {
	switch flag {
	case FlagSeverity:
		sev, ok := parseSeverity(value)
		if !ok {
			return usageError(New, ProblemBadSeverity, value)
		}
		c.Severity = sev
	case FlagTag:
		tags, err := parseTags(New, value, c.Tags)
		if err != nil {
			return err
		}
		c.Tags = tags
	case FlagDetected:
		m, ok := parseMoment(value)
		if !ok {
			return usageError(New, ProblemBadTime, value)
		}
		c.Detected = m
	}
	return nil
}

// parseSeverity reads 2, SEV2 or sev2. A bare SEV2 among the title's words
// stays title text: titles name past incidents ("Repeat of last week's
// SEV1").
func parseSeverity(s string) (int, bool) {
	s = strings.TrimPrefix(lowerASCII(s), "sev")
	if len(s) != 1 || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	n := int(s[0] - '0')
	return n, n >= bot.MinSeverity && n <= bot.MaxSeverity
}

var tagPattern = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)

// parseTags adds the comma-separated tags in s to have, without repeats.
func parseTags(cmd Name, s string, have []IncidentTag) ([]IncidentTag, error) {
	added := false
	for _, part := range strings.Split(s, ",") {
		t := IncidentTag(strings.ToLower(strings.TrimSpace(part)))
		if t == "" {
			continue
		}
		if len(t) > 32 || !tagPattern.MatchString(string(t)) {
			return nil, usageError(cmd, ProblemBadTag, part)
		}
		added = true
		if !containsTag(have, t) {
			have = append(have, t)
		}
	}
	if !added {
		return nil, usageError(cmd, ProblemBadTag, s)
	}
	return have, nil
}

func containsTag(tags []IncidentTag, t IncidentTag) bool {
	for _, x := range tags {
		if x == t {
			return true
		}
	}
	return false
}

var clockPattern = regexp.MustCompile(`^([01]?[0-9]|2[0-3]):([0-5][0-9])$`)

// maxAge bounds --detected 20m: older than a month is a typo, not a date.
const maxAge = 31 * 24 * time.Hour

// parseMoment reads --detected's value: an RFC 3339 instant, a wall-clock
// time 14:05, or an age such as 20m or 1h30m.
func parseMoment(s string) (Moment, bool) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return Moment{At: t}, true
	}
	if m := clockPattern.FindStringSubmatch(s); m != nil {
		h := m[1]
		if len(h) == 1 {
			h = "0" + h // 9:05 is written 09:05
		}
		return Moment{Clock: h + ":" + m[2]}, true
	}
	if d, err := time.ParseDuration(lowerASCII(s)); err == nil && d > 0 && d <= maxAge {
		return Moment{Ago: d}, true
	}
	return Moment{}, false
}

// parseNotify reads "notify [INC-n [<audience>[,<audience>...] <template>
// [field=value ...]]]". Chat opens a form from notify [INC-n]; SMS has no
// form, so the rest of the draft comes in the same line. A field's value
// runs on over the following words until the next field=value, since values
// such as "14:30 UTC" have spaces.
func parseNotify(rest string) (Command, error) {
	args := strings.Fields(rest)
	if len(args) == 0 {
		return Command{Name: Notify}, nil
	}
	id, ok := parseIncidentID(args[0])
	switch {
	case !ok:
		return Command{}, usageError(Notify, ProblemNotIncidentID, args[0])
	case len(args) == 1:
		return Command{Name: Notify, IncidentID: id}, nil
	case len(args) == 2:
		return Command{}, usageError(Notify, ProblemNoTemplate, "")
	}
	c := Command{Name: Notify, IncidentID: id, Template: args[2]}
	for _, a := range strings.Split(args[1], ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.Audiences = append(c.Audiences, a)
		}
	}
	if len(c.Audiences) == 0 {
		return Command{}, usageError(Notify, ProblemNoTemplate, "")
	}
	fields, err := parseFields(args[3:])
	if err != nil {
		return Command{}, err
	}
	c.Fields = fields
	return c, nil
}

// parseFields reads field=value words. A word before any field= is refused
// rather than dropped: an update sent to stakeholders with words silently
// missing is worse than being asked again.
func parseFields(words []string) (map[string]string, error) {
	fields := map[string]string{}
	var last string
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		switch {
		case ok && k == "":
			return nil, usageError(Notify, ProblemBadField, w)
		case ok:
			if _, dup := fields[k]; dup {
				return nil, usageError(Notify, ProblemFieldTwice, k)
			}
			fields[k], last = v, k
		case last == "":
			return nil, usageError(Notify, ProblemBadField, w)
		default:
			fields[last] += " " + w
		}
	}
	return fields, nil
}
