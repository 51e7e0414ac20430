package command

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestImportsStayInTheVocabulary keeps doc.go's promise: production files
// import the standard library and bot only, and from bot only what stays in
// the root package while bot/ is split into feature packages (incident ids
// and severities), so the split cannot break this package.
func TestImportsStayInTheVocabulary(t *testing.T) {
	const botPath = "github.com/heraldops/herald/bot"
	allowed := []string{"ParseIncidentID", "IncidentID", "DefaultSeverity", "MinSeverity", "MaxSeverity", "MaxTitleLength", "CountSMS", "EncodingGSM7", "IsGSM", "GSMLookAlike", "Platform", "PlatformTeams"}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path := strings.Trim(imp.Path.Value, `"`)
			if path != botPath && strings.Contains(strings.SplitN(path, "/", 2)[0], ".") {
				t.Errorf("%s imports %s: only the standard library and bot", name, path)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == "bot" && !slices.Contains(allowed, sel.Sel.Name) {
				t.Errorf("%s: bot.%s is not in the root vocabulary (%v)", fset.Position(sel.Pos()), sel.Sel.Name, allowed)
			}
			return true
		})
	}
}
