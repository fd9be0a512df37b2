// Test helpers (docs/service-kit.md, Testing). Imported only by tests.
export * from './servers';
export * from './logs';
export * from './infra';
export * from './bus.contract';
export * from './kv.contract';
export * from '../auth/test-signer';
