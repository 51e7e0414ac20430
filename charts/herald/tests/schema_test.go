package charttest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestLint(t *testing.T) {
	examples, _ := filepath.Glob(filepath.Join(chartDir, "examples", "*.yaml"))
	for _, args := range append([][]string{nil, {"--set", "replicaCount=3"}}, func() (a [][]string) {
		for _, f := range examples {
			a = append(a, []string{"-f", f})
		}
		return a
	}()...) {
		if out, stderr, err := helm(t, append([]string{"lint", "--strict", chartDir}, args...)...); err != nil {
			t.Errorf("helm lint --strict %v: %v\n%s%s", args, err, out, stderr)
		}
	}
}

// Values the schema or the templates refuse: helm lint and helm template
// must both fail, naming what is wrong.
func TestRefusedValues(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"a typo at the top", []string{"--set", "replicaCont=2"}, "additional properties 'replicaCont' not allowed"},
		{"a typo in a values file", []string{"-f", "replicaCont: 2\n"}, "additional properties 'replicaCont' not allowed"},
		{"a word for a number", []string{"--set", "replicaCount=three"}, "/replicaCount': got string, want integer"},
		{"a word for a number in a file", []string{"-f", "replicaCount: three\n"}, "/replicaCount': got string, want integer"},
		{"a nested typo", []string{"--set", "metrics.serviceMonitor.enable=true"}, "additional properties 'enable' not allowed"},
		{"metrics through the ingress", []string{"--set", "ingress.paths={/slack/,/metrics}"}, "/ingress/paths/1': value must be one of"},
		{"readiness through the ingress", []string{"--set", "ingress.paths={/}"}, "/ingress/paths/0': value must be one of"},
		{"an Ingress with no path", []string{"--set-json", "ingress.paths=[]"}, "/ingress/paths': minItems"},
		{"a bad pull policy", []string{"--set", "image.pullPolicy=Sometimes"}, "/image/pullPolicy'"},
		{"a port out of range", []string{"--set", "metrics.port=70000"}, "/metrics/port'"},
		{"not a Redis URL", []string{"--set", "redis.url=http://redis:6379"}, "/redis/url'"},
		// Refused by the templates (fail), which helm lint reports but
		// does not count as an error; install and template refuse them.
		{"two config sources", []string{"--set", "existingConfigMap=a,existingConfigSecret=b"}, "set existingConfigMap or existingConfigSecret, not both"},
		{"metrics on the webhook port", []string{"--set", "metrics.port=8080"}, "metrics.port must differ from containerPort"},
		{"a password placeholder without its Secret", []string{"--set", "redis.url=redis://:$(REDIS_PASSWORD)@r:6379"}, "redis.passwordSecret.name is empty"},
		{"a password Secret the URL does not use", []string{"--set", "redis.url=redis://r:6379,redis.passwordSecret.name=redis"}, "redis.url has no $(REDIS_PASSWORD)"},
		{"a variable the chart sets", []string{"--set", "env.HERALD_ADDR=:9000"}, "env.HERALD_ADDR: the chart sets HERALD_ADDR from containerPort"},
		{"REDIS_URL twice", []string{"--set", "redis.url=redis://r:6379,env.REDIS_URL=redis://s:6379"}, "REDIS_URL is given twice"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if args[0] == "-f" {
				args = []string{"-f", writeValues(t, args[1])}
			}
			for _, cmd := range [][]string{{"lint", chartDir}, {"template", "herald", chartDir}} {
				out, stderr, err := helm(t, append(cmd, args...)...)
				if err == nil && cmd[0] == "lint" && strings.Contains(stderr, "Fail: ") && strings.Contains(stderr, tt.want) {
					continue
				}
				if err == nil {
					t.Errorf("helm %s %v passed:\n%.400s", cmd[0], tt.args, out)
					continue
				}
				if !strings.Contains(stderr, tt.want) {
					t.Errorf("helm %s %v failed without saying %q:\n%s", cmd[0], tt.args, tt.want, stderr)
				}
			}
		})
	}
}

// What the schema cannot know (fields of Kubernetes types passed through,
// like extraEnv or a probe) the strict decode catches.
func TestStrictDecodeCatchesWrongFields(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"misspelt EnvVar field", []string{"--set-json", `extraEnv=[{"name":"X","valueFrm":{}}]`}, `unknown field "spec.template.spec.containers[0].env[4].valueFrm"`},
		{"a string for a number", []string{"--set-json", `livenessProbe={"httpGet":{"path":"/healthz","port":"http"},"periodSeconds":"10"}`}, "periodSeconds"},
		{"misspelt securityContext field", []string{"--set-json", `securityContext={"readOnlyRootFileSystem":true}`}, `unknown field "spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, err := helm(t, append([]string{"template", "herald", chartDir}, tt.args...)...)
			if err != nil {
				t.Fatalf("helm template itself failed: %v\n%s", err, stderr)
			}
			_, err = DecodeStrict(out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("strict decode = %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

// The schema and values.yaml describe the same keys: every value the chart
// has is in the schema (else the defaults themselves would be refused), and
// every key the schema allows in an object the chart owns has a default
// (and so a description) in values.yaml.
func TestSchemaMatchesValues(t *testing.T) {
	var schema map[string]any
	raw, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatalf("values.schema.json: %v", err)
	}
	if schema["$schema"] != "http://json-schema.org/draft-07/schema#" {
		t.Errorf("$schema = %v, want draft-07", schema["$schema"])
	}
	var values map[string]any
	raw, err = os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &values); err != nil {
		t.Fatal(err)
	}
	var problems []string
	var walk func(s map[string]any, v map[string]any, path string)
	walk = func(s map[string]any, v map[string]any, path string) {
		props, owned := s["properties"].(map[string]any)
		if !owned {
			return // a Kubernetes type or free-form map
		}
		if s["additionalProperties"] != false {
			problems = append(problems, path+": an object the chart owns must set additionalProperties: false")
		}
		for k := range v {
			if _, ok := props[k]; !ok {
				problems = append(problems, path+k+": in values.yaml, not in the schema")
			}
		}
		for k, ps := range props {
			if path == "" && k == "global" {
				continue // Helm's own, for subcharts
			}
			sub, ok := v[k]
			if !ok {
				problems = append(problems, path+k+": in the schema, not in values.yaml")
				continue
			}
			if vm, ok := sub.(map[string]any); ok {
				walk(ps.(map[string]any), vm, path+k+".")
			}
		}
	}
	walk(schema, values, "")
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
}

// Every value in values.yaml has a description, and the chart README's
// table is the one generated from them (go test -run TestReadme -update).
func TestReadme(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rows, undocumented, err := ValuesRows(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(undocumented) > 0 {
		t.Errorf("values without a `# --` description in values.yaml: %s", strings.Join(undocumented, ", "))
	}
	path := filepath.Join(chartDir, "README.md")
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := WithTable(string(old), Table(rows))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want != string(old) {
		t.Errorf("%s is stale: regenerate it with `cd charts/herald/tests && go test -run TestReadme -update`", path)
	}
	for _, key := range []string{"replicaCount", "config", "redis.url", "metrics.port", "networkPolicy.egress.redisPorts"} {
		if !slices.ContainsFunc(rows, func(r Row) bool { return r.Key == key }) {
			t.Errorf("README table lacks %s", key)
		}
	}
}
