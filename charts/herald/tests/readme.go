package charttest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Row is one value in the chart README's table.
type Row struct {
	Key, Type, Default, Description string
}

// The generated table sits between these markers in README.md; the prose
// around it is written by hand.
const (
	tableStart = "<!-- values:start (generated from values.yaml: cd tests && go test -run TestReadme -update) -->"
	tableEnd   = "<!-- values:end -->"
)

// ValuesRows reads values.yaml's documentation comments, helm-docs style: a
// `# -- text` comment block right above a key describes it (continued by
// the `#` lines after it; `# @default -- text` replaces the shown default).
// A documented key is one row, whatever is below it; an undocumented
// mapping is described by its keys; any other undocumented key is returned
// in undocumented, so a value cannot be added without a description.
func ValuesRows(src []byte) (rows []Row, undocumented []string, err error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, nil, fmt.Errorf("reading values.yaml: %w", err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, errors.New("values.yaml is not a mapping")
	}
	var walk func(m *yaml.Node, prefix string) error
	walk = func(m *yaml.Node, prefix string) error {
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			key := prefix + k.Value
			desc, def, ok := docComment(k.HeadComment)
			switch {
			case ok:
				if def == "" {
					var err error
					if def, err = defaultOf(v); err != nil {
						return fmt.Errorf("%s: %w", key, err)
					}
				}
				rows = append(rows, Row{Key: key, Type: typeOf(v), Default: def, Description: desc})
			case v.Kind == yaml.MappingNode && len(v.Content) > 0:
				if err := walk(v, key+"."); err != nil {
					return err
				}
			default:
				undocumented = append(undocumented, key)
			}
		}
		return nil
	}
	if err := walk(doc.Content[0], ""); err != nil {
		return nil, nil, err
	}
	return rows, undocumented, nil
}

// docComment returns the text of the last `# --` block of a head comment
// (earlier lines there are commented-out examples, not the description).
func docComment(head string) (desc, def string, ok bool) {
	lines := strings.Split(head, "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "# --") {
			start = i
		}
	}
	if start < 0 {
		return "", "", false
	}
	var words []string
	for i, l := range lines[start:] {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "#"))
		if i == 0 {
			l = strings.TrimSpace(strings.TrimPrefix(l, "--"))
		}
		if d, found := strings.CutPrefix(l, "@default --"); found {
			def = strings.TrimSpace(d)
			continue
		}
		if l != "" {
			words = append(words, l)
		}
	}
	return strings.Join(words, " "), def, true
}

func typeOf(v *yaml.Node) string {
	switch v.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "object"
	}
	switch v.Tag {
	case "!!int":
		return "int"
	case "!!bool":
		return "bool"
	case "!!float":
		return "float"
	}
	return "string"
}

// defaultOf shows a value as compact JSON in a code span, as helm-docs does.
func defaultOf(v *yaml.Node) (string, error) {
	var x any
	if err := v.Decode(&x); err != nil {
		return "", err
	}
	b, err := json.Marshal(x)
	if err != nil {
		return "", err
	}
	return "`" + string(b) + "`", nil
}

// Table renders rows as the README's Markdown table.
func Table(rows []Row) string {
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	var b strings.Builder
	b.WriteString("| Key | Type | Default | Description |\n|-----|------|---------|-------------|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", r.Key, r.Type, cell(r.Default), cell(r.Description))
	}
	return b.String()
}

// WithTable returns readme with the text between the markers replaced by
// table.
func WithTable(readme, table string) (string, error) {
	i, j := strings.Index(readme, tableStart), strings.Index(readme, tableEnd)
	if i < 0 || j < i {
		return "", fmt.Errorf("README lacks the markers %q and %q", tableStart, tableEnd)
	}
	return readme[:i+len(tableStart)] + "\n" + table + readme[j:], nil
}
