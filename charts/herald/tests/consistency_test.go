package charttest

import (
	"strings"
	"testing"
)

func TestConsistencyFindsBrokenWiring(t *testing.T) {
	objs, err := DecodeStrict([]byte(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: herald}
spec:
  selector: {matchLabels: {app: herald}}
  template:
    metadata: {labels: {app: herald}}
    spec:
      containers:
        - name: herald
          ports: [{name: http, containerPort: 8080}]
          env: [{name: A, value: "1"}, {name: A, value: "2"}]
          readinessProbe: {httpGet: {path: /readyz, port: web}}
---
apiVersion: v1
kind: Service
metadata: {name: herald}
spec:
  selector: {app: herald-typo}
  ports: [{name: metrics, port: 9090, targetPort: metrics}]
`))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(consistency(objs), "\n")
	for _, want := range []string{"sets A twice", `readiness probe on port "web"`, "Service herald selects no pod", `targets port "metrics"`} {
		if !strings.Contains(got, want) {
			t.Errorf("consistency did not report %q; got:\n%s", want, got)
		}
	}
}
