/** `pnpm seed`: demo users and rooms on a running Parley (PARLEY_URL, default http://localhost:3000). */
import { seedDemo } from './seed';

const url = process.env.PARLEY_URL ?? `http://localhost:${process.env.PORT ?? 3000}`;
const result = await seedDemo(url);
process.stdout.write(`Seeded ${url}. Demo logins (password: ${result.password}):\n`);
for (const u of result.users) process.stdout.write(`  ${u.email}  (${u.name})\n`);
