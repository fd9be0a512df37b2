/**
 * Validates rendered objects against the Kubernetes OpenAPI schemas shipped
 * in npm packages (kubernetes-models for the core API, @kubernetes-models/*
 * for the KEDA and Prometheus-operator CRDs). A kind without a validator is
 * a problem too: nothing reaches a cluster unchecked.
 *
 * The schemas check types, enums and required fields; like the API server's
 * non-strict mode they let unknown fields through.
 */
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { K8sObject } from './k8s-render';

type Validator = (obj: K8sObject) => void;
const model =
  (Ctor: new (data: never) => { validate(): void }): Validator =>
  (obj) =>
    new Ctor(obj as never).validate();

/** `apiVersion/kind` -> schema validation (throws on an invalid object). */
export const VALIDATORS: Readonly<Record<string, Validator>> = {
  'v1/Namespace': model(Namespace),
  'v1/ServiceAccount': model(ServiceAccount),
  'v1/ConfigMap': model(ConfigMap),
  'v1/Secret': model(Secret),
  'v1/Service': model(Service),
  'apps/v1/Deployment': model(Deployment),
  'apps/v1/StatefulSet': model(StatefulSet),
  'batch/v1/Job': model(Job),
  'batch/v1/CronJob': model(CronJob),
  'policy/v1/PodDisruptionBudget': model(PodDisruptionBudget),
  'autoscaling/v2/HorizontalPodAutoscaler': model(HorizontalPodAutoscaler),
  'networking.k8s.io/v1/NetworkPolicy': model(NetworkPolicy),
  'networking.k8s.io/v1/Ingress': model(Ingress),
  'rbac.authorization.k8s.io/v1/Role': model(Role),
  'rbac.authorization.k8s.io/v1/RoleBinding': model(RoleBinding),
  'keda.sh/v1alpha1/ScaledObject': model(ScaledObject),
  'monitoring.coreos.com/v1/ServiceMonitor': model(ServiceMonitor),
  'monitoring.coreos.com/v1/PodMonitor': model(PodMonitor),
};

export const describe = (obj: Partial<K8sObject>) =>
  `${obj.kind ?? '?'}/${obj.metadata?.name ?? '?'}${obj.metadata?.namespace ? ` in ${obj.metadata.namespace}` : ''}`;

/** Every schema violation or unknown kind, one line each; empty when all objects are valid. */
export function validateObjects(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  for (const obj of objects) {
    if (!obj.metadata?.name) problems.push(`${describe(obj)}: metadata.name is missing`);
    const validate = VALIDATORS[`${obj.apiVersion}/${obj.kind}`];
    if (!validate) {
      problems.push(`${describe(obj)}: no schema for ${obj.apiVersion}/${obj.kind} (unknown kind)`);
      continue;
    }
    try {
      validate(obj);
    } catch (err) {
      problems.push(`${describe(obj)}: ${(err as Error).message}`);
    }
  }
  return problems;
}
