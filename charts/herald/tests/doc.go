// Package charttest checks the herald Helm chart: helm lint, helm template
// with three replicas and with each optional feature on, a strict decode of
// every rendered object into the Kubernetes API types (a wrong field name or
// type fails, as it would at kubectl apply with server-side validation), the
// values schema refusing typos and wrong types, and the chart README's values
// table being generated from values.yaml's comments.
//
// It is a Go module of its own, so herald's go.mod never takes the
// Kubernetes API modules. `make chart-test` builds helm and runs it; by hand:
//
//	HELM=/path/to/helm go test ./...
//	go test -run TestReadme -update   # regenerate the README's values table
package charttest
