/**
 * Parity between the services and their deployment: the real manifests have
 * no problem, and a copy mutated the ways a deployment goes wrong (a variable
 * missing from a ConfigMap, a probe on a path the service does not serve, a
 * service without a Deployment, ...) makes `checkParity` report it.
 *
 * The apps are built once (in memory, embedded infrastructure) and reused by
 * every test; building six services takes a while on a busy machine.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InfraInputs, loadInfraInputs } from '../src/inputs';
import { checkParity, gatherServiceFacts, type ServiceFacts } from '../src/parity';
import { loadServiceModules, ServiceHarness, type ServiceModule } from '../src/service-facts';
import { copyK8s, editYaml, editYamlDocuments, ROOT } from './support';

let modules: ServiceModule[];
let loadProblems: string[];
let harness: ServiceHarness;
let inputs: InfraInputs;
let facts: ServiceFacts[];

beforeAll(async () => {
  ({ modules, problems: loadProblems } = await loadServiceModules(ROOT));
  harness = new ServiceHarness(modules);
  await harness.startAll();
  inputs = loadInfraInputs(ROOT);
  facts = await gatherServiceFacts(ROOT, harness, modules, inputs);
}, 600_000);

afterAll(async () => {
  await harness?.close();
}, 60_000);

/** Renders a mutated copy of infra/k8s and checks it against the same services. */
async function problemsOfCopy(mutate: (dir: string) => void): Promise<string[]> {
  const copy = copyK8s();
  try {
    mutate(copy.dir);
    const mutated = loadInfraInputs(ROOT, copy.dir);
    return checkParity({ ...mutated, services: await gatherServiceFacts(ROOT, harness, modules, mutated) });
  } finally {
    copy.remove();
  }
}

