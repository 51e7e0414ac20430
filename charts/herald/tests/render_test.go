package charttest

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

func container(t *testing.T, d *appsv1.Deployment) corev1.Container {
	t.Helper()
	if n := len(d.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("%d containers, want 1", n)
	}
	if n := len(d.Spec.Template.Spec.InitContainers); n != 0 {
		t.Errorf("%d init containers: herald waits for Redis itself", n)
	}
	return d.Spec.Template.Spec.Containers[0]
}

func envOf(c corev1.Container) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		m[e.Name] = e
	}
	return m
}

func portNames[P any](ports []P, name func(P) string) []string {
	var out []string
	for _, p := range ports {
		out = append(out, name(p))
	}
	return out
}

// Three replicas with the defaults: least privilege, probes and resources
// set, metrics on their own port, nothing optional rendered.
func TestThreeReplicas(t *testing.T) {
	objs := render(t, "--set", "replicaCount=3")
	d := one[*appsv1.Deployment](t, objs, "Deployment")
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("replicas = %v, want 3", d.Spec.Replicas)
	}
	pod := d.Spec.Template.Spec
	c := container(t, d)

	// given least privilege
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the pod mounts a service account token; herald never talks to the API")
	}
	sa := one[*corev1.ServiceAccount](t, objs, "ServiceAccount")
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Error("the ServiceAccount automounts its token")
	}
	if pod.ServiceAccountName != sa.Name {
		t.Errorf("pod runs as %q, the chart made %q", pod.ServiceAccountName, sa.Name)
	}
	sc := c.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Errorf("container security context not least privilege: %+v", sc)
	}
	if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod security context not non-root: %+v", psc)
	}
	if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources not set: %+v", c.Resources)
	}
	for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("no HTTP %s probe", name)
		}
	}
	if c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("probes on %s and %s", c.ReadinessProbe.HTTPGet.Path, c.LivenessProbe.HTTPGet.Path)
	}

	// metrics on a port of their own
	env := envOf(c)
	if env["HERALD_ADDR"].Value != ":8080" || env["HERALD_METRICS_ADDR"].Value != ":9090" {
		t.Errorf("HERALD_ADDR=%q HERALD_METRICS_ADDR=%q", env["HERALD_ADDR"].Value, env["HERALD_METRICS_ADDR"].Value)
	}
	if got := portNames(c.Ports, func(p corev1.ContainerPort) string { return p.Name }); !slices.Equal(got, []string{"http", "metrics"}) {
		t.Errorf("container ports %v", got)
	}
	svc := one[*corev1.Service](t, objs, "Service")
	if got := portNames(svc.Spec.Ports, func(p corev1.ServicePort) string { return p.Name }); !slices.Equal(got, []string{"http", "metrics"}) {
		t.Errorf("service ports %v", got)
	}
	if a := d.Spec.Template.Annotations; a["prometheus.io/port"] != "9090" {
		t.Errorf("prometheus.io/port = %q", a["prometheus.io/port"])
	}

	// the config in a ConfigMap by default, mounted read-only
	cm := one[*corev1.ConfigMap](t, objs, "ConfigMap")
	if !strings.Contains(cm.Data["herald.yaml"], "incident_channel") {
		t.Errorf("herald.yaml = %q", cm.Data["herald.yaml"])
	}
	if v := volume(t, d, "config"); v.ConfigMap == nil || v.ConfigMap.Name != cm.Name {
		t.Errorf("config volume %+v, want ConfigMap %s", v.VolumeSource, cm.Name)
	}
	if count(objs, "PodDisruptionBudget") != 1 {
		t.Error("no PodDisruptionBudget for three replicas")
	}
	for _, k := range []string{"Ingress", "NetworkPolicy", "ServiceMonitor"} {
		if count(objs, k) != 0 {
			t.Errorf("%s rendered though off by default", k)
		}
	}
}

func volume(t *testing.T, d *appsv1.Deployment, name string) corev1.Volume {
	t.Helper()
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no volume %s", name)
	return corev1.Volume{}
}

// The Ingress routes the webhook prefixes to the http port and nothing else.
func TestIngressRoutesOnlyWebhooks(t *testing.T) {
	objs := render(t, "--set", "replicaCount=3,ingress.enabled=true,ingress.className=nginx", "--set", "ingress.hosts={herald.example.com,herald.example.org}")
	ing := one[*networkingv1.Ingress](t, objs, "Ingress")
	if len(ing.Spec.Rules) != 2 {
		t.Fatalf("%d rules, want one per host", len(ing.Spec.Rules))
	}
	for _, r := range ing.Spec.Rules {
		var paths []string
		for _, p := range r.HTTP.Paths {
			paths = append(paths, p.Path)
			if p.PathType == nil || *p.PathType != networkingv1.PathTypePrefix {
				t.Errorf("%s: pathType %v, want Prefix", p.Path, p.PathType)
			}
			if p.Backend.Service == nil || p.Backend.Service.Port.Name != "http" {
				t.Errorf("%s: backend %+v, want the http port", p.Path, p.Backend)
			}
		}
		if !slices.Equal(paths, []string{"/slack/", "/twilio/", "/teams/"}) {
			t.Errorf("%s routes %v", r.Host, paths)
		}
	}
}

