package charttest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// chartDir is the chart under test, relative to this package.
const chartDir = ".."

// helmBin is the helm to run: $HELM (make chart-test builds helm v3.22.0
// and sets it), else helm on PATH.
func helmBin(t *testing.T) string {
	t.Helper()
	if h := os.Getenv("HELM"); h != "" {
		return h
	}
	h, err := exec.LookPath("helm")
	if err != nil {
		t.Fatal("no helm: run `make chart-test` from the repository root (it builds helm v3.22.0), or set HELM=/path/to/helm")
	}
	return h
}

// helm runs helm with args and returns its stdout, and stderr on failure.
func helm(t *testing.T, args ...string) (stdout []byte, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(helmBin(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	// No repository config or cache of the developer's is read or written.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"), "HELM_DATA_HOME="+filepath.Join(home, "data"))
	err = cmd.Run()
	return out.Bytes(), errb.String() + out.String(), err
}

// render runs helm template with args (--set, -f...) and strictly decodes
// every object; any failure fails the test.
func render(t *testing.T, args ...string) []Object {
	t.Helper()
	out, stderr, err := helm(t, append([]string{"template", "herald", chartDir, "--namespace", "incidents"}, args...)...)
	if err != nil {
		t.Fatalf("helm template %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	objs, err := DecodeStrict(out)
	if err != nil {
		t.Fatalf("helm template %s: %v", strings.Join(args, " "), err)
	}
	for _, p := range consistency(objs) {
		t.Errorf("helm template %s: %s", strings.Join(args, " "), p)
	}
	return objs
}

// one returns the only object of kind, failing when there is not exactly one.
func one[T any](t *testing.T, objs []Object, kind string) T {
	t.Helper()
	var found []T
	for _, o := range objs {
		if o.Kind == kind {
			found = append(found, o.Value.(T))
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s, rendered %d", kind, len(found))
	}
	return found[0]
}

func count(objs []Object, kind string) int {
	n := 0
	for _, o := range objs {
		if o.Kind == kind {
			n++
		}
	}
	return n
}

func writeValues(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
