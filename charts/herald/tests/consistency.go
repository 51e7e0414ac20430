package charttest

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// consistency finds what decodes well but would not work: the API server
// takes a Service whose selector matches no pod, or a probe on a port name
// the container does not have, and the install then fails at run time.
func consistency(objs []Object) []string {
	var problems []string
	var pods []map[string]string
	ports := map[string]bool{}
	for _, o := range objs {
		d, ok := o.Value.(*appsv1.Deployment)
		if !ok {
			continue
		}
		pods = append(pods, d.Spec.Template.Labels)
		for k, v := range d.Spec.Selector.MatchLabels {
			if d.Spec.Template.Labels[k] != v {
				problems = append(problems, fmt.Sprintf("Deployment %s selects %s=%s, its pods have %q", d.Name, k, v, d.Spec.Template.Labels[k]))
			}
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			seen := map[string]bool{}
			for _, e := range c.Env {
				if seen[e.Name] {
					problems = append(problems, fmt.Sprintf("container %s sets %s twice", c.Name, e.Name))
				}
				seen[e.Name] = true
			}
			for _, p := range c.Ports {
				ports[p.Name] = true
			}
			for name, pr := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
				if pr != nil && pr.HTTPGet != nil && pr.HTTPGet.Port.Type == intstr.String && !ports[pr.HTTPGet.Port.StrVal] {
					problems = append(problems, fmt.Sprintf("%s probe on port %q, which container %s does not have", name, pr.HTTPGet.Port.StrVal, c.Name))
				}
			}
		}
	}
	selects := func(sel map[string]string) bool {
		for _, labels := range pods {
			match := true
			for k, v := range sel {
				match = match && labels[k] == v
			}
			if match {
				return true
			}
		}
		return false
	}
	for _, o := range objs {
		switch v := o.Value.(type) {
		case *corev1.Service:
			if !selects(v.Spec.Selector) {
				problems = append(problems, fmt.Sprintf("Service %s selects no pod", v.Name))
			}
			for _, p := range v.Spec.Ports {
				if p.TargetPort.Type == intstr.String && !ports[p.TargetPort.StrVal] {
					problems = append(problems, fmt.Sprintf("Service %s targets port %q, which no container has", v.Name, p.TargetPort.StrVal))
				}
			}
		case *policyv1.PodDisruptionBudget:
			if v.Spec.Selector == nil || !selects(v.Spec.Selector.MatchLabels) {
				problems = append(problems, fmt.Sprintf("PodDisruptionBudget %s selects no pod", v.Name))
			}
		}
	}
	return problems
}