func TestServiceMonitor(t *testing.T) {
	for _, tt := range []struct {
		name     string
		args     []string
		wantPort string
	}{
		{"metrics port", nil, "metrics"},
		{"metrics on the http port", []string{"--set", "metrics.port=0"}, "http"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			objs := render(t, append([]string{"--set", "replicaCount=3,metrics.serviceMonitor.enabled=true,metrics.serviceMonitor.labels.release=prometheus",
				"--set-json", `metrics.serviceMonitor.metricRelabelings=[{"sourceLabels":["__name__"],"regex":"go_.*","action":"drop"}]`}, tt.args...)...)
			sm := one[*monitoringv1.ServiceMonitor](t, objs, "ServiceMonitor")
			svc := one[*corev1.Service](t, objs, "Service")
			if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != tt.wantPort || sm.Spec.Endpoints[0].Path != "/metrics" {
				t.Fatalf("endpoints %+v, want port %s", sm.Spec.Endpoints, tt.wantPort)
			}
			if !slices.Contains(portNames(svc.Spec.Ports, func(p corev1.ServicePort) string { return p.Name }), tt.wantPort) {
				t.Errorf("the Service has no port %s", tt.wantPort)
			}
			for k, v := range sm.Spec.Selector.MatchLabels {
				if svc.Labels[k] != v {
					t.Errorf("ServiceMonitor selects %s=%s, the Service has %q", k, v, svc.Labels[k])
				}
			}
			if sm.Labels["release"] != "prometheus" || !slices.Equal(sm.Spec.NamespaceSelector.MatchNames, []string{"incidents"}) {
				t.Errorf("labels %v, namespaces %v", sm.Labels, sm.Spec.NamespaceSelector.MatchNames)
			}
			d := one[*appsv1.Deployment](t, objs, "Deployment")
			_, separate := envOf(container(t, d))["HERALD_METRICS_ADDR"]
			if separate != (tt.wantPort == "metrics") {
				t.Errorf("HERALD_METRICS_ADDR set = %v", separate)
			}
		})
	}
}

func TestNetworkPolicy(t *testing.T) {
	objs := render(t, "--set", "replicaCount=3,networkPolicy.enabled=true",
		"--set-json", `networkPolicy.metrics.from=[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"monitoring"}}}]`,
		"--set-json", `networkPolicy.egress.redisTo=[{"podSelector":{"matchLabels":{"app.kubernetes.io/name":"redis"}}}]`)
	np := one[*networkingv1.NetworkPolicy](t, objs, "NetworkPolicy")
	d := one[*appsv1.Deployment](t, objs, "Deployment")
	for k, v := range np.Spec.PodSelector.MatchLabels {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("policy selects %s=%s, pods have %q", k, v, d.Spec.Template.Labels[k])
		}
	}
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{"Ingress", "Egress"}) {
		t.Errorf("policy types %v", np.Spec.PolicyTypes)
	}
	var in []string
	for _, r := range np.Spec.Ingress {
		for _, p := range r.Ports {
			in = append(in, p.Port.String())
		}
		if len(r.Ports) == 1 && r.Ports[0].Port.String() == "metrics" && len(r.From) != 1 {
			t.Errorf("metrics open to %v, want the monitoring namespace only", r.From)
		}
	}
	if !slices.Equal(in, []string{"http", "metrics"}) {
		t.Errorf("ingress ports %v, want http and metrics only", in)
	}
	var out []string
	for _, r := range np.Spec.Egress {
		for _, p := range r.Ports {
			out = append(out, p.Port.String())
		}
	}
	if !slices.Equal(out, []string{"53", "53", "6379", "26379", "443"}) {
		t.Errorf("egress ports %v", out)
	}
	if len(np.Spec.Egress[1].To) != 1 {
		t.Errorf("Redis egress to %v, want redisTo", np.Spec.Egress[1].To)
	}
}

