// biome-ignore-all lint/suspicious/noTemplateCurlyInString: compose and Dockerfile syntax under test, not JS templates
/** The pure pieces of the parity checks: env rules from a schema, compose interpolation, PromQL and Dockerfile parsing. */
import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { parseEnvFile, parseImageEnv } from '../src/inputs';
import { containerEnv, interpolate, metricsOfExpr, referencedVariables } from '../src/parity';
import { envRulesOf, isSecretName } from '../src/service-facts';

describe('envRulesOf', () => {
  const schema = Type.Composite([
    Type.Object({
      PORT: Type.Integer({ default: 3000 }),
      DATABASE_URL: Type.Optional(Type.String()),
      NATS_URL: Type.Optional(Type.String()),
      LOG_LEVEL: Type.String({ default: 'info' }),
    }),
    Type.Object({
      PORT: Type.Integer({ default: 3003 }),
      UPSTREAM_URL: Type.String({ default: 'http://127.0.0.1:3001' }),
      API_KEY_SECRET: Type.Optional(Type.String()),
      REFRESH_TOKEN_DAYS: Type.Number({ default: 30 }),
      REGION: Type.String(),
    }),
  ]);

  it('needs required variables, fallback URLs, loopback defaults and secrets in a cluster', () => {
    const rules = envRulesOf(schema, { usesDatabase: true });
    expect(rules.required).toEqual(['REGION']);
    expect(Object.keys(rules.cluster).sort()).toEqual([
      'API_KEY_SECRET',
      'DATABASE_URL',
      'NATS_URL',
      'REGION',
      'UPSTREAM_URL',
    ]);
    expect(rules.secret.sort()).toEqual(['API_KEY_SECRET', 'DATABASE_URL']);
    // Type.Composite puts both PORT schemas in allOf; the last default wins, as at runtime.
    expect(rules.defaultPort).toBe(3003);
  });

  it('does not ask a service without a database for DATABASE_URL', () => {
    expect(envRulesOf(schema, { usesDatabase: false }).cluster).not.toHaveProperty('DATABASE_URL');
  });

  it('tells secrets by name, not by a word inside it', () => {
    expect(['METRICS_TOKEN', 'AUTH_KEY_ENCRYPTION_SECRET', 'REDIS_URL', 'DB_PASSWORD'].every(isSecretName)).toBe(true);
    expect(['AUTH_REFRESH_TOKEN_DAYS', 'NATS_URL', 'TOKEN_TTL'].some(isSecretName)).toBe(false);
  });
});

describe('compose interpolation', () => {
  const dotenv = { A: 'a', EMPTY: '' };
  it('substitutes like docker compose', () => {
    expect(interpolate('${A}-$A-${B:-d}-${EMPTY:-e}-${EMPTY-f}', dotenv)).toEqual({ value: 'a-a-d-e-', missing: [] });
    expect(interpolate('${B:?set B}', dotenv)).toEqual({ value: '', missing: ['B'] });
    expect(referencedVariables('x ${A:-1} $B ${C?e}')).toEqual(['A', 'B', 'C']);
  });

  it('reads .env files', () => {
    expect(parseEnvFile('# c\nA=1\n B = "two" \nEMPTY=\nnot a line\n')).toEqual({ A: '1', B: 'two', EMPTY: '' });
  });
});

describe('metricsOfExpr', () => {
  it('finds metric names, not functions, labels, groupings or durations', () => {
    expect(
      metricsOfExpr(
        'histogram_quantile(0.99, sum by (service, le) (rate(http_request_duration_seconds_bucket{status_code=~"5.."}[5m])))',
      ),
    ).toEqual(['http_request_duration_seconds_bucket']);
    expect(metricsOfExpr('sum(consumer_pending) / ignoring(x) sum(outbox_backlog offset 1h) > 1e3').sort()).toEqual([
      'consumer_pending',
      'outbox_backlog',
    ]);
  });
});

describe('parseImageEnv', () => {
  it('reads the ENV of the last stage only', () => {
    const dockerfile = [
      'FROM node AS build',
      'ENV BUILD_ONLY=1',
      'FROM node AS runtime',
      'ENV NODE_ENV=production PORT=${PORT} \\',
      '    HOST=0.0.0.0',
      'ENV NAME="a b"',
    ].join('\n');
    expect(parseImageEnv(dockerfile)).toEqual({
      NODE_ENV: 'production',
      PORT: '${PORT}',
      HOST: '0.0.0.0',
      NAME: 'a b',
    });
  });
});

describe('containerEnv', () => {
  const cm = (name: string, data: Record<string, string>) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name },
    data,
  });

  it('layers ConfigMaps, then env entries (Secret references become placeholders)', () => {
    const { env, problems } = containerEnv(
      {
        envFrom: [
          { configMapRef: { name: 'common' } },
          { configMapRef: { name: 'own' } },
          { configMapRef: { name: 'gone' } },
        ],
        env: [
          { name: 'B', value: 'literal' },
          { name: 'S', valueFrom: { secretKeyRef: { name: 'sec', key: 'k' } } },
        ],
      },
      [cm('common', { A: '1', B: '1' }), cm('own', { A: '2' })],
    );
    expect(problems).toEqual(['envFrom names ConfigMap/gone, which is not rendered']);
    expect(env.get('A')).toMatchObject({ source: 'configmap', value: '2', from: 'ConfigMap/own' });
    expect(env.get('B')).toMatchObject({ source: 'value', value: 'literal' });
    expect(env.get('S')).toMatchObject({ source: 'secret', secretRef: { name: 'sec', key: 'k' } });
    expect(env.get('S')?.value).toMatch(/^placeholder-s-/);
  });
});
