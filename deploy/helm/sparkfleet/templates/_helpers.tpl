{{/* Names. Every cluster-scoped object's name starts with the full name, which carries the release name. */}}
{{- define "sparkfleet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sparkfleet.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "sparkfleet.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sparkfleet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sparkfleet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "sparkfleet.labels" -}}
helm.sh/chart: {{ include "sparkfleet.chart" . }}
{{ include "sparkfleet.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sparkfleet
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "sparkfleet.serviceAccountName" -}}
{{- if .Values.controller.serviceAccount.create -}}
{{- default (include "sparkfleet.fullname" .) .Values.controller.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.controller.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The drivers' ServiceAccount: made by the chart (<fullname>-spark unless named), or one that exists. */}}
{{- define "sparkfleet.sparkServiceAccountName" -}}
{{- if .Values.spark.serviceAccount.create -}}
{{- default (printf "%s-spark" (include "sparkfleet.fullname" .)) .Values.spark.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.spark.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "sparkfleet.fleetName" -}}
{{- default (include "sparkfleet.fullname" .) .Values.fleet.name -}}
{{- end -}}

{{/* The leader Lease without a fleet (Kubeflow's name for it unless controller.leaderElection.lockName). */}}
{{- define "sparkfleet.leaderLockName" -}}
{{- default (printf "%s-controller-lock" (include "sparkfleet.fullname" .)) .Values.controller.leaderElection.lockName -}}
{{- end -}}

{{- define "sparkfleet.metricsServiceName" -}}
{{- printf "%s-metrics" (include "sparkfleet.fullname" .) -}}
{{- end -}}

{{/* The fewest instances the release runs: controller.replicas, or the HPA's floor when it is on. */}}
{{- define "sparkfleet.minInstances" -}}
{{- ternary .Values.controller.autoscaling.minReplicas .Values.controller.replicas .Values.controller.autoscaling.enable | int -}}
{{- end -}}

{{/* The image left at the chart's default, which is published nowhere. */}}
{{- define "sparkfleet.defaultImage" -}}
{{- ternary "true" "" (and (eq .Values.image.registry "ghcr.io") (eq .Values.image.repository "sparkfleet/sparkfleet")) -}}
{{- end -}}

{{- define "sparkfleet.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.registry -}}
{{- printf "%s/%s:%s" .Values.image.registry .Values.image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The fleet's shards as a JSON list: fleet.shards, or one shard per job namespace, or one catch-all. */}}
{{- define "sparkfleet.shards" -}}
{{- $shards := list -}}
{{- if .Values.fleet.shards -}}
{{- $shards = .Values.fleet.shards -}}
{{- else -}}
{{- range .Values.spark.jobNamespaces -}}
{{- if . -}}
{{- $shards = append $shards (dict "name" . "namespaces" (list .)) -}}
{{- end -}}
{{- end -}}
{{- with include "sparkfleet.namespaceSelector" . -}}
{{- $shards = append $shards (dict "name" "selected" "namespaceSelector" .) -}}
{{- end -}}
{{- if not $shards -}}
{{- $shards = list (dict "name" "all" "catchAll" true) -}}
{{- end -}}
{{- end -}}
{{- toJson $shards -}}
{{- end -}}

{{/*
spark.jobNamespaceSelector as it counts: none when spark.jobNamespaces holds "" (every namespace is
served already, as in Kubeflow, where "" matches every namespace whatever the selector adds).
*/}}
{{- define "sparkfleet.namespaceSelector" -}}
{{- if not (has "" .Values.spark.jobNamespaces) -}}{{- .Values.spark.jobNamespaceSelector -}}{{- end -}}
{{- end -}}

{{/* The job namespaces named anywhere (spark.jobNamespaces and namespace shards), as a JSON list. */}}
{{- define "sparkfleet.jobNamespaces" -}}
{{- $namespaces := list -}}
{{- range .Values.spark.jobNamespaces -}}
{{- if . -}}{{- $namespaces = append $namespaces . -}}{{- end -}}
{{- end -}}
{{- if .Values.fleet.enabled -}}
{{- range .Values.fleet.shards -}}
{{- range (.namespaces | default list) -}}{{- $namespaces = append $namespaces . -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson ($namespaces | uniq | sortAlpha) -}}
{{- end -}}

{{/* "true" when spark.jobNamespaces lists namespaces: the fleet is bounded by them (its spec.jobNamespaces). */}}
{{- define "sparkfleet.bounded" -}}
{{- $listed := false -}}
{{- range .Values.spark.jobNamespaces -}}{{- if . -}}{{- $listed = true -}}{{- end -}}{{- end -}}
{{- if include "sparkfleet.namespaceSelector" . -}}{{- $listed = false -}}{{- end -}}{{/* it adds namespaces */}}
{{- ternary "true" "" $listed -}}
{{- end -}}

{{/*
"true" when the operator must watch across namespaces. With spark.jobNamespaces listed, never: every
shard is bounded by them (label shards and the catch-all watch each job namespace), so the job
permissions are a Role in each job namespace. Without, when no namespace is named at all (every
namespace), or a fleet has label shards (labelSelector, values of the routing label) or a catch-all,
whose watches are then cluster-wide.
*/}}
{{- define "sparkfleet.clusterWide" -}}
{{- $wide := false -}}
{{- if include "sparkfleet.namespaceSelector" . -}}{{- $wide = true -}}{{- end -}}{{/* as Kubeflow's chart */}}
{{- if not (include "sparkfleet.bounded" .) -}}
{{- if eq (include "sparkfleet.jobNamespaces" . | fromJsonArray | len) 0 -}}
{{- $wide = true -}}
{{- end -}}
{{- if .Values.fleet.enabled -}}
{{- range (include "sparkfleet.shards" . | fromJsonArray) -}}
{{- if not .namespaces -}}{{- $wide = true -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- ternary "true" "" $wide -}}
{{- end -}}

{{/* What the operator does in the namespaces it serves (derived from sparkfleet/operator). */}}
{{- define "sparkfleet.jobRules" -}}
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch, create, update, delete]
- apiGroups: [""]
  resources: [configmaps]
  verbs: [create]
- apiGroups: [""]
  resources: [services]
  verbs: [get, create]
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- if dig "uiIngress" "enable" false .Values.controller }}
- apiGroups: [networking.k8s.io]  # the Spark UI Ingresses and spec.driverIngressOptions' (controller.uiIngress.enable)
  resources: [ingresses]
  verbs: [get, create, update, delete]
{{- end }}
- apiGroups: [""]  # an application over its namespace's quota is refused up front (one list per submission)
  resources: [resourcequotas]
  verbs: [list]
- apiGroups: [sparkoperator.k8s.io]
  resources: [sparkapplications]
  verbs: [get, list, watch, create, delete]
- apiGroups: [sparkoperator.k8s.io]
  resources: [sparkapplications/status]
  verbs: [update]
- apiGroups: [sparkoperator.k8s.io]
  resources: [scheduledsparkapplications]
  verbs: [get, list, watch]
- apiGroups: [sparkoperator.k8s.io]
  resources: [scheduledsparkapplications/status]
  verbs: [update]
{{- /*
Driver pods and UI Services block their SparkApplication's foreground deletion, and runs their
ScheduledSparkApplication's (blockOwnerDeletion, as Kubeflow's do). Under the OwnerReferencesPermission-
Enforcement admission plugin (OpenShift) that needs update on the owner's finalizers; CRDs serve no
finalizers subresource, so this grant authorizes no request of its own.
*/}}
- apiGroups: [sparkoperator.k8s.io]
  resources: [sparkapplications/finalizers, scheduledsparkapplications/finalizers]
  verbs: [update]
{{- if dig "driverPodDisruptionBudget" "enable" false .Values.controller }}
- apiGroups: [policy]  # --enable-driver-pdb: the drivers' PodDisruptionBudgets (read, made, removed; not watched)
  resources: [poddisruptionbudgets]
  verbs: [get, create, delete]
{{- end }}
{{- if dig "batchScheduler" "enable" false .Values.controller }}
- apiGroups: [scheduling.volcano.sh, scheduling.x-k8s.io]  # --enable-batch-scheduler: the applications' PodGroups (not watched)
  resources: [podgroups]
  verbs: [get, create, update, delete]
{{- end }}
{{- end -}}
