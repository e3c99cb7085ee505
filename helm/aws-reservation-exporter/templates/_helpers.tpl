{{/*
Names. The chart name can be overridden with nameOverride; the full name
(release + chart, shortened to the 63 characters Kubernetes names allow)
with fullnameOverride.
*/}}
{{- define "are.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "are.fullname" -}}
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

{{- define "are.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select the pods: stable across upgrades, so never the version. */}}
{{- define "are.selectorLabels" -}}
app.kubernetes.io/name: {{ include "are.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "are.labels" -}}
helm.sh/chart: {{ include "are.chart" . }}
{{ include "are.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: exporter
app.kubernetes.io/part-of: aws-reservation-exporter
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "are.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "are.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference; the tag defaults to the chart's appVersion, a digest wins over both. */}}
{{- define "are.image" -}}
{{- $repo := .Values.image.repository }}
{{- if .Values.image.registry }}
{{- $repo = printf "%s/%s" .Values.image.registry .Values.image.repository }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* The exporter's config.yaml, rendered from the `config` values block. */}}
{{- define "are.configYaml" -}}
{{- /* The landing page's tier thresholds follow the alerts' unless set. */ -}}
{{- $thresholds := dict }}
{{- range $tier, $days := .Values.prometheusRule.thresholds }}
{{- $_ := set $thresholds $tier (printf "%vd" $days) }}
{{- end }}
{{ toYaml (merge (deepCopy .Values.config) (dict "expiry_thresholds" $thresholds)) }}
{{- end }}

{{- define "are.tlsEnabled" -}}
{{- if .Values.webConfig.tls.enabled }}true{{ end }}
{{- end }}

{{- define "are.webConfigEnabled" -}}
{{- if or .Values.webConfig.tls.enabled .Values.webConfig.basicAuthUsers }}true{{ end }}
{{- end }}

{{- define "are.scheme" -}}
{{- if .Values.webConfig.tls.enabled }}HTTPS{{ else }}HTTP{{ end }}
{{- end }}

{{/* The exporter-toolkit style web config file (DESIGN §5 subset). */}}
{{- define "are.webConfigYaml" -}}
{{- $tls := .Values.webConfig.tls }}
{{- if $tls.enabled }}
tls_server_config:
  cert_file: /etc/aws-reservation-exporter/tls/{{ $tls.certKey }}
  key_file: /etc/aws-reservation-exporter/tls/{{ $tls.keyKey }}
  min_version: {{ $tls.minVersion }}
  {{- if $tls.clientAuthType }}
  client_auth_type: {{ $tls.clientAuthType }}
  {{- end }}
  {{- if $tls.clientCAKey }}
  client_ca_file: /etc/aws-reservation-exporter/tls/{{ $tls.clientCAKey }}
  {{- end }}
{{- end }}
{{- with .Values.webConfig.basicAuthUsers }}
basic_auth_users:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
The thresholds recording group, regenerated from values (the contract with
monitoring/alerts.yaml: its first group, same name, one vector() per tier).
*/}}
{{- define "are.thresholdsGroup" -}}
name: aws-reservation-thresholds
rules:
{{- range $tier := list "notice" "warning" "urgent" "critical" }}
  - record: aws_reservation:expiry_threshold_days
    expr: vector({{ index $.Values.prometheusRule.thresholds $tier }})
    labels:
      tier: {{ $tier }}
{{- end }}
{{- end }}
