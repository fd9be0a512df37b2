// Public surface of the service kit (docs/service-kit.md). Each line names the
// file that owns it; keep this list the only barrel.
export * from './bus/bus';
export * from './bus/dead-letter';
export * from './bus/memory-bus';
export * from './bus/nats-bus';
export * from './kv/key-value';
export * from './kv/memory-kv';
export * from './kv/redis-kv';
export * from './db/database';
export * from './db/postgres';
export * from './db/pglite';
export * from './infra';
export * from './infra-factory';
export * from './outbox/outbox.table';
export * from './outbox/outbox';
export * from './consumers/consumers';
export * from './config';
export * from './context';
export * from './ids';
export * from './http/errors';
export * from './http/app';
export * from './http/server';
export * from './metrics';
export * from './auth/verify';
export * from './auth/auth.plugin';
export * from './http/logging';
export * from './http/refuse-body';
