package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder fills a value from a yaml.Node tree, strictly: every key must be a
// field's yaml tag, every value must have the field's shape. It records each
// key path's line, so later checks can name the line of what they complain
// about, and keeps going after a problem so that all of them are reported.
type decoder struct {
	file     string
	problems Problems
	lines    map[string]int  // key path -> line of its key (or list item)
	set      map[string]bool // key paths given a non-null value

	// Aliases are expanded as they are decoded; a few nested aliases can
	// stand for billions of nodes, so expansion is capped.
	aliasDepth int
	aliasNodes int
	aborted    *Problem
}

// maxAliasNodes is how many nodes may be decoded through aliases: ample for
// anchors that share templates or recipients, far below an alias bomb.
const maxAliasNodes = 100_000

func newDecoder(file string) *decoder {
	return &decoder{file: file, lines: map[string]int{}, set: map[string]bool{}}
}

func (d *decoder) addf(line int, path, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Path: path, Message: fmt.Sprintf(format, args...)})
}

// lineOf is the line of path, or of its nearest ancestor that was written.
func (d *decoder) lineOf(path string) int {
	for path != "" {
		if l, ok := d.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return 0
		}
		path = path[:i]
	}
	return 0
}

var durationType = reflect.TypeOf(time.Duration(0))

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return fmt.Sprintf("%q", n.Value)
}

// decode fills v from n; path names v for problems.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if d.aborted != nil || n == nil {
		return
	}
	if n.Kind == yaml.AliasNode {
		d.aliasDepth++
		defer func() { d.aliasDepth-- }()
	}
	if d.aliasDepth > 0 {
		d.countAlias(n.Line, path, 1)
	}
	n = resolve(n)
	if isNull(n) || d.aborted != nil {
		return
	}
	d.set[path] = true
	if v.Type() == durationType {
		if !d.scalar(n, path, "a duration such as 30s, 5m or 72h") {
			return
		}
		dur, err := time.ParseDuration(n.Value)
		if err != nil {
			d.addf(n.Line, path, "%q is not a duration (write it like 30s, 5m or 72h)", n.Value)
			return
		}
		v.SetInt(int64(dur))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.addf(n.Line, path, "must be a list, not %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.lines[p] = resolve(item).Line
			d.decode(item, s.Index(i), p)
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.addf(n.Line, path, "must be a mapping (key: value), not %s", kindName(n))
			return
		}
		m := reflect.MakeMap(v.Type())
		first := map[string]int{}
		for _, kv := range d.pairs(n, path) {
			p := joinPath(path, kv.key.Value)
			if l, dup := first[kv.key.Value]; dup {
				d.addf(kv.key.Line, p, "defined twice (first on line %d)", l)
				continue
			}
			first[kv.key.Value] = kv.key.Line
			d.lines[p] = kv.key.Line
			e := reflect.New(v.Type().Elem()).Elem()
			d.decode(kv.value, e, p)
			m.SetMapIndex(reflect.ValueOf(kv.key.Value), e)
		}
		v.Set(m)
	case reflect.String:
		if d.scalar(n, path, "text") {
			v.SetString(n.Value)
		}
	case reflect.Bool:
		if !d.scalar(n, path, "true or false") {
			return
		}
		var b bool
		if err := n.Decode(&b); err != nil {
			d.addf(n.Line, path, "%q is not true or false", n.Value)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		if !d.scalar(n, path, "a whole number") {
			return
		}
		var i int64
		if err := n.Decode(&i); err != nil {
			d.addf(n.Line, path, "%q is not a whole number", n.Value)
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		if !d.scalar(n, path, "a number") {
			return
		}
		var f float64
		if err := n.Decode(&f); err != nil {
			d.addf(n.Line, path, "%q is not a number", n.Value)
			return
		}
		v.SetFloat(f)
	default:
		panic(fmt.Sprintf("config: no decoding for %s at %s", v.Type(), path))
	}
}

func (d *decoder) countAlias(line int, path string, n int) {
	d.aliasNodes += n
	if d.aliasNodes > maxAliasNodes && d.aborted == nil {
		d.aborted = &Problem{File: d.file, Line: line, Path: path, Message: fmt.Sprintf("aliases (*name) expand to more than %d values: write the values out", maxAliasNodes)}
	}
}

func (d *decoder) scalar(n *yaml.Node, path, want string) bool {
	if n.Kind == yaml.ScalarNode {
		return true
	}
	d.addf(n.Line, path, "must be %s, not %s", want, kindName(n))
	return false
}

type pair struct{ key, value *yaml.Node }

// pairs lists a mapping's key/value pairs, with YAML merge keys (<<: *anchor)
// expanded: keys written in the mapping itself win over merged ones.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	var explicit, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.addf(k.Line, path, "keys must be plain names, not %s", kindName(k))
			continue
		}
		if k.Tag == "!!merge" {
			v = resolve(v)
			var sources []*yaml.Node
			if v.Kind == yaml.SequenceNode {
				sources = v.Content
			} else {
				sources = []*yaml.Node{v}
			}
			for _, s := range sources {
				s = resolve(s)
				d.countAlias(k.Line, path, len(s.Content)/2)
				if d.aborted != nil {
					return nil
				}
				if s.Kind != yaml.MappingNode {
					d.addf(k.Line, path, "<< must merge a mapping, not %s", kindName(s))
					continue
				}
				merged = append(merged, d.pairs(s, path)...)
			}
			continue
		}
		explicit = append(explicit, pair{k, v})
	}
	if len(merged) == 0 {
		return explicit
	}
	have := map[string]bool{}
	for _, p := range explicit {
		have[p.key.Value] = true
	}
	out := explicit
	for _, p := range merged {
		if !have[p.key.Value] {
			have[p.key.Value] = true
			out = append(out, p)
		}
	}
	return out
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.addf(n.Line, path, "must be a mapping (key: value), not %s", kindName(n))
		return
	}
	fields := yamlFields(v.Type())
	first := map[string]int{}
	for _, kv := range d.pairs(n, path) {
		key := kv.key.Value
		p := joinPath(path, key)
		if l, dup := first[key]; dup {
			d.addf(kv.key.Line, p, "defined twice (first on line %d)", l)
			continue
		}
		first[key] = kv.key.Line
		idx, ok := fields[key]
		if !ok {
			d.addf(kv.key.Line, p, "%s", unknownKey(p, key, fields))
			continue
		}
		d.lines[p] = kv.key.Line
		d.decode(kv.value, v.Field(idx), p)
	}
}

