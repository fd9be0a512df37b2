import { defineConfig } from 'vitest/config';

/**
 * One vitest run for the whole repo, in tiers (STYLE.md, habit 12):
 * - unit: beside the code (`src/**\/*.test.ts`), no servers;
 * - integration: per package/service (`test/**\/*.test.ts`) against the real
 *   Postgres, Redis and NATS (each file isolated: own database, bus prefix and
 *   key prefix);
 * - e2e: whole-system flows (`e2e/**\/*.test.ts`), standalone and connected.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts', 'services/*/src/**/*.test.ts', 'infra/test/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['packages/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
          pool: 'forks',
        },
      },
    ],
  },
});
