import { defineConfig } from 'drizzle-kit';

// Migrations are generated offline (`pnpm exec drizzle-kit generate`, no
// database needed) and applied by buildApp at start.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema.ts',
  out: './drizzle',
  schemaFilter: ['message'],
});
