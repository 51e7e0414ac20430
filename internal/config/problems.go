package config

import (
	"sort"
	"strconv"
	"strings"
)

// Problem is one thing wrong with the configuration: where (file, line, key
// path or CSV column) and what.
type Problem struct {
	File    string // the config file or the recipients CSV, as it was named
	Line    int    // 1-based; 0 when no line applies
	Path    string // key path such as audiences[1].members[0], or a CSV column; may be empty
	Message string
}

// String formats the problem as `file:line: path: message`, leaving out the
// parts that are empty.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(p.Line))
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is every problem found in one load. As an error it prints one
// problem per line.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// sortProblems orders problems by file (in the order the files were first
// named) and line, keeping the order of discovery within a line.
func sortProblems(ps Problems, files ...string) {
	rank := func(f string) int {
		for i, g := range files {
			if f == g {
				return i
			}
		}
		return len(files)
	}
	sort.SliceStable(ps, func(i, j int) bool {
		ri, rj := rank(ps[i].File), rank(ps[j].File)
		if ri != rj {
			return ri < rj
		}
		return ps[i].Line < ps[j].Line
	})
}
