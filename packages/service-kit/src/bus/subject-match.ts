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
