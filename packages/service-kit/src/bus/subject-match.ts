/**
 * NATS subject rules, shared by the in-memory bus (which must route exactly
 * like a nats-server) and the NATS adapter (which checks subjects before they
 * reach the wire, so a bad subject fails at the caller with a clear message
 * instead of as a protocol error on the connection).
 *
 * A subject is dot-separated non-empty tokens without whitespace. In a
 * pattern, `*` matches exactly one token and `>` (last token only) matches one
 * or more tokens.
 */

const BAD_TOKEN_CHARS = /[\s]/;

function tokensOf(subject: string): string[] | null {
  if (typeof subject !== 'string' || subject.length === 0) return null;
  const tokens = subject.split('.');
  for (const t of tokens) {
    if (t.length === 0 || BAD_TOKEN_CHARS.test(t)) return null;
  }
  return tokens;
}

/** A concrete subject one may publish to: no wildcards. */
export function isValidSubject(subject: string): boolean {
  const tokens = tokensOf(subject);
  if (!tokens) return false;
  return tokens.every((t) => !t.includes('*') && !t.includes('>'));
}

/** A subscription pattern: `*` as a whole token anywhere, `>` as the whole last token. */
export function isValidPattern(pattern: string): boolean {
  const tokens = tokensOf(pattern);
  if (!tokens) return false;
  return tokens.every((t, i) => {
    if (t === '*') return true;
    if (t === '>') return i === tokens.length - 1;
    return !t.includes('*') && !t.includes('>');
  });
}

/** Whether a concrete subject matches a pattern (`*` one token, `>` one or more trailing tokens). */
export function matchSubject(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    const token = p[i];
    if (token === '>') return s.length > i;
    if (i >= s.length) return false;
    if (token !== '*' && token !== s[i]) return false;
  }
  return p.length === s.length;
}

/**
 * Whether every subject matched by `inner` is also matched by `outer`
 * (used to check that a consumer filter lies inside a stream's subjects).
 */
export function patternCovers(outer: string, inner: string): boolean {
  const o = outer.split('.');
  const n = inner.split('.');
  for (let i = 0; i < o.length; i++) {
    const token = o[i];
    if (token === '>') return n.length > i;
    if (i >= n.length) return false;
    if (n[i] === '>') return false;
    if (token === '*') continue;
    if (n[i] === '*' || n[i] !== token) return false;
  }
  return o.length === n.length;
}

interface IndexNode<T> {
  literal: Map<string, IndexNode<T>>;
  star: IndexNode<T> | null;
  /** Values whose pattern ends here. */
  here: Set<T>;
  /** Values whose pattern ends with `>` here. */
  tail: Set<T>;
}

function newNode<T>(): IndexNode<T> {
  return { literal: new Map(), star: null, here: new Set(), tail: new Set() };
}

/**
 * Patterns indexed by token (a small version of nats-server's sublist), so
 * routing one subject costs its depth, not the number of subscriptions: a
 * gateway holds one subscription per conversation of each connected user.
 */
export class SubjectIndex<T> {
  private readonly root: IndexNode<T> = newNode();

  add(pattern: string, value: T): void {
    let node = this.root;
    for (const token of pattern.split('.')) {
      if (token === '>') {
        node.tail.add(value);
        return;
      }
      if (token === '*') {
        node.star ??= newNode();
        node = node.star;
      } else {
        let next = node.literal.get(token);
        if (!next) {
          next = newNode();
          node.literal.set(token, next);
        }
        node = next;
      }
    }
    node.here.add(value);
  }

  remove(pattern: string, value: T): void {
    this.removeAt(this.root, pattern.split('.'), 0, value);
  }

  /** Values whose pattern matches the concrete subject. */
  match(subject: string): T[] {
    const out: T[] = [];
    this.collect(this.root, subject.split('.'), 0, out);
    return out;
  }

  private collect(node: IndexNode<T>, tokens: string[], i: number, out: T[]): void {
    if (i === tokens.length) {
      for (const v of node.here) out.push(v);
      return;
    }
    for (const v of node.tail) out.push(v);
    const next = node.literal.get(tokens[i]!);
    if (next) this.collect(next, tokens, i + 1, out);
    if (node.star) this.collect(node.star, tokens, i + 1, out);
  }

  /** Removes the value and prunes nodes left empty; returns whether `node` is now empty. */
  private removeAt(node: IndexNode<T>, tokens: string[], i: number, value: T): boolean {
    const token = tokens[i];
    if (token === undefined) node.here.delete(value);
    else if (token === '>') node.tail.delete(value);
    else if (token === '*') {
      if (node.star && this.removeAt(node.star, tokens, i + 1, value)) node.star = null;
    } else {
      const next = node.literal.get(token);
      if (next && this.removeAt(next, tokens, i + 1, value)) node.literal.delete(token);
    }
    return node.here.size === 0 && node.tail.size === 0 && node.literal.size === 0 && node.star === null;
  }

  /** Whether nothing is indexed (used to check that unsubscribing leaves nothing behind). */
  isEmpty(): boolean {
    const r = this.root;
    return r.here.size === 0 && r.tail.size === 0 && r.literal.size === 0 && r.star === null;
  }
}
