#!/usr/bin/env node
// Writes the Kustomize base (infra/k8s/base) and the ServiceMonitors
// (infra/k8s/monitoring) from services.mjs. Run it after changing the table:
// `node infra/k8s/generate.mjs`. An optional argument writes into another
// directory instead (`<dir>/base`, `<dir>/monitoring`): the infra tests
// generate into a temporary one and fail when it differs from the committed files.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { COMMON_ENV, COMMON_SECRET_ENV, IMAGE_REGISTRY, SERVICES } from './services.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = process.argv[2] ? resolve(process.argv[2]) : here;

const PART_OF = { 'app.kubernetes.io/part-of': 'parley' };
const labelsOf = (name) => ({ 'app.kubernetes.io/name': name, ...PART_OF });
const selectorOf = (name) => ({ 'app.kubernetes.io/name': name });
const DEPS_NS = 'parley-deps';
const DEP_PORTS = { postgres: 5432, nats: 4222, redis: 6379 };

function envList(svc) {
  const env = [];
  if (svc.database) {
    env.push({ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: `parley-${svc.name}-db`, key: 'url' } } });
  }
  for (const [name, ref] of Object.entries({ ...COMMON_SECRET_ENV, ...svc.secretEnv })) {
    env.push({ name, valueFrom: { secretKeyRef: { name: ref.secret, key: ref.key } } });
  }
  return env;
}

function container(svc, extraArgs = []) {
  return {
    name: svc.name,
    image: `${IMAGE_REGISTRY}/${svc.name}:latest`,
    imagePullPolicy: 'IfNotPresent',
    args: extraArgs,
    envFrom: [{ configMapRef: { name: 'parley-common' } }, { configMapRef: { name: `${svc.name}-config` } }],
    env: envList(svc),
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 10001,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
  };
}

function deployment(svc) {
  const main = {
    ...container(svc),
    // One port: health, readiness and /metrics are served beside the API
    // (the gateway guards /metrics with METRICS_TOKEN).
    ports: [{ name: 'http', containerPort: svc.port }],
    readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 5, failureThreshold: 2 },
    livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 10, failureThreshold: 3 },
    startupProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 2, failureThreshold: 30 },
    resources: {
      requests: { cpu: svc.resources.cpu, memory: svc.resources.memory },
      limits: { cpu: svc.resources.cpuLimit, memory: svc.resources.memoryLimit },
    },
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
  };
  if (svc.public) {
    // Let the load balancer stop routing new sockets before SIGTERM makes the
    // gateway close the open ones with 1001 (clients reconnect elsewhere).
    main.lifecycle = { preStop: { exec: { command: ['sleep', '10'] } } };
  }
  const spec = {
    replicas: 2,
    revisionHistoryLimit: 5,
    selector: { matchLabels: selectorOf(svc.name) },
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
    template: {
      metadata: {
        labels: labelsOf(svc.name),
        annotations: {
          'prometheus.io/scrape': 'true',
          'prometheus.io/port': String(svc.port),
        },
      },
      spec: {
        serviceAccountName: svc.name,
        automountServiceAccountToken: false,
        terminationGracePeriodSeconds: svc.public ? 120 : 30,
        securityContext: { runAsNonRoot: true, fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
        topologySpreadConstraints: [
          {
            maxSkew: 1,
            topologyKey: 'topology.kubernetes.io/zone',
            whenUnsatisfiable: 'ScheduleAnyway',
            labelSelector: { matchLabels: selectorOf(svc.name) },
          },
          {
            maxSkew: 1,
            topologyKey: 'kubernetes.io/hostname',
            whenUnsatisfiable: 'ScheduleAnyway',
            labelSelector: { matchLabels: selectorOf(svc.name) },
          },
        ],
        ...(svc.database
          ? {
              // Migrations run before the new version serves (`--migrate-only`
              // builds the app, which applies them, and exits); the advisory
              // lock makes concurrent replicas apply them once.
              initContainers: [{ ...container(svc, ['--migrate-only']), name: 'migrate' }],
            }
          : {}),
        containers: [main],
        volumes: [{ name: 'tmp', emptyDir: {} }],
      },
    },
  };
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: svc.name, labels: labelsOf(svc.name) }, spec };
}

function service(svc) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: svc.name, labels: labelsOf(svc.name) },
    spec: {
      selector: selectorOf(svc.name),
      ports: [{ name: 'http', port: svc.port, targetPort: 'http' }],
    },
  };
}

function configMap(svc) {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `${svc.name}-config`, labels: labelsOf(svc.name) },
    data: { PORT: String(svc.port), ...svc.env },
  };
}

function pdb(svc) {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: svc.name, labels: labelsOf(svc.name) },
    spec: { minAvailable: 1, selector: { matchLabels: selectorOf(svc.name) } },
  };
}

function autoscaler(svc) {
  if (svc.consumer) {
    return {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name: svc.name, labels: labelsOf(svc.name) },
      spec: {
        scaleTargetRef: { name: svc.name },
        minReplicaCount: 2,
        maxReplicaCount: 20,
        pollingInterval: 10,
        cooldownPeriod: 120,
        triggers: [
          ...svc.durables.map((durable) => ({
            type: 'nats-jetstream',
            metadata: {
              natsServerMonitoringEndpoint: `nats.${DEPS_NS}.svc:8222`,
              account: '$G',
              stream: `PARLEY_${svc.stream}`,
              consumer: durable,
              lagThreshold: '1000',
            },
          })),
          { type: 'cpu', metricType: 'Utilization', metadata: { value: '70' } },
        ],
      },
    };
  }
  const metrics = svc.public
    ? [
        {
          // Sockets per pod, from the gateway's ws_connections_open gauge via
          // the Prometheus adapter: a gateway is limited by connections, not CPU.
          type: 'Pods',
          pods: {
            metric: { name: 'ws_connections_open' },
            target: { type: 'AverageValue', averageValue: '5000' },
          },
        },
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
      ]
    : [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }];
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: svc.name, labels: labelsOf(svc.name) },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: svc.name },
      minReplicas: 2,
      maxReplicas: svc.public ? 30 : 20,
      metrics,
      behavior: { scaleDown: { stabilizationWindowSeconds: 300 } },
    },
  };
}

