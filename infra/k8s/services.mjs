// The one table of Parley's deployable services. `generate.mjs` writes the
// Kustomize base from it, and the infra tests check it against the services'
// own config schemas, so a service, a variable or a probe cannot be forgotten
// in one place and kept in another.

/** Variables every service reads (BaseServiceConfig), from the shared ConfigMap. */
export const COMMON_ENV = {
  HOST: '0.0.0.0',
  LOG_LEVEL: 'info',
  NATS_URL: 'nats://nats.parley-deps.svc:4222',
  BUS_PREFIX: 'parley',
  KV_PREFIX: 'parley:',
  AUTH_ISSUER: 'parley',
  AUTH_AUDIENCE: 'parley',
  STREAM_REPLICAS: '3',
};

/**
 * Secrets every service reads. REDIS_URL carries the Redis password
 * (infra/deps/redis-values.yaml turns auth on), so it is a Secret, not config.
 */
export const COMMON_SECRET_ENV = {
  REDIS_URL: { secret: 'parley-redis', key: 'url' },
};

export const SERVICES = [
  {
    name: 'auth',
    port: 3001,
    database: true,
    consumer: false,
    env: { RATE_LIMIT_LOGIN_PER_MIN: '10' },
    secretEnv: { AUTH_KEY_ENCRYPTION_SECRET: { secret: 'parley-auth-keys', key: 'encryption-secret' } },
    talksTo: ['postgres', 'nats', 'redis'],
    resources: { cpu: '250m', memory: '256Mi', cpuLimit: '1', memoryLimit: '512Mi' },
  },
  {
    name: 'conversation',
    port: 3002,
    database: true,
    consumer: false,
    env: {},
    secretEnv: {},
    talksTo: ['postgres', 'nats', 'redis'],
    resources: { cpu: '200m', memory: '192Mi', cpuLimit: '1', memoryLimit: '512Mi' },
  },
  {
    name: 'message',
    port: 3003,
    database: true,
    consumer: false,
    env: { RATE_LIMIT_SEND_PER_MIN: '60', RATE_LIMIT_SEND_BURST: '20' },
    secretEnv: {},
    talksTo: ['postgres', 'nats', 'redis'],
    resources: { cpu: '500m', memory: '256Mi', cpuLimit: '2', memoryLimit: '768Mi' },
  },
  {
    name: 'notification',
    port: 3004,
    database: true,
    consumer: true,
    durables: ['notification-message-created'],
    stream: 'MESSAGE',
    env: {},
    secretEnv: {},
    talksTo: ['postgres', 'nats', 'redis'],
    resources: { cpu: '200m', memory: '192Mi', cpuLimit: '1', memoryLimit: '512Mi' },
  },
  {
    name: 'history',
    port: 3005,
    database: true,
    consumer: true,
    durables: ['history-message-created'],
    stream: 'MESSAGE',
    env: {},
    secretEnv: {},
    talksTo: ['postgres', 'nats', 'redis'],
    resources: { cpu: '200m', memory: '256Mi', cpuLimit: '1', memoryLimit: '768Mi' },
  },
  {
    name: 'realtime-gateway',
    port: 3000,
    database: false,
    consumer: false,
    public: true,
    env: {
      AUTH_URL: 'http://auth:3001',
      CONVERSATION_URL: 'http://conversation:3002',
      MESSAGE_URL: 'http://message:3003',
      NOTIFICATION_URL: 'http://notification:3004',
      HISTORY_URL: 'http://history:3005',
      RATE_LIMIT_ANON_PER_MIN: '20',
      RATE_LIMIT_USER_PER_MIN: '600',
      RATE_LIMIT_LOGIN_PER_MIN: '10',
      RATE_LIMIT_SEND_PER_MIN: '60',
      RATE_LIMIT_SEND_BURST: '20',
      WS_ALLOWED_ORIGINS: 'https://chat.example.com',
      CORS_ORIGINS: 'https://chat.example.com',
      TRUST_PROXY: '10.0.0.0/8',
    },
    // The gateway answers /metrics on its public port only with this bearer
    // token (or to loopback callers); the ServiceMonitor sends it.
    secretEnv: { METRICS_TOKEN: { secret: 'parley-metrics', key: 'token' } },
    talksTo: ['nats', 'redis', 'auth', 'conversation', 'message', 'notification', 'history'],
    resources: { cpu: '500m', memory: '512Mi', cpuLimit: '2', memoryLimit: '1536Mi' },
  },
];

export const IMAGE_REGISTRY = 'ghcr.io/parley-chat';
