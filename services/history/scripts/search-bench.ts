/**
 * Search latency over 100,000 messages.
 *
 *   pnpm --filter @parley/history exec tsx scripts/search-bench.ts [--messages 100000] [--queries 300]
 *
 * Creates a throwaway database `bench_history_<random>` on BENCH_DATABASE_URL
 * (default the local test Postgres), applies the service's migrations,
 * bulk-loads messages (Zipf-like vocabulary, 500 conversations, the searching
 * user a member of 50 of them), ANALYZEs, then times the service's own search
 * query (SearchRepository: membership join, ranking, keyset page of 20,
 * headlines) for a mix of queries, and prints p50/p95/p99 per query and
 * overall. Drops the database at the end.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Message } from '@parley/contracts';
import { createPostgresDatabase, newId } from '@parley/service-kit';
import { sql } from 'drizzle-orm';
import { members, messages } from '../src/db/schema';
import { SearchRepository } from '../src/search/search.repository';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const MESSAGES = arg('messages', 100_000);
const QUERIES = arg('queries', 300);
const CONVERSATIONS = 500;
const MEMBER_OF = 50;
const PAGE = 20;

// Deterministic pseudo-random numbers (mulberry32), so runs are comparable.
let seed = 0x5eed;
function rand(): number {
  seed |= 0;
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const COMMON = `the a to and of is in it you that for on we this with are be at have not can do so but
  meeting deploy release notes tomorrow today lunch coffee review build test merge branch ticket bug fix
  customer order invoice payment shipping report dashboard metrics alert server database cache queue
  running run runs ran walking team project plan sprint demo design draft update call friday monday
  thanks please sorry great good idea question answer issue problem ready done later soon morning`
  .split(/\s+/)
  .filter(Boolean);
const RARE = Array.from({ length: 20_000 }, (_, i) => `zq${i.toString(36)}x`);

function word(): string {
  // ~70% from the common list (skewed to its head), the rest from a long tail.
  if (rand() < 0.7) return COMMON[Math.floor(COMMON.length * rand() ** 2)]!;
  return RARE[Math.floor(RARE.length * rand() ** 1.5)]!;
}

function content(): string {
  const n = 5 + Math.floor(rand() * 25);
  return Array.from({ length: n }, word).join(' ');
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main() {
  const adminUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `bench_history_${randomBytes(6).toString('hex')}`;
  const admin = await createPostgresDatabase({ url: adminUrl, poolMax: 2, applicationName: 'history-bench' });
  await admin.db.execute(sql.raw(`create database "${name}"`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const handle = await createPostgresDatabase({ url: url.toString(), poolMax: 4, applicationName: 'history-bench' });
  try {
    await handle.migrate({
      schema: 'history',
      migrationsFolder: fileURLToPath(new URL('../drizzle', import.meta.url)),
    });

    const userId = newId();
    const conversationIds = Array.from({ length: CONVERSATIONS }, () => newId());
    const now = new Date();
    await handle.db.insert(members).values(
      conversationIds.flatMap((c, i) => [
        ...(i < MEMBER_OF ? [{ conversationId: c, userId, state: 'active' as const, versionAt: now }] : []),
        ...Array.from({ length: 9 }, () => ({
          conversationId: c,
          userId: newId(),
          state: 'active' as const,
          versionAt: now,
        })),
      ]),
    );

    const loadStart = performance.now();
    const BATCH = 2000;
    for (let done = 0; done < MESSAGES; done += BATCH) {
      const rows = Array.from({ length: Math.min(BATCH, MESSAGES - done) }, (_, i) => {
        const conversationId = conversationIds[(done + i) % CONVERSATIONS]!;
        const text = content();
        const snapshot: Message = {
          id: newId(),
          conversationId,
          seq: Math.floor((done + i) / CONVERSATIONS) + 1,
          rev: Math.floor((done + i) / CONVERSATIONS) + 1,
          senderId: userId,
          clientMessageId: null,
          type: 'text',
          content: text,
          attachments: [],
          mentions: [],
          parentId: null,
          threadRootId: null,
          replyCount: 0,
          system: null,
          createdAt: now.toISOString(),
          editedAt: null,
          deletedAt: null,
        };
        return {
          id: snapshot.id,
          conversationId,
          senderId: userId,
          rev: snapshot.rev,
          content: text,
          snapshot,
          createdAt: now,
          deletedAt: null,
        };
      });
      await handle.db.insert(messages).values(rows);
    }
    await handle.db.execute(sql`analyze`);
    const loadMs = performance.now() - loadStart;

    const repo = new SearchRepository(handle);
    const scoped = 'meeting [in one conversation]';
    const queries = [
      'meeting',
      scoped,
      'deploy tomorrow',
      '"release notes"',
      'running',
      'coffee or lunch',
      'invoice -payment',
      RARE[42]!,
    ];
    // Warm-up (plans, caches), not measured.
    const run = (q: string) =>
      q === scoped
        ? repo.search({ userId, q: 'meeting', conversationId: conversationIds[0], limit: PAGE + 1 })
        : repo.search({ userId, q, limit: PAGE + 1 });
    for (const q of queries) await run(q);

    const byQuery = new Map<string, number[]>(queries.map((q) => [q, []]));
    const all: number[] = [];
    let hits = 0;
    for (let i = 0; i < QUERIES; i++) {
      const q = queries[i % queries.length]!;
      const t0 = performance.now();
      const rows = await run(q);
      const ms = performance.now() - t0;
      hits += rows.length;
      byQuery.get(q)!.push(ms);
      all.push(ms);
    }

    const fmt = (n: number) => n.toFixed(1);
    console.log(
      `loaded ${MESSAGES} messages in ${(loadMs / 1000).toFixed(1)} s (${CONVERSATIONS} conversations, searcher in ${MEMBER_OF})`,
    );
    console.log(`${QUERIES} searches, page ${PAGE}, ${hits} rows returned`);
    console.log('query                            p50 ms   p95 ms   p99 ms');
    for (const [q, times] of byQuery) {
      const s = [...times].sort((a, b) => a - b);
      console.log(
        `${q.padEnd(32)} ${fmt(percentile(s, 50)).padStart(6)}   ${fmt(percentile(s, 95)).padStart(6)}   ${fmt(percentile(s, 99)).padStart(6)}`,
      );
    }
    const s = all.sort((a, b) => a - b);
    console.log(
      `${'all'.padEnd(32)} ${fmt(percentile(s, 50)).padStart(6)}   ${fmt(percentile(s, 95)).padStart(6)}   ${fmt(percentile(s, 99)).padStart(6)}`,
    );
  } finally {
    await handle.close();
    await admin.db.execute(sql.raw(`drop database if exists "${name}" with (force)`));
    await admin.close();
  }
}

await main();