// yamlFields maps a struct's yaml keys to field indexes.
func yamlFields(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			m[name] = i
		}
	}
	return m
}

// secretEnv says which environment variable holds the secret someone tried
// to put in the file.
var secretEnv = map[string]string{
	"slack.bot_token":      "SLACK_BOT_TOKEN",
	"slack.signing_secret": "SLACK_SIGNING_SECRET",
	"slack.app_token":      "SLACK_APP_TOKEN",
	"twilio.auth_token":    "TWILIO_AUTH_TOKEN",
	"teams.app_password":   "TEAMS_APP_PASSWORD",
	"data_key":             "HERALD_DATA_KEY",
}

func looksSecret(key string) bool {
	k := strings.ToLower(key)
	for _, s := range []string{"token", "password", "passwd", "secret", "api_key", "apikey", "private_key", "data_key"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

func unknownKey(path, key string, fields map[string]int) string {
	if looksSecret(key) {
		if env, ok := secretEnv[path]; ok {
			return "secrets are never read from the config file: set " + env + " in the environment instead"
		}
		return "looks like a secret: secrets are never read from the config file, only from environment variables (see README, Environment)"
	}
	known := make([]string, 0, len(fields))
	for k := range fields {
		known = append(known, k)
	}
	sort.Strings(known)
	best, bestDist := "", 3
	for _, k := range known {
		if dist := editDistance(key, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best != "" {
		return fmt.Sprintf("unknown key (did you mean %q?)", best)
	}
	return "unknown key (known here: " + strings.Join(known, ", ") + ")"
}

// editDistance is the Levenshtein distance between two short keys.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
