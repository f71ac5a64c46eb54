{{/*
Helpers of the TripGen chart. Named templates that render a resource for one service take a dict
`(dict "root" $ "name" "user" "svc" $svc)`; the per-kind files range over .Values.services and
call them, so there is no per-service copy of any manifest.
*/}}

{{/* tripgen.name: the chart name (nameOverride wins), 63-char safe. */}}
{{- define "tripgen.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* tripgen.fullname: resource-name prefix: fullnameOverride, else the release name when it contains the chart name, else release-chart. */}}
{{- define "tripgen.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* tripgen.chart: chart name and version for the helm.sh/chart label. */}}
{{- define "tripgen.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* tripgen.selectorLabels: the release's immutable selector labels. */}}
{{- define "tripgen.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tripgen.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* tripgen.labels: labels every resource carries (selector labels + chart, version, manager, commonLabels). */}}
{{- define "tripgen.labels" -}}
helm.sh/chart: {{ include "tripgen.chart" . }}
{{ include "tripgen.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tripgen
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* tripgen.annotations: the metadata.annotations block from commonAnnotations (empty when none). */}}
{{- define "tripgen.annotations" -}}
{{- with .Values.commonAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* tripgen.componentName: name of a service's resources, e.g. tripgen-user (docs/contracts.md: http://tripgen-<svc>:8080). */}}
{{- define "tripgen.componentName" -}}
{{- printf "%s-%s" (include "tripgen.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* tripgen.componentSelectorLabels: selector labels of one service's pods. */}}
{{- define "tripgen.componentSelectorLabels" -}}
{{ include "tripgen.selectorLabels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{/* tripgen.componentLabels: labels of one service's resources and pods: app=<svc>-service, tier=application (SPEC.md NetworkPolicy selector). */}}
{{- define "tripgen.componentLabels" -}}
{{ include "tripgen.labels" .root }}
app.kubernetes.io/component: {{ .name }}
app: {{ .name }}-service
tier: application
{{- end -}}

{{/* tripgen.image: the service image reference (registry/repository:tag or @digest). */}}
{{- define "tripgen.image" -}}
{{- $img := .Values.image -}}
{{- $repo := ternary (printf "%s/%s" $img.registry $img.repository) $img.repository (ne $img.registry "") -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $repo $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end -}}

{{/* tripgen.storeImage: a data-store image reference from {registry, repository, tag, digest}: registry/repository@digest when a digest is set, else :tag. */}}
{{- define "tripgen.storeImage" -}}
{{- $repo := ternary (printf "%s/%s" .registry .repository) .repository (ne .registry "") -}}
{{- if .digest -}}
{{- printf "%s@%s" $repo .digest -}}
{{- else -}}
{{- printf "%s:%s" $repo .tag -}}
{{- end -}}
{{- end -}}

{{/* tripgen.configMapName: the shared TRIPGEN_* ConfigMap. */}}
{{- define "tripgen.configMapName" -}}
{{- printf "%s-config" (include "tripgen.fullname" .) -}}
{{- end -}}

{{/* tripgen.secretName: the Secret holding database_password, redis_password, jwt_secret … (chart-made, existing, or synced from Key Vault). */}}
{{- define "tripgen.secretName" -}}
{{- if eq .Values.secrets.provider "existingSecret" -}}
{{- required "secrets.existingSecret is required when secrets.provider is existingSecret" .Values.secrets.existingSecret -}}
{{- else -}}
{{- printf "%s-secrets" (include "tripgen.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* tripgen.postgresqlName: Service/StatefulSet name of the in-cluster PostgreSQL. */}}
{{- define "tripgen.postgresqlName" -}}
{{- printf "%s-postgresql" (include "tripgen.fullname" .) -}}
{{- end -}}

{{/* tripgen.redisName: Service/StatefulSet name of the in-cluster Redis. */}}
{{- define "tripgen.redisName" -}}
{{- printf "%s-redis" (include "tripgen.fullname" .) -}}
{{- end -}}

{{/* tripgen.databaseUrl: TRIPGEN_DATABASE_URL with $(DATABASE_PASSWORD) expanded by the kubelet from the env var defined before it. */}}
{{- define "tripgen.databaseUrl" -}}
{{- if .Values.postgresql.enabled -}}
{{- printf "postgresql://%s:$(DATABASE_PASSWORD)@%s:5432/%s" .Values.postgresql.username (include "tripgen.postgresqlName" .) .Values.postgresql.database -}}
{{- else -}}
{{- $db := .Values.externalDatabase -}}
{{- $url := printf "postgresql://%s:$(DATABASE_PASSWORD)@%s:%d/%s" $db.username (required "externalDatabase.host is required when postgresql.enabled is false" $db.host) (int $db.port) $db.database -}}
{{- if $db.sslmode -}}{{- printf "%s?sslmode=%s" $url $db.sslmode -}}{{- else -}}{{- $url -}}{{- end -}}
{{- end -}}
{{- end -}}

{{/* tripgen.redisUrl: TRIPGEN_REDIS_URL with $(REDIS_PASSWORD) expanded by the kubelet. */}}
{{- define "tripgen.redisUrl" -}}
{{- if .Values.redis.enabled -}}
{{- printf "redis://:$(REDIS_PASSWORD)@%s:6379/0" (include "tripgen.redisName" .) -}}
{{- else -}}
{{- $r := .Values.externalRedis -}}
{{- printf "%s://:$(REDIS_PASSWORD)@%s:%d/0" (ternary "rediss" "redis" $r.tls) (required "externalRedis.host is required when redis.enabled is false" $r.host) (int $r.port) -}}
{{- end -}}
{{- end -}}

{{/* tripgen.cpuMillis: a CPU quantity ("500m", "2", "0.5") as integer millicores. */}}
{{- define "tripgen.cpuMillis" -}}
{{- $q := toString . -}}
{{- if hasSuffix "m" $q -}}
{{- trimSuffix "m" $q | int -}}
{{- else -}}
{{- mulf (float64 $q) 1000 | int -}}
{{- end -}}
{{- end -}}

{{/* tripgen.memoryMi: a memory quantity ("128Mi", "1Gi") as integer MiB. */}}
{{- define "tripgen.memoryMi" -}}
{{- $q := toString . -}}
{{- if hasSuffix "Gi" $q -}}
{{- mulf (float64 (trimSuffix "Gi" $q)) 1024 | int -}}
{{- else if hasSuffix "Mi" $q -}}
{{- trimSuffix "Mi" $q | int -}}
{{- else -}}
{{- fail (printf "memory %q: use Mi or Gi" $q) -}}
{{- end -}}
{{- end -}}

{{/* tripgen.resources: a resources block; requests multiplied by .Values.resourcesScale (limits kept). Takes (dict "root" $ "resources" $res). */}}
{{- define "tripgen.resources" -}}
{{- $scale := float64 .root.Values.resourcesScale -}}
{{- $req := .resources.requests -}}
{{- if eq $scale 1.0 }}
requests:
  cpu: {{ $req.cpu | quote }}
  memory: {{ $req.memory | quote }}
{{- else }}
requests:
  cpu: {{ printf "%dm" (max 1 (mulf (include "tripgen.cpuMillis" $req.cpu | float64) $scale | floor | int)) | quote }}
  memory: {{ printf "%dMi" (max 1 (mulf (include "tripgen.memoryMi" $req.memory | float64) $scale | floor | int)) | quote }}
{{- end }}
limits:
  cpu: {{ .resources.limits.cpu | quote }}
  memory: {{ .resources.limits.memory | quote }}
{{- end -}}

{{/* tripgen.usesKeyVault: "true" when secrets come from Key Vault through the CSI driver. */}}
{{- define "tripgen.usesKeyVault" -}}
{{- if eq .Values.secrets.provider "keyvault" -}}true{{- end -}}
{{- end -}}

{{/* tripgen.customMetricProvider: what serves a service's SPEC.md custom metric: keda-redis-streams, keda-servicebus, keda-prometheus, or none. */}}
{{- define "tripgen.customMetricProvider" -}}
{{- $cm := .svc.autoscaling.customMetric -}}
{{- $keda := .root.Values.keda -}}
{{- if and $keda.enabled $cm.name (eq $cm.source "queue") -}}
{{- ternary "keda-servicebus" "keda-redis-streams" (eq .root.Values.config.queueBackend "servicebus") -}}
{{- else if and $keda.enabled $cm.name (eq $cm.source "prometheus") $keda.prometheus.serverAddress $cm.query -}}
keda-prometheus
{{- else -}}
none
{{- end -}}
{{- end -}}

{{/* tripgen.podSecurityContext: pod-level securityContext (non-root uid 10001, seccomp RuntimeDefault). */}}
{{- define "tripgen.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podSecurityContext.runAsUser }}
runAsGroup: {{ .Values.podSecurityContext.runAsGroup }}
fsGroup: {{ .Values.podSecurityContext.fsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* tripgen.containerSecurityContext: container securityContext (read-only root, no privilege escalation, drop ALL). */}}
{{- define "tripgen.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* tripgen.secretEnv: env entries shared by services and Jobs: secrets, and the URLs composed from them. */}}
{{- define "tripgen.secretEnv" -}}
{{- $secret := include "tripgen.secretName" . -}}
- name: DATABASE_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: database_password}
- name: TRIPGEN_DATABASE_URL
  value: {{ include "tripgen.databaseUrl" . | quote }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: redis_password}
- name: TRIPGEN_REDIS_URL
  value: {{ include "tripgen.redisUrl" . | quote }}
- name: TRIPGEN_JWT_SECRET
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: jwt_secret}
- name: TRIPGEN_JWT_SECOND_SECRET
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: jwt_second_secret, optional: true}
{{- if eq .Values.config.queueBackend "servicebus" }}
- name: TRIPGEN_SERVICEBUS_CONNECTION_STRING
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: servicebus_connection_string}
{{- end }}
{{- end -}}

{{/* tripgen.secretsVolume: the CSI Secret Store volume (Key Vault only); mounting it is what syncs the Secret. */}}
{{- define "tripgen.secretsVolume" -}}
{{- if include "tripgen.usesKeyVault" . }}
- name: secrets-store
  csi:
    driver: secrets-store.csi.k8s.io
    readOnly: true
    volumeAttributes:
      secretProviderClass: {{ include "tripgen.fullname" . }}-keyvault
{{- end }}
{{- end -}}

{{/* tripgen.secretsVolumeMount: where the CSI volume is mounted (Key Vault only). */}}
{{- define "tripgen.secretsVolumeMount" -}}
{{- if include "tripgen.usesKeyVault" . }}
- name: secrets-store
  mountPath: /mnt/secrets-store
  readOnly: true
{{- end }}
{{- end -}}

{{/* tripgen.workloadIdentityLabel: pod label that lets Azure workload identity inject a token (Key Vault only). */}}
{{- define "tripgen.workloadIdentityLabel" -}}
{{- if include "tripgen.usesKeyVault" . }}
azure.workload.identity/use: "true"
{{- end }}
{{- end -}}

{{/* tripgen.scheduling: affinity, tolerations and topologySpreadConstraints of one service's pods. */}}
{{- define "tripgen.scheduling" -}}
{{- $s := .root.Values.scheduling -}}
{{- $sel := include "tripgen.componentSelectorLabels" . -}}
{{- $anti := $s.podAntiAffinity.type -}}
{{- if or $s.applicationPool.enabled $anti }}
affinity:
  {{- if $s.applicationPool.enabled }}
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms:
        - matchExpressions:
            - key: {{ $s.applicationPool.nodeLabel.key }}
              operator: In
              values: [{{ $s.applicationPool.nodeLabel.value | quote }}]
  {{- end }}
  {{- if eq $anti "hard" }}
  podAntiAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      - topologyKey: {{ $s.podAntiAffinity.topologyKey }}
        labelSelector:
          matchLabels:
            {{- $sel | nindent 12 }}
  {{- else if eq $anti "soft" }}
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: {{ $s.podAntiAffinity.topologyKey }}
          labelSelector:
            matchLabels:
              {{- $sel | nindent 14 }}
  {{- end }}
{{- end }}
{{- if $s.applicationPool.enabled }}
tolerations:
  - key: {{ $s.applicationPool.taint.key }}
    operator: Equal
    value: {{ $s.applicationPool.taint.value | quote }}
    effect: {{ $s.applicationPool.taint.effect }}
{{- end }}
{{- if $s.zoneSpread.enabled }}
topologySpreadConstraints:
  - topologyKey: {{ $s.zoneSpread.topologyKey }}
    maxSkew: {{ $s.zoneSpread.maxSkew }}
    whenUnsatisfiable: {{ $s.zoneSpread.whenUnsatisfiable }}
    nodeTaintsPolicy: Honor
    labelSelector:
      matchLabels:
        {{- $sel | nindent 8 }}
    matchLabelKeys: [pod-template-hash]
{{- end }}
{{- end -}}

{{/* tripgen.metricsSelector: PromQL label matchers of one service's pods — `namespace` and `pod`, the target labels every Kubernetes pod scrape adds (the services' own series carry no service label). Takes (dict "root" $ "name" "user"). */}}
{{- define "tripgen.metricsSelector" -}}
{{- printf "namespace=%q,pod=~%q" .root.Release.Namespace (printf "%s-.+" (include "tripgen.componentName" .)) -}}
{{- end -}}

{{/* tripgen.operatorValues: what only the operator of a real cluster knows, as "value: what it is" lines for each one missing — the registry and digest of a pulled image, Key Vault and its ids, managed hosts and subnets, App Gateway's subnet and host. Empty when nothing is missing (a kind overlay needs none of them). */}}
{{- define "tripgen.operatorValues" -}}
{{- $v := .Values -}}
{{- $zero := "00000000-0000-0000-0000-000000000000" -}}
{{- $missing := list -}}
{{- if and (eq $v.profile "prod") (ne $v.image.pullPolicy "Never") -}}
{{- if not $v.image.registry -}}{{- $missing = append $missing "image.registry: the registry the cluster pulls the service image from (`nox -s image -- --push REGISTRY` pushes it there)" -}}{{- end -}}
{{- if not $v.image.digest -}}{{- $missing = append $missing "image.digest: the pushed image's digest sha256:… (printed by `nox -s image -- --push`; deploy-aks uses the recorded one) — prod pulls by digest, never by tag" -}}{{- end -}}
{{- end -}}
{{- if eq $v.secrets.provider "keyvault" -}}
{{- $kv := $v.secrets.keyVault -}}
{{- if not $kv.name -}}{{- $missing = append $missing "secrets.keyVault.name: the Key Vault holding the secrets" -}}{{- end -}}
{{- if or (not $kv.tenantId) (eq $kv.tenantId $zero) -}}{{- $missing = append $missing (printf "secrets.keyVault.tenantId: the vault's Azure AD tenant id (a GUID; %s)" (ternary "empty" "the all-zero placeholder is not one" (not $kv.tenantId))) -}}{{- end -}}
{{- if or (not $kv.clientId) (eq $kv.clientId $zero) -}}{{- $missing = append $missing (printf "secrets.keyVault.clientId: the client id of the workload identity that reads the vault (a GUID; %s)" (ternary "empty" "the all-zero placeholder is not one" (not $kv.clientId))) -}}{{- end -}}
{{- end -}}
{{- if not $v.postgresql.enabled -}}
{{- if not $v.externalDatabase.host -}}{{- $missing = append $missing "externalDatabase.host: the managed PostgreSQL server's host name" -}}{{- end -}}
{{- if and (eq $v.networkPolicy.mode "restricted") (not $v.networkPolicy.egress.postgresqlCidrs) -}}{{- $missing = append $missing "networkPolicy.egress.postgresqlCidrs: the managed PostgreSQL's private-endpoint subnet (the services may reach nothing else on 5432)" -}}{{- end -}}
{{- end -}}
{{- if not $v.redis.enabled -}}
{{- if not $v.externalRedis.host -}}{{- $missing = append $missing "externalRedis.host: the managed Redis cache's host name" -}}{{- end -}}
{{- if and (eq $v.networkPolicy.mode "restricted") (not $v.networkPolicy.egress.redisCidrs) -}}{{- $missing = append $missing "networkPolicy.egress.redisCidrs: the managed Redis's private-endpoint subnet" -}}{{- end -}}
{{- end -}}
{{- if and $v.ingress.enabled (eq $v.ingress.className "azure-application-gateway") -}}
{{- if and $v.ingress.tls.enabled (not $v.ingress.host) -}}{{- $missing = append $missing "ingress.host: the public host name App Gateway serves (its TLS certificate names it)" -}}{{- end -}}
{{- if and (eq $v.networkPolicy.mode "restricted") (not $v.networkPolicy.ingress.cidrs) -}}{{- $missing = append $missing "networkPolicy.ingress.cidrs: the App Gateway subnet (AGIC sends from it straight to pod IPs, not from a namespace)" -}}{{- end -}}
{{- end -}}
{{- range $missing }}
  - {{ . }}
{{- end -}}
{{- end -}}

{{/* tripgen.publishedJwtSecrets: every JWT secret that appears in the repository, one a line (services/kit/signing_keys.py PUBLISHED_JWT_SECRETS; a test holds the two lists equal). Anyone can forge tokens with them. */}}
{{- define "tripgen.publishedJwtSecrets" -}}
tripgen-dev-only-jwt-secret-change-me-0123456789
tripgen-kind-only-jwt-secret-not-for-production-0123
another-secret-of-sufficient-length-000
security-probe-forged-with-a-published-key-0
rotation-test-key-one-0123456789abcdefghij
rotation-test-key-two-0123456789abcdefghij
replace-me-with-48-random-characters-from-your-vault
{{- end -}}

{{/* tripgen.jwtSecret: secrets.values.jwt_secret; unset, the release's existing one, else 48 random characters (dev and kind simulations: tripgen.checkJwtSecrets refuses an unset one for prod). */}}
{{- define "tripgen.jwtSecret" -}}
{{- $values := .Values.secrets.values | default dict -}}
{{- if $values.jwt_secret -}}
{{- $values.jwt_secret -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "tripgen.secretName" .) | default dict -}}
{{- $kept := dig "data" "jwt_secret" "" $existing -}}
{{- if $kept }}{{ b64dec $kept }}{{ else }}{{ randAlphaNum 48 }}{{ end -}}
{{- end -}}
{{- end -}}

{{/* tripgen.checkJwtSecrets: with profile prod, a chart-made Secret must carry a key of the operator's own: set (unless a kind simulation, which gets a generated one), at least 32 bytes, not one published in the repository. */}}
{{- define "tripgen.checkJwtSecrets" -}}
{{- if and (eq .Values.secrets.provider "kubernetes") (eq .Values.profile "prod") -}}
{{- $values := .Values.secrets.values | default dict -}}
{{- if and (not $values.jwt_secret) (not .Values.dataInit.simulation) -}}
{{- fail "secrets.values.jwt_secret is required with profile prod: set it in your values file to a random key of at least 32 bytes from your vault, or use secrets.provider keyvault" -}}
{{- end -}}
{{- $published := splitList "\n" (include "tripgen.publishedJwtSecrets" .) -}}
{{- range $key := list "jwt_secret" "jwt_second_secret" -}}
{{- $value := toString (get $values $key | default "") -}}
{{- if and $value (has $value $published) -}}
{{- fail (printf "secrets.values.%s is a secret published in the TripGen repository (a dev, kind, test or docs value): anyone could forge tokens with it; profile prod needs a random key of your own" $key) -}}
{{- end -}}
{{- if and $value (lt (len $value) 32) -}}
{{- fail (printf "secrets.values.%s is %d bytes; profile prod needs at least 32" $key (len $value)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* tripgen.validate: fails the render on value combinations the schema cannot express. */}}
{{- define "tripgen.validate" -}}
{{- with (include "tripgen.operatorValues" .) -}}
{{- fail (printf "values for this cluster are missing (pass them with `deploy-aks --values FILE` or `--set`; charts/tripgen/ci/aks-values.yaml shows each):%s" .) -}}
{{- end -}}
{{- include "tripgen.checkJwtSecrets" . -}}
{{- if and (eq .Values.profile "prod") .Values.dataInit.enabled (not .Values.dataInit.simulation) (or (has "sample" .Values.dataInit.steps) (has "validate" .Values.dataInit.steps)) -}}
{{- fail "dataInit.steps: sample data is dev/kind only — with profile prod only `schema` (migrations) may run (a kind simulation sets dataInit.simulation: true)" -}}
{{- end -}}
{{- range $name, $svc := .Values.services -}}
{{- if and $svc.enabled $svc.autoscaling.enabled (gt (int $svc.autoscaling.minReplicas) (int $svc.autoscaling.maxReplicas)) -}}
{{- fail (printf "services.%s.autoscaling: minReplicas (%d) exceeds maxReplicas (%d)" $name (int $svc.autoscaling.minReplicas) (int $svc.autoscaling.maxReplicas)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
