package houserules

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/heraldops/herald"

// maxProductionLines is the longest a non-test Go file may be: past it a
// file holds more than one idea, and wants splitting by step or by concern.
const maxProductionLines = 450

// goFile is one Go source file of the repository, relative to its root.
type goFile struct {
	rel     string // slash-separated, e.g. "bot/relay/send.go"
	imports []string
	lines   int
}

func repoFiles(t *testing.T) []goFile {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found from %s: %v", root, err)
	}
	var files []goFile
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin" || name == "node_modules") {
				return filepath.SkipDir
			}
			// A nested module (the chart's checks) has rules of its own.
			if p != root {
				if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, p, src, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		gf := goFile{rel: filepath.ToSlash(rel), lines: strings.Count(string(src), "\n")}
		for _, is := range f.Imports {
			ip, _ := strconv.Unquote(is.Path.Value)
			gf.imports = append(gf.imports, ip)
		}
		files = append(files, gf)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 100 {
		t.Fatalf("found only %d Go files under %s: is this the repository root?", len(files), root)
	}
	return files
}

func isStdlib(importPath string) bool {
	first, _, _ := strings.Cut(importPath, "/")
	return !strings.Contains(first, ".")
}

// TestCoreImportsOnlyTheStandardLibraryAndItself keeps the domain core free
// of SDKs, drivers, adapters and wiring, so it can be read, tested and
// reasoned about on its own. Test helpers (bot/bottest) follow the same rule.
func TestCoreImportsOnlyTheStandardLibraryAndItself(t *testing.T) {
	for _, f := range repoFiles(t) {
		if !strings.HasPrefix(f.rel, "bot/") {
			continue
		}
		for _, ip := range f.imports {
			if isStdlib(ip) || ip == module+"/bot" || strings.HasPrefix(ip, module+"/bot/") {
				continue
			}
			t.Errorf("%s imports %s: the core (bot/...) may import only the standard library and bot/...", f.rel, ip)
		}
	}
}

// TestAdaptersDoNotImportEachOther keeps each platform's adapter replaceable:
// what two adapters share belongs in the core or in internal/.
func TestAdaptersDoNotImportEachOther(t *testing.T) {
	for _, f := range repoFiles(t) {
		own, ok := adapterOf(f.rel)
		if !ok {
			continue
		}
		for _, ip := range f.imports {
			rest, ok := strings.CutPrefix(ip, module+"/adapters/")
			if !ok {
				continue
			}
			other, _, _ := strings.Cut(rest, "/")
			if other != own {
				t.Errorf("%s (adapter %s) imports %s: adapters must not import one another", f.rel, own, ip)
			}
		}
	}
}

func adapterOf(rel string) (string, bool) {
	rest, ok := strings.CutPrefix(rel, "adapters/")
	if !ok {
		return "", false
	}
	name, _, ok := strings.Cut(rest, "/")
	return name, ok
}

// TestNothingImportsTheWiring: no package under bot/ or
// adapters/ imports internal/app or cmd/, which would turn the wiring
// inside out.
func TestNothingImportsTheWiring(t *testing.T) {
	for _, f := range repoFiles(t) {
		if strings.HasPrefix(f.rel, "internal/app/") || strings.HasPrefix(f.rel, "cmd/") || strings.HasPrefix(f.rel, "internal/e2e/") {
			continue
		}
		for _, ip := range f.imports {
			if ip == module+"/internal/app" || strings.HasPrefix(ip, module+"/cmd/") {
				if strings.HasPrefix(f.rel, "internal/demo/") && ip == module+"/internal/app" {
					continue // the demo runs herald's own wiring, by design
				}
				t.Errorf("%s imports %s: only cmd/herald and the end-to-end tests may use the wiring", f.rel, ip)
			}
		}
	}
}

// TestProductionFilesStayShort fails when a non-test file passes
// maxProductionLines: split it by step (plan, persist, announce) or concern.
func TestProductionFilesStayShort(t *testing.T) {
	for _, f := range repoFiles(t) {
		if strings.HasSuffix(f.rel, "_test.go") {
			continue
		}
		if f.lines > maxProductionLines {
			t.Errorf("%s has %d lines (at most %d): split it by step or by concern", f.rel, f.lines, maxProductionLines)
		}
	}
}

// TestEveryPackageHasADocGo: each package says in doc.go what it owns and
// what it must never import.
func TestEveryPackageHasADocGo(t *testing.T) {
	dirs := map[string]bool{}
	hasDoc := map[string]bool{}
	for _, f := range repoFiles(t) {
		dir := path.Dir(f.rel)
		if strings.HasSuffix(f.rel, "_test.go") {
			continue
		}
		dirs[dir] = true
		if path.Base(f.rel) == "doc.go" {
			hasDoc[dir] = true
		}
	}
	for dir := range dirs {
		if !hasDoc[dir] {
			t.Errorf("package %s has no doc.go saying what it owns", dir)
		}
	}
}