describe('the services', { timeout: 60_000 }, () => {
  it('are every folder under services/, each loaded with its config schema and app', () => {
    expect(loadProblems).toEqual([]);
    const folders = readdirSync(join(ROOT, 'services'), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
    expect(modules.map((m) => m.name)).toEqual(folders);
    expect(Object.fromEntries(modules.map((m) => [m.name, m.configExport]))).toMatchObject({
      auth: 'AuthConfig',
      conversation: 'ConversationConfig',
      message: 'MessageConfig',
      notification: 'NotificationConfig',
      history: 'HistoryConfig',
      'realtime-gateway': 'GatewayConfig',
    });
  });

  it('serve /healthz and /readyz, and only the gateway guards /metrics (with METRICS_TOKEN)', () => {
    for (const f of facts) {
      expect(f.http.error, f.module.name).toBeUndefined();
      expect(f.http.status, f.module.name).toMatchObject({ '/healthz': 200, '/readyz': 200 });
      const guarded = f.module.name === 'realtime-gateway';
      expect(f.http.metrics, f.module.name).toEqual(
        guarded ? { anonymous: 401, bearerVariable: 'METRICS_TOKEN' } : { anonymous: 200 },
      );
    }
  });
});

// Each case renders a copy with kubectl: give a busy CI machine room.
describe('checkParity', { timeout: 60_000 }, () => {
  it('finds no problem in the committed manifests, compose file, workflow, dashboard and docs', () => {
    expect(checkParity({ ...inputs, services: facts })).toEqual([]);
  });

  it('reports a variable missing from a ConfigMap', async () => {
    const problems = await problemsOfCopy((dir) => {
      editYaml(join(dir, 'base/realtime-gateway/configmap.yaml'), (cm) => {
        delete (cm.data as Record<string, string>).AUTH_URL;
      });
      editYaml(join(dir, 'base/message/configmap.yaml'), (cm) => {
        delete (cm.data as Record<string, string>).RATE_LIMIT_SEND_PER_MIN;
      });
    });
    expect(problems).toContain(
      'overlay prod: realtime-gateway: no ConfigMap or Secret reference sets AUTH_URL (its default http://127.0.0.1:3001 is loopback)',
    );
    expect(problems).toContain(
      'docker-compose.yml message: message: sets RATE_LIMIT_SEND_PER_MIN, overlay prod does not',
    );
  });

  it('reports a variable every service needs missing from the common ConfigMap', async () => {
    const problems = await problemsOfCopy((dir) => {
      editYaml(join(dir, 'base/common-config.yaml'), (cm) => {
        delete (cm.data as Record<string, string>).NATS_URL;
      });
    });
    for (const m of modules) {
      expect(problems).toContain(
        `overlay dev: ${m.name}: no ConfigMap or Secret reference sets NATS_URL (unset, the service falls back to an embedded stand-in)`,
      );
    }
  });

  it('reports a probe on a path the service does not serve', async () => {
    const problems = await problemsOfCopy((dir) => {
      editYaml(join(dir, 'base/message/deployment.yaml'), (dep) => {
        // biome-ignore lint/suspicious/noExplicitAny: editing parsed YAML
        const main = (dep as any).spec.template.spec.containers[0];
        main.readinessProbe.httpGet.path = '/ready';
        main.livenessProbe.httpGet.path = '/health';
      });
    });
    expect(problems).toContain(
      'overlay dev: message: readinessProbe path /ready is not served by the service (answers 404)',
    );
    expect(problems).toContain(
      'overlay prod: message: livenessProbe path /health is not served by the service (answers 404)',
    );
  });

  it('reports a readiness probe on a served path that is not /readyz', async () => {
    const problems = await problemsOfCopy((dir) => {
      editYaml(join(dir, 'base/auth/deployment.yaml'), (dep) => {
        // biome-ignore lint/suspicious/noExplicitAny: editing parsed YAML
        (dep as any).spec.template.spec.containers[0].readinessProbe.httpGet.path = '/healthz';
      });
    });
    expect(problems).toEqual([
      'overlay dev: auth: readinessProbe GETs /healthz, expected /readyz',
      'overlay prod: auth: readinessProbe GETs /healthz, expected /readyz',
    ]);
  });

  it('reports a service without a Deployment', async () => {
    const problems = await problemsOfCopy((dir) => {
      editYaml(join(dir, 'base/kustomization.yaml'), (k) => {
        k.resources = (k.resources as string[]).filter((r) => r !== 'history/deployment.yaml');
      });
      rmSync(join(dir, 'base/history/deployment.yaml'));
    });
    expect(problems).toContain('overlay dev: history: no Deployment');
    expect(problems).toContain('overlay prod: history: no Deployment');
  });

  it('reports a secret kept in a ConfigMap, even when a Secret reference overrides it', async () => {
    const problems = await problemsOfCopy((dir) => {
      editYaml(join(dir, 'base/common-config.yaml'), (cm) => {
        (cm.data as Record<string, string>).REDIS_URL = 'redis://:hunter2@redis:6379';
      });
      editYaml(join(dir, 'base/conversation/deployment.yaml'), (dep) => {
        // biome-ignore lint/suspicious/noExplicitAny: editing parsed YAML
        const main = (dep as any).spec.template.spec.containers[0];
        main.env = main.env.filter((e: { name: string }) => e.name !== 'REDIS_URL');
      });
    });
    expect(problems).toContain('overlay dev: auth: ConfigMap/parley-common holds the secret REDIS_URL');
    expect(problems).toContain(
      'overlay dev: conversation: REDIS_URL is a secret but comes from ConfigMap/parley-common; use a secretKeyRef',
    );
  });

  it('reports a variable the service does not read, and a value its schema refuses', async () => {
    const problems = await problemsOfCopy((dir) => {
      editYaml(join(dir, 'base/notification/configmap.yaml'), (cm) => {
        (cm.data as Record<string, string>).NOTIFY_BATCH = '10';
        (cm.data as Record<string, string>).BODY_PREVIEW_CHARS = 'many';
      });
    });
    expect(problems).toContain(
      'overlay dev: notification: sets NOTIFY_BATCH (from ConfigMap/notification-config), which NotificationConfig does not read',
    );
    expect(problems.join('\n')).toMatch(
      /overlay prod: notification: its environment fails NotificationConfig: .*BODY_PREVIEW_CHARS/,
    );
  });

  it('reports autoscaling on a metric or consumer the service does not have', async () => {
    const problems = await problemsOfCopy((dir) => {
      editYaml(join(dir, 'base/realtime-gateway/autoscaler.yaml'), (hpa) => {
        // biome-ignore lint/suspicious/noExplicitAny: editing parsed YAML
        (hpa as any).spec.metrics[0].pods.metric.name = 'parley_ws_connections';
      });
      editYaml(join(dir, 'base/history/autoscaler.yaml'), (so) => {
        // biome-ignore lint/suspicious/noExplicitAny: editing parsed YAML
        (so as any).spec.triggers[0].metadata.consumer = 'history-messages';
      });
    });
    expect(problems).toContain(
      'overlay prod: realtime-gateway: HorizontalPodAutoscaler scales on parley_ws_connections, which the service does not export',
    );
    expect(problems).toContain(
      'overlay prod: history: ScaledObject reads lag of consumer history-messages, which the service does not run',
    );
  });

  it('reports a gateway ServiceMonitor that scrapes without the metrics token', async () => {
    const problems = await problemsOfCopy((dir) => {
      editYamlDocuments(join(dir, 'monitoring/servicemonitors.yaml'), (docs) => {
        for (const doc of docs) {
          // biome-ignore lint/suspicious/noExplicitAny: editing parsed YAML
          for (const ep of (doc as any).spec.endpoints) delete ep.authorization;
        }
      });
    });
    expect(problems).toContain(
      'overlay prod: realtime-gateway: ServiceMonitor/realtime-gateway scrapes without the METRICS_TOKEN token (Secret/parley-metrics:token)',
    );
  });

  it('reports a service missing from compose or the image workflow, and a dashboard metric nobody exports', () => {
    const mutated = structuredClone(inputs);
    delete mutated.compose.services.notification;
    mutated.workflowImages = mutated.workflowImages.filter((s) => s !== 'conversation');
    mutated.dashboardExprs.push('sum(rate(parley_messages_sent_total[5m]))');
    const problems = checkParity({ ...mutated, services: facts });
    expect(problems).toEqual([
      'ci.yml: conversation: no image build in the workflow matrix',
      'docker-compose.yml: notification: no service builds its image (build.args.SERVICE)',
      'grafana-dashboard.json: parley_messages_sent_total is exported by no service (in sum(rate(parley_messages_sent_total[5m])))',
    ]);
  });

  it('reports a compose variable .env.example does not document, and a healthcheck on an unserved path', async () => {
    const mutated = structuredClone(inputs);
    const auth = mutated.compose.services.auth;
    // biome-ignore lint/suspicious/noTemplateCurlyInString: compose interpolation syntax, not a JS template
    (auth.environment as Record<string, string>).RATE_LIMIT_LOGIN_PER_MIN = '${LOGIN_LIMIT:-10}';
    auth.healthcheck = { test: ['CMD', 'wget', '-qO-', 'http://127.0.0.1:3001/health'] };
    const problems = checkParity({ ...mutated, services: await gatherServiceFacts(ROOT, harness, modules, mutated) });
    expect(problems).toEqual([
      '.env.example: auth: does not document LOGIN_LIMIT, which docker-compose.yml auth uses',
      'docker-compose.yml auth: auth: healthcheck path /health is not served (answers 404)',
    ]);
  });
});
