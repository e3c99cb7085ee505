{{/*
The pod template shared by the Deployment and the sharded StatefulSet.
*/}}
{{- define "are.podTemplate" -}}
metadata:
  labels:
    {{- include "are.selectorLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # Roll the pods when the rendered config or web config changes.
    checksum/config: {{ include "are.configYaml" . | sha256sum }}
    {{- if include "are.webConfigEnabled" . }}
    checksum/web-config: {{ include "are.webConfigYaml" . | sha256sum }}
    {{- end }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "are.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  containers:
    - name: exporter
      image: {{ include "are.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - --config.file=/etc/aws-reservation-exporter/config/config.yaml
        - --web.listen-address=:9725
        - --log.level={{ .Values.logLevel }}
        - --log.format={{ .Values.logFormat }}
        {{- if include "are.webConfigEnabled" . }}
        - --web.config.file=/etc/aws-reservation-exporter/web/web-config.yml
        {{- end }}
        {{- if .Values.enableLifecycle }}
        - --web.enable-lifecycle
        {{- end }}
        {{- if .Values.sharding.enabled }}
        # auto: $POD_INDEX (the pod-index label), else the ordinal ending the
        # pod's hostname (<statefulset>-<N>) on clusters without that label.
        - --shard=auto
        - --total-shards={{ .Values.sharding.replicas }}
        {{- end }}
        {{- with .Values.extraArgs }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      env:
        - name: HOME
          value: /tmp
        {{- if .Values.sharding.enabled }}
        # The StatefulSet controller labels each pod with its ordinal (Kubernetes 1.28+).
        - name: POD_INDEX
          valueFrom:
            fieldRef:
              fieldPath: metadata.labels['apps.kubernetes.io/pod-index']
        {{- end }}
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        - name: http
          containerPort: 9725
          protocol: TCP
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
          scheme: {{ include "are.scheme" . }}
        {{- toYaml .Values.livenessProbe | nindent 8 }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
          scheme: {{ include "are.scheme" . }}
        {{- toYaml .Values.readinessProbe | nindent 8 }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      {{- with .Values.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        - name: config
          mountPath: /etc/aws-reservation-exporter/config
          readOnly: true
        - name: tmp
          mountPath: /tmp
        {{- if include "are.webConfigEnabled" . }}
        - name: web-config
          mountPath: /etc/aws-reservation-exporter/web
          readOnly: true
        {{- end }}
        {{- if .Values.webConfig.tls.enabled }}
        - name: tls
          mountPath: /etc/aws-reservation-exporter/tls
          readOnly: true
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "are.fullname" . }}
    - name: tmp
      emptyDir:
        sizeLimit: {{ .Values.tmpVolume.sizeLimit }}
    {{- if include "are.webConfigEnabled" . }}
    - name: web-config
      secret:
        secretName: {{ include "are.fullname" . }}-web-config
    {{- end }}
    {{- if .Values.webConfig.tls.enabled }}
    - name: tls
      secret:
        secretName: {{ .Values.webConfig.tls.secretName }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
