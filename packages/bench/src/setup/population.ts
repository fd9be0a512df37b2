/**
 * The bench's users and conversations, created through the public API with
 * the SDK exactly as an application would: registrations, direct
 * conversations for the pairs, one large group for the fan-out.
 */
import { randomBytes } from 'node:crypto';
import { ParleyApiError, ParleyClient } from '@parley/sdk';

export interface BenchUser {
  /** Position in the population. */
  idx: number;
  userId: string;
  client: ParleyClient;
  /** When the access token was issued (ms epoch): refreshed before it nears its 15 minutes. */
  tokenAt: number;
}

export interface Pair {
  conversationId: string;
  a: BenchUser;
  b: BenchUser;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return out;
}

/** Retries what a loaded system may refuse for a moment (503, network), not validation errors. */
async function retrying<T>(what: string, fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const transient = err instanceof ParleyApiError && (err.status === 0 || err.status === 503 || err.status === 429);
      if (!transient || i >= attempts) throw new Error(`${what}: ${(err as Error).message}`, { cause: err });
      await new Promise((r) => setTimeout(r, 200 * i));
    }
  }
}

/** Names must be letters: 0 -> "Aa", 1 -> "Ab", ... */
function nameOf(i: number): string {
  let s = '';
  let n = i;
  do {
    s = String.fromCharCode(97 + (n % 26)) + s;
    n = Math.floor(n / 26);
  } while (n > 0);
  return `Bench ${s.padStart(3, 'a')}`;
}

export class Population {
  readonly users: BenchUser[] = [];
  pairs: Pair[] = [];
  group: { conversationId: string; members: BenchUser[] } | null = null;
  private readonly tag = randomBytes(4).toString('hex');
  private readonly password = `Bench-${randomBytes(9).toString('base64url')}`;

  constructor(readonly baseUrl: string) {}

  /** Makes sure at least `n` users exist; returns how long the new ones took (ms). */
  async ensureUsers(n: number, concurrency = 8): Promise<number> {
    const started = Date.now();
    const missing = Array.from({ length: Math.max(0, n - this.users.length) }, (_, k) => this.users.length + k);
    const created = await mapLimit(missing, concurrency, (idx) =>
      retrying(`register user ${idx}`, async () => {
        const client = new ParleyClient({ baseUrl: this.baseUrl });
        const res = await client.auth.register({
          email: `bench-${this.tag}-${idx}@example.com`,
          password: this.password,
          passwordConfirm: this.password,
          name: nameOf(idx),
        });
        return { idx, userId: res.user.id, client, tokenAt: Date.now() } satisfies BenchUser;
      }),
    );
    this.users.push(...created);
    return Date.now() - started;
  }

  /** `count` direct conversations between users 2i and 2i+1. */
  async ensurePairs(count: number, concurrency = 8): Promise<void> {
    await this.ensureUsers(count * 2);
    const missing = Array.from({ length: Math.max(0, count - this.pairs.length) }, (_, k) => this.pairs.length + k);
    const made = await mapLimit(missing, concurrency, (i) =>
      retrying(`create pair ${i}`, async () => {
        const a = this.users[2 * i]!;
        const b = this.users[2 * i + 1]!;
        const conv = await a.client.conversations.create({ type: 'direct', memberIds: [b.userId] });
        return { conversationId: conv.id, a, b } satisfies Pair;
      }),
    );
    this.pairs.push(...made);
  }

  /** One group of `members` users (the first ones), created by user 0. */
  async ensureGroup(members: number): Promise<{ conversationId: string; members: BenchUser[] }> {
    if (this.group && this.group.members.length === members) return this.group;
    await this.ensureUsers(members);
    const list = this.users.slice(0, members);
    const owner = list[0]!;
    const conv = await retrying('create group', () =>
      owner.client.conversations.create({
        type: 'group',
        title: 'Bench fan-out',
        maxMembers: Math.max(2, members),
        memberIds: list.slice(1).map((u) => u.userId),
      }),
    );
    this.group = { conversationId: conv.id, members: list };
    return this.group;
  }

  /** Refreshes the access tokens older than `maxAgeMs` (they live 15 minutes). */
  async refreshTokens(maxAgeMs = 8 * 60_000, concurrency = 16): Promise<void> {
    const old = this.users.filter((u) => Date.now() - u.tokenAt > maxAgeMs);
    await mapLimit(old, concurrency, async (u) => {
      if (!(await u.client.auth.refresh())) throw new Error(`could not refresh the token of user ${u.idx}`);
      u.tokenAt = Date.now();
    });
  }

  tokenOf(u: BenchUser): string {
    const t = u.client.tokens?.accessToken;
    if (!t) throw new Error(`user ${u.idx} has no token`);
    return t;
  }
}