function networkPolicy(svc) {
  const egress = [
    // DNS
    {
      ports: [
        { protocol: 'UDP', port: 53 },
        { protocol: 'TCP', port: 53 },
      ],
    },
  ];
  for (const dep of svc.talksTo) {
    if (DEP_PORTS[dep]) {
      egress.push({
        to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': DEPS_NS } } }],
        ports: [{ protocol: 'TCP', port: DEP_PORTS[dep] }],
      });
    } else {
      const target = SERVICES.find((s) => s.name === dep);
      egress.push({
        to: [{ podSelector: { matchLabels: selectorOf(dep) } }],
        ports: [{ protocol: 'TCP', port: target.port }],
      });
    }
  }
  const ingress = svc.public
    ? // From anywhere: the Ingress controller, and Prometheus (with METRICS_TOKEN).
      [{ ports: [{ protocol: 'TCP', port: svc.port }] }]
    : [
        {
          from: [
            { podSelector: { matchLabels: selectorOf('realtime-gateway') } },
            { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
          ],
          ports: [{ protocol: 'TCP', port: svc.port }],
        },
      ];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: svc.name, labels: labelsOf(svc.name) },
    spec: { podSelector: { matchLabels: selectorOf(svc.name) }, policyTypes: ['Ingress', 'Egress'], ingress, egress },
  };
}

function serviceAccount(svc) {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: svc.name, labels: labelsOf(svc.name) },
    automountServiceAccountToken: false,
  };
}

function serviceMonitor(svc) {
  const token = svc.secretEnv.METRICS_TOKEN;
  const endpoint = { port: 'http', path: '/metrics', interval: '15s' };
  if (token) endpoint.authorization = { type: 'Bearer', credentials: { name: token.secret, key: token.key } };
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: { name: svc.name, labels: labelsOf(svc.name) },
    spec: {
      selector: { matchLabels: selectorOf(svc.name) },
      endpoints: [endpoint],
    },
  };
}

const shared = {
  'common-config.yaml': {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'parley-common', labels: PART_OF },
    data: COMMON_ENV,
  },
  'default-deny.yaml': {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'default-deny', labels: PART_OF },
    spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
  },
  'ingress.yaml': {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name: 'parley',
      labels: PART_OF,
      annotations: {
        // WebSockets: long reads (ingress-nginx). Response buffering is off by
        // default in ingress-nginx; no `proxy-buffering: "off"` here, as kustomize
        // v2 (Debian's kubectl) rewrites that string into the boolean false.
        'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600',
        'nginx.ingress.kubernetes.io/proxy-send-timeout': '3600',
        'nginx.ingress.kubernetes.io/proxy-body-size': '128k',
      },
    },
    spec: {
      ingressClassName: 'nginx',
      tls: [{ hosts: ['chat.example.com'], secretName: 'parley-tls' }],
      rules: [
        {
          host: 'chat.example.com',
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: 'realtime-gateway', port: { name: 'http' } } },
              },
            ],
          },
        },
      ],
    },
  },
};

const base = join(outDir, 'base');
rmSync(base, { recursive: true, force: true });
mkdirSync(base, { recursive: true });
const resources = [];
const write = (rel, obj) => {
  mkdirSync(dirname(join(base, rel)), { recursive: true });
  writeFileSync(
    join(base, rel),
    `# Generated by infra/k8s/generate.mjs from services.mjs; do not edit.\n${stringify(obj)}`,
  );
  resources.push(rel);
};
for (const [file, obj] of Object.entries(shared)) write(file, obj);
for (const svc of SERVICES) {
  write(`${svc.name}/serviceaccount.yaml`, serviceAccount(svc));
  write(`${svc.name}/configmap.yaml`, configMap(svc));
  write(`${svc.name}/deployment.yaml`, deployment(svc));
  write(`${svc.name}/service.yaml`, service(svc));
  write(`${svc.name}/pdb.yaml`, pdb(svc));
  write(`${svc.name}/autoscaler.yaml`, autoscaler(svc));
  write(`${svc.name}/networkpolicy.yaml`, networkPolicy(svc));
}
const monitoring = SERVICES.map((svc) => serviceMonitor(svc));
mkdirSync(join(outDir, 'monitoring'), { recursive: true });
writeFileSync(
  join(outDir, 'monitoring', 'servicemonitors.yaml'),
  `# Generated by infra/k8s/generate.mjs; apply with the Prometheus operator installed.\n${monitoring.map((m) => stringify(m)).join('---\n')}`,
);
// Every object carries its labels itself (no `labels` transformer), and the
// overlays use only `images` and `patchesJson6902`, so the manifests render
// with any kustomize from v2.0.3 (Debian's kubectl 1.20) to v5.
writeFileSync(
  join(base, 'kustomization.yaml'),
  `# Generated by infra/k8s/generate.mjs; do not edit.\n${stringify({
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources,
  })}`,
);
console.log(`wrote ${resources.length} resources into ${base}`);
