package demo_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The demo drives herald from the outside, through its HTTP endpoints, like
// Slack and Twilio do: nothing it builds on may be herald's core, its
// adapters or its wiring (internal/app wires the demo, never the reverse).
func TestDemoImportsNothingOfHeraldsCore(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	const module = "github.com/heraldops/herald/"
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range parsed.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			rel, ours := strings.CutPrefix(path, module)
			if !ours {
				continue
			}
			for _, banned := range []string{"bot", "adapters", "internal/app"} {
				if rel == banned || strings.HasPrefix(rel, banned+"/") {
					t.Errorf("%s imports %s: the demo must reach herald only through its HTTP endpoints", f, path)
				}
			}
		}
	}
}