// Phone numbers in the config stay out of ConfigMaps when asked.
func TestConfigFromASecret(t *testing.T) {
	phones := writeValues(t, `
configInSecret: true
config:
  recipients:
    - {id: dana, name: Dana Weber, phone: "+4915100000001", channel: whatsapp}
configFiles:
  stakeholders.csv: "id,name,phone,channel,locale,audiences\nomar,Omar,+14155550101,sms,en,it-ops\n"
`)
	for _, tt := range []struct {
		name       string
		args       []string
		wantSecret string // the Secret mounted as /etc/herald
		rendered   bool   // by the chart
	}{
		{"chart-made Secret", []string{"-f", phones}, "herald-config", true},
		{"existing Secret", []string{"--set", "existingConfigSecret=herald-config-sealed"}, "herald-config-sealed", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			objs := render(t, append([]string{"--set", "replicaCount=3"}, tt.args...)...)
			if n := count(objs, "ConfigMap"); n != 0 {
				t.Errorf("%d ConfigMaps rendered", n)
			}
			d := one[*appsv1.Deployment](t, objs, "Deployment")
			v := volume(t, d, "config")
			if v.Secret == nil || v.Secret.SecretName != tt.wantSecret || v.Secret.DefaultMode == nil || *v.Secret.DefaultMode != 0o440 {
				t.Fatalf("config volume %+v, want Secret %s mode 0440", v.VolumeSource, tt.wantSecret)
			}
			var made *corev1.Secret
			for _, o := range objs {
				if s, ok := o.Value.(*corev1.Secret); ok && s.Name == tt.wantSecret {
					made = s
				}
			}
			if (made != nil) != tt.rendered {
				t.Fatalf("chart rendered Secret %s: %v, want %v", tt.wantSecret, made != nil, tt.rendered)
			}
			if made != nil && (!strings.Contains(made.StringData["herald.yaml"], "+4915100000001") || !strings.Contains(made.StringData["stakeholders.csv"], "+14155550101")) {
				t.Errorf("config Secret lacks herald.yaml or the CSV: %v", made.StringData)
			}
		})
	}
}

func TestExistingConfigMap(t *testing.T) {
	objs := render(t, "--set", "existingConfigMap=herald-managed")
	if n := count(objs, "ConfigMap"); n != 0 {
		t.Errorf("%d ConfigMaps rendered beside an existing one", n)
	}
	if v := volume(t, one[*appsv1.Deployment](t, objs, "Deployment"), "config"); v.ConfigMap == nil || v.ConfigMap.Name != "herald-managed" {
		t.Errorf("config volume %+v", v.VolumeSource)
	}
}

// Each example in examples/ renders, decodes, and gives herald a REDIS_URL.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(chartDir, "examples", "*.yaml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			objs := render(t, "-f", f)
			env := envOf(container(t, one[*appsv1.Deployment](t, objs, "Deployment")))
			url, ok := env["REDIS_URL"]
			if !ok {
				t.Fatal("no REDIS_URL in the pod's env")
			}
			if pw, ok := env["REDIS_PASSWORD"]; ok && (pw.ValueFrom == nil || pw.ValueFrom.SecretKeyRef == nil) {
				t.Error("REDIS_PASSWORD not from a Secret")
			}
			if strings.Contains(url.Value, "$(REDIS_PASSWORD)") {
				if _, ok := env["REDIS_PASSWORD"]; !ok {
					t.Error("REDIS_URL uses $(REDIS_PASSWORD) but nothing defines it")
				}
			}
		})
	}
}

// Everything optional at once, as a large install would run it.
func TestEverythingOn(t *testing.T) {
	objs := render(t, "--set", "replicaCount=3,ingress.enabled=true,networkPolicy.enabled=true,metrics.serviceMonitor.enabled=true,configInSecret=true,existingSecret=herald-env",
		"--set", "redis.url=redis://:$(REDIS_PASSWORD)@redis-master:6379/0,redis.passwordSecret.name=redis",
		"--set-json", `extraEnv=[{"name":"POD_NAME","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}}]`,
		"--set-json", `lifecycle={"preStop":{"sleep":{"seconds":5}}}`)
	for kind, want := range map[string]int{"Deployment": 1, "Service": 1, "Ingress": 1, "NetworkPolicy": 1, "ServiceMonitor": 1,
		"PodDisruptionBudget": 1, "ServiceAccount": 1, "ConfigMap": 0, "Secret": 1} {
		if n := count(objs, kind); n != want {
			t.Errorf("%d %s, want %d", n, kind, want)
		}
	}
	c := container(t, one[*appsv1.Deployment](t, objs, "Deployment"))
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != "herald-env" {
		t.Errorf("envFrom %+v, want the existing Secret", c.EnvFrom)
	}
	names := portNames(c.Env, func(e corev1.EnvVar) string { return e.Name })
	if i, j := slices.Index(names, "REDIS_PASSWORD"), slices.Index(names, "REDIS_URL"); i < 0 || j < i {
		t.Errorf("env order %v: REDIS_PASSWORD must come before REDIS_URL for $(REDIS_PASSWORD)", names)
	}
}
