{{/* Chart name. */}}
{{- define "herald.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name, at most 63 characters (DNS label). */}}
{{- define "herald.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "herald.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "herald.labels" -}}
helm.sh/chart: {{ include "herald.chart" . }}
{{ include "herald.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "herald.selectorLabels" -}}
app.kubernetes.io/name: {{ include "herald.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "herald.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "herald.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret with the environment's secrets, or "" when there is none. */}}
{{- define "herald.secretName" -}}
{{- if .Values.existingSecret }}
{{- .Values.existingSecret }}
{{- else if .Values.secret.create }}
{{- include "herald.fullname" . }}
{{- end }}
{{- end }}

{{/* True ("true") when herald.yaml lives in a Secret rather than a ConfigMap. */}}
{{- define "herald.configInSecret" -}}
{{- if or .Values.existingConfigSecret (and .Values.configInSecret (not .Values.existingConfigMap)) }}true{{- end }}
{{- end }}

{{/* The ConfigMap or Secret with herald.yaml. */}}
{{- define "herald.configName" -}}
{{- if .Values.existingConfigSecret }}
{{- .Values.existingConfigSecret }}
{{- else if .Values.existingConfigMap }}
{{- .Values.existingConfigMap }}
{{- else }}
{{- printf "%s-config" (include "herald.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* The Service port name Prometheus scrapes. */}}
{{- define "herald.metricsPortName" -}}
{{- if .Values.metrics.port }}metrics{{ else }}http{{ end }}
{{- end }}

{{/*
Combinations the schema cannot refuse, refused at render time with a
sentence that says what to change.
*/}}
{{- define "herald.validate" -}}
{{- if and .Values.existingConfigMap .Values.existingConfigSecret }}
{{- fail "set existingConfigMap or existingConfigSecret, not both" }}
{{- end }}
{{- if and .Values.configInSecret .Values.existingConfigMap }}
{{- fail "configInSecret puts the chart's own config in a Secret; with existingConfigMap there is none: use existingConfigSecret instead" }}
{{- end }}
{{- if and .Values.metrics.port (eq (int .Values.metrics.port) (int .Values.containerPort)) }}
{{- fail "metrics.port must differ from containerPort (or be 0 to serve /metrics on containerPort)" }}
{{- end }}
{{- if and (contains "$(REDIS_PASSWORD)" .Values.redis.url) (not .Values.redis.passwordSecret.name) }}
{{- fail "redis.url uses $(REDIS_PASSWORD) but redis.passwordSecret.name is empty" }}
{{- end }}
{{- if and .Values.redis.passwordSecret.name (not (contains "$(REDIS_PASSWORD)" .Values.redis.url)) (not .Values.redis.urlSecret.name) }}
{{- fail "redis.passwordSecret is set but redis.url has no $(REDIS_PASSWORD) where the password goes, e.g. redis://:$(REDIS_PASSWORD)@redis-master:6379/0" }}
{{- end }}
{{- range $name, $instead := dict "HERALD_ADDR" "containerPort" "HERALD_METRICS_ADDR" "metrics.port" "LOG_LEVEL" "logLevel" "LOG_FORMAT" "logFormat" }}
{{- if hasKey $.Values.env $name }}
{{- fail (printf "env.%s: the chart sets %s from %s; set that instead" $name $name $instead) }}
{{- end }}
{{- end }}
{{- if and (or .Values.redis.url .Values.redis.urlSecret.name) (hasKey .Values.env "REDIS_URL") }}
{{- fail "REDIS_URL is given twice: by redis.url/redis.urlSecret and by env; keep one" }}
{{- end }}
{{- end }}
