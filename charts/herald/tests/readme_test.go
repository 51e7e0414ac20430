package charttest

import (
	"slices"
	"strings"
	"testing"
)

func TestValuesRows(t *testing.T) {
	// given values with every kind of comment
	src := `# File header, not a description.

# -- Replicas,
# continued.
replicaCount: 2
image:
  # -- Repository.
  repository: herald
  tag: ""
# An example that is not a description:
# foo: bar
# -- The config.
# @default -- see the README
config:
  slack: {incident_channel: C1}
# -- Pipes | escaped.
env: {A: "b|c"}
`
	// when
	rows, undocumented, err := ValuesRows([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	// then
	want := []Row{
		{"replicaCount", "int", "`2`", "Replicas, continued."},
		{"image.repository", "string", "`\"herald\"`", "Repository."},
		{"config", "object", "see the README", "The config."},
		{"env", "object", "`{\"A\":\"b|c\"}`", "Pipes | escaped."},
	}
	if !slices.Equal(rows, want) {
		t.Errorf("rows\n%q\nwant\n%q", rows, want)
	}
	if !slices.Equal(undocumented, []string{"image.tag"}) {
		t.Errorf("undocumented %v, want [image.tag]", undocumented)
	}
	if table := Table(rows); !strings.Contains(table, "| `env` | object | `{\"A\":\"b\\|c\"}` | Pipes \\| escaped. |") {
		t.Errorf("pipes not escaped:\n%s", table)
	}
	if _, err := WithTable("no markers", ""); err == nil {
		t.Error("a README without markers accepted")
	}
}
