/**
 * Send latency of the message service alone on real Postgres and NATS (and
 * Redis for the rate limit and the read-your-writes mark): one client, N
 * sequential sends over HTTP on localhost (keep-alive), each timed from
 * request to response. Stand-ins answer the auth JWKS and the conversation
 * membership RPC (asked once, on the first send; then the local model
 * answers). Uses a fresh database, bus prefix and key prefix, removed after.
 *
 * Also reports the process's CPU time per send (`process.cpuUsage()` over
 * the timed sends: the service, its outbox relay and the in-process HTTP
 * client together) and of the Postgres backends of its pool (`/proc`, this
 * machine only), and, for one send after the timed ones, every SQL
 * statement sent to Postgres (postgres.js `debug` hook; the relay's included,
 * marked) and every key-value call.
 *
 *   pnpm --filter @parley/message exec tsx scripts/measure-send-latency.ts [N=1000]
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { RPC } from '@parley/contracts';
import { loadConfig, newId } from '@parley/service-kit';
import { createTestInfra } from '@parley/service-kit/testing';
import { sql } from 'drizzle-orm';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { buildApp } from '../src/app';
import { MessageConfig } from '../src/config';

const total = Number(process.argv[2] ?? 1000);
const warmup = 50;

const infra = await createTestInfra({ real: true, service: 'message-bench' });
try {
  const config = {
    ...loadConfig(MessageConfig, {}),
    LOG_LEVEL: 'warn' as const,
    RATE_LIMIT_SEND_PER_MIN: 1_000_000,
    RATE_LIMIT_SEND_BURST: 1_000_000,
  };
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const kid = newId();
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' };
  const userId = newId();
  const conversationId = newId();
  const at = new Date().toISOString();
  const conversation = {
    id: conversationId,
    type: 'group' as const,
    title: 'bench',
    visibility: 'private' as const,
    status: 'open' as const,
    maxMembers: 50,
    memberCount: 1,
    metadata: {},
    createdBy: userId,
    createdAt: at,
    updatedAt: at,
  };
  const member = {
    userId,
    role: 'owner' as const,
    state: 'active' as const,
    notifications: 'all' as const,
    joinedAt: at,
  };
  const subs = [
    infra.bus.serve(RPC.authJwks, () => ({ keys: [jwk] })),
    infra.bus.serve(RPC.conversationMembers, () => ({ conversation, members: [member] })),
    infra.bus.serve(RPC.conversationMembership, () => ({ conversation, member })),
  ];
  // Statement and key-value call trace, switched on for one send at the end.
  let tracing = false;
  const statements: string[] = [];
  const kvCalls: string[] = [];
  const client = (infra.db.db as unknown as { $client?: { options?: { debug?: unknown } } }).$client;
  if (client?.options)
    client.options.debug = (_conn: number, query: string) => {
      if (tracing) statements.push(query.replace(/\s+/g, ' ').slice(0, 110));
    };
  const kv = infra.kv as unknown as Record<string, unknown>;
  for (const [name, fn] of Object.entries(kv)) {
    if (typeof fn !== 'function' || name === 'close') continue;
    kv[name] = (...args: unknown[]) => {
      if (tracing) kvCalls.push(`${name} ${String(args[0]).split(':').slice(0, 2).join(':')}…`);
      return (fn as (...a: unknown[]) => unknown)(...args);
    };
  }

  const app = await buildApp(config, infra);
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const token = await new SignJWT({ sid: newId() })
    .setProtectedHeader({ alg: 'EdDSA', kid })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime('15m')
    .setIssuer(config.AUTH_ISSUER)
    .setAudience(config.AUTH_AUDIENCE)
    .sign(privateKey);

  const url = `${address}/v1/conversations/${conversationId}/messages`;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const send = async (i: number) => {
    const res = await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ clientMessageId: newId(), content: `message ${i} with a little text in it` }),
    });
    if (res.status !== 201) throw new Error(`send ${i} answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
  };

  for (let i = 0; i < warmup; i++) await send(-i);
  // CPU of this database's Postgres backends (the pool's connections), from /proc.
  const backendPids = async () =>
    (
      await infra.db.rows<{ pid: number }>(
        sql`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
      )
    ).map((r) => r.pid);
  const ticks = (pids: number[]) => {
    const out = new Map<number, number>();
    for (const pid of pids) {
      try {
        const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        out.set(pid, Number(f[11]) + Number(f[12])); // utime + stime
      } catch {
        // not on this machine, or gone
      }
    }
    return out;
  };
  const pgBefore = infra.db.kind === 'postgres' ? ticks(await backendPids()) : new Map<number, number>();

  const samples: number[] = [];
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    const t0 = performance.now();
    await send(i);
    samples.push(performance.now() - t0);
  }
  const elapsed = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  let pgTicks = 0;
  for (const [pid, t] of ticks([...pgBefore.keys()])) pgTicks += t - (pgBefore.get(pid) ?? t);
  const pgCpuMs = pgBefore.size > 0 ? (pgTicks * 10) / total : null; // 100 ticks per second
  await new Promise((r) => setTimeout(r, 200)); // the last timed send's relay round
  tracing = true;
  await send(total);
  await new Promise((r) => setTimeout(r, 200)); // the relay's round after COMMIT
  tracing = false;
  samples.sort((a, b) => a - b);
  const pct = (p: number) => samples[Math.min(samples.length - 1, Math.ceil((p / 100) * samples.length) - 1)]!;
  const fmt = (ms: number) => `${ms.toFixed(2)} ms`;
  console.log(
    JSON.stringify(
      {
        sends: total,
        warmup,
        p50: fmt(pct(50)),
        p90: fmt(pct(90)),
        p99: fmt(pct(99)),
        max: fmt(samples[samples.length - 1]!),
        throughputPerSec: Math.round((total / elapsed) * 1000),
        cpuMsPerSend: Number(((cpu.user + cpu.system) / 1000 / total).toFixed(3)),
        postgresCpuMsPerSend: pgCpuMs === null ? null : Number(pgCpuMs.toFixed(3)),
        oneSend: { sqlStatements: statements.length, statements, kvCalls: kvCalls.length, kv: kvCalls },
      },
      null,
      2,
    ),
  );
  await app.close();
  for (const s of subs) s.unsubscribe();
} finally {
  await infra.close();
}
