package charttest

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Object is one rendered manifest, decoded into its API type.
type Object struct {
	Kind, Name, Source string
	Value              any // *appsv1.Deployment, *corev1.Service, ...
}

// kinds are the API types the chart may render. A template that renders a
// kind missing here fails the strict decode: add its type when adding it.
var kinds = map[string]func() any{
	"v1/ConfigMap":                       func() any { return new(corev1.ConfigMap) },
	"v1/Secret":                          func() any { return new(corev1.Secret) },
	"v1/Service":                         func() any { return new(corev1.Service) },
	"v1/ServiceAccount":                  func() any { return new(corev1.ServiceAccount) },
	"apps/v1/Deployment":                 func() any { return new(appsv1.Deployment) },
	"policy/v1/PodDisruptionBudget":      func() any { return new(policyv1.PodDisruptionBudget) },
	"networking.k8s.io/v1/Ingress":       func() any { return new(networkingv1.Ingress) },
	"networking.k8s.io/v1/NetworkPolicy": func() any { return new(networkingv1.NetworkPolicy) },
	"monitoring.coreos.com/v1/ServiceMonitor": func() any {
		return new(monitoringv1.ServiceMonitor)
	},
}

var (
	docSeparator = regexp.MustCompile(`(?m)^---\s*$`)
	sourceLine   = regexp.MustCompile(`(?m)^# Source: (\S+)`)
)

// DecodeStrict splits helm template's output into its documents and decodes
// each into its Kubernetes type, refusing unknown fields, duplicate keys and
// wrong types (see decodeStrict), which a plain `helm template` and
// `helm lint` let through.
func DecodeStrict(manifests []byte) ([]Object, error) {
	var out []Object
	var errs []error
	for _, doc := range docSeparator.Split(string(manifests), -1) {
		if len(bytes.TrimSpace(stripComments([]byte(doc)))) == 0 {
			continue
		}
		src := "?"
		if m := sourceLine.FindStringSubmatch(doc); m != nil {
			src = m[1]
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			errs = append(errs, fmt.Errorf("%s: not YAML: %w", src, err))
			continue
		}
		newObj, ok := kinds[tm.APIVersion+"/"+tm.Kind]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: no API type known for %s %s: add it to kinds", src, tm.APIVersion, tm.Kind))
			continue
		}
		obj := newObj()
		if err := decodeStrict([]byte(doc), obj); err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", src, tm.Kind, err))
			continue
		}
		name := ""
		if m, ok := obj.(metav1.Object); ok {
			name = m.GetName()
		}
		out = append(out, Object{Kind: tm.Kind, Name: name, Source: src, Value: obj})
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("strict decode:\n%w", errors.Join(errs...))
	}
	return out, nil
}

// decodeStrict decodes one YAML document the way the API server does with
// strict field validation: duplicate keys refused (YAMLToJSONStrict), then
// JSON decoded case-sensitively with unknown and duplicate fields refused.
// encoding/json alone (yaml.UnmarshalStrict) matches field names without
// regard to case, so it would let readOnlyRootFileSystem pass for
// readOnlyRootFilesystem, which the API server drops.
func decodeStrict(doc []byte, obj any) error {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strictErrs, err := kjson.UnmarshalStrict(js, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}

func stripComments(doc []byte) []byte {
	var b bytes.Buffer
	for _, l := range bytes.Split(doc, []byte("\n")) {
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' {
			b.Write(l)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}
