import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { BaseServiceConfig, ConfigError, baseServiceConfig, loadConfig } from './config';

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadConfig(BaseServiceConfig, {});
    expect(config).toEqual({
      PORT: 3000,
      HOST: '0.0.0.0',
      LISTEN_BACKLOG: 4096,
      LOG_LEVEL: 'info',
      BUS_PREFIX: 'parley',
      KV_PREFIX: 'parley:',
      DATA_DIR: '.data',
      BODY_LIMIT_BYTES: 65536,
      AUTH_ISSUER: 'parley',
      AUTH_AUDIENCE: 'parley',
      DB_POOL_MAX: 10,
      DB_PREPARE: true,
      REDIS_AUTO_PIPELINING: false,
      STREAM_REPLICAS: 1,
    });
  });

  it('reads DB_PREPARE=false for PgBouncer in transaction mode', () => {
    expect(loadConfig(BaseServiceConfig, { DB_PREPARE: 'false' }).DB_PREPARE).toBe(false);
  });

  it('converts strings to the declared types and ignores unrelated variables', () => {
    const config = loadConfig(BaseServiceConfig, {
      PORT: '3003',
      BODY_LIMIT_BYTES: '2048',
      NATS_URL: 'nats://x:4222',
      LOG_LEVEL: 'debug',
      PATH: '/usr/bin',
    });
    expect(config.PORT).toBe(3003);
    expect(config.BODY_LIMIT_BYTES).toBe(2048);
    expect(config.NATS_URL).toBe('nats://x:4222');
    expect(config.LOG_LEVEL).toBe('debug');
    expect(config).not.toHaveProperty('PATH');
  });

  it('treats empty strings as unset', () => {
    const config = loadConfig(BaseServiceConfig, { DATABASE_URL: '', PORT: '' });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.PORT).toBe(3000);
  });

  it('lets a service set its own default port', () => {
    expect(loadConfig(baseServiceConfig({ port: 3003 }), {}).PORT).toBe(3003);
  });

  it('names every failing variable in one error, without their values', () => {
    const schema = Type.Composite([
      BaseServiceConfig,
      Type.Object({ AUTH_KEY_ENCRYPTION_SECRET: Type.String({ minLength: 32 }), FLAG: Type.Boolean() }),
    ]);
    let error: unknown;
    try {
      loadConfig(schema, {
        PORT: 'abc',
        LOG_LEVEL: 'loud',
        AUTH_KEY_ENCRYPTION_SECRET: 'short-secret-value',
        FLAG: 'x',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toMatch(/PORT: expected integer/);
    expect(message).toMatch(/LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent/);
    expect(message).toMatch(/AUTH_KEY_ENCRYPTION_SECRET: .*length >= 32/);
    expect(message).toMatch(/FLAG: expected true or false/);
    expect(message).not.toContain('short-secret-value');
    expect((error as ConfigError).issues.map((i) => i.variable).sort()).toEqual([
      'AUTH_KEY_ENCRYPTION_SECRET',
      'FLAG',
      'LOG_LEVEL',
      'PORT',
    ]);
  });

  it('reports a missing required variable as required', () => {
    const schema = Type.Composite([BaseServiceConfig, Type.Object({ SECRET: Type.String() })]);
    expect(() => loadConfig(schema, {})).toThrow(/SECRET: is required/);
  });

  it('rejects out-of-range numbers', () => {
    expect(() => loadConfig(BaseServiceConfig, { PORT: '70000' })).toThrow(/PORT: expected integer, >= 0, <= 65535/);
  });
});
