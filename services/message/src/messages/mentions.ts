/**
 * Mentions from `@name` tokens.
 *
 * Names may contain spaces ("Ada Lovelace"), so a mention is not a word: an
 * `@` at the start of the content or after a character that is not a letter
 * or digit, followed by a member's display name (compared case-insensitively)
 * that ends at the end of the content or before a character that is not a
 * letter or digit. When several names match at one `@` the longest wins
 * ("@Ada Lovelace" names Ada Lovelace, not Ada). `@all` in a group names
 * every member; in a direct conversation it is plain text. The sender is never
 * in their own mentions. Result: user ids in order of first mention, once each.
 */

export interface MentionCandidate {
  userId: string;
  name: string;
}

export interface MentionOptions {
  senderId: string;
  /** Group conversations honour `@all`. */
  allowAll: boolean;
}

const WORD_CHAR = /[\p{L}\p{N}_]/u;

function isWordChar(ch: string | undefined): boolean {
  return ch !== undefined && WORD_CHAR.test(ch);
}

/** Quick test so the send path skips loading member names when no `@` is present. */
export function mayContainMentions(content: string): boolean {
  return content.includes('@');
}

export function parseMentions(content: string, members: MentionCandidate[], opts: MentionOptions): string[] {
  if (!mayContainMentions(content)) return [];
  const lower = content.toLowerCase();
  const byLength = members
    .filter((m) => m.name.length > 0)
    .map((m) => ({ userId: m.userId, name: m.name.toLowerCase() }))
    .sort((a, b) => b.name.length - a.name.length);
  const found: string[] = [];
  const seen = new Set<string>();
  const add = (id: string) => {
    if (id === opts.senderId || seen.has(id)) return;
    seen.add(id);
    found.push(id);
  };

  for (let at = lower.indexOf('@'); at !== -1; at = lower.indexOf('@', at + 1)) {
    if (at > 0 && isWordChar(lower[at - 1])) continue; // e-mail addresses, "a@b"
    const rest = lower.slice(at + 1);
    if (opts.allowAll && rest.startsWith('all') && !isWordChar(rest[3])) {
      for (const m of members) add(m.userId);
      continue;
    }
    const match = byLength.find((m) => rest.startsWith(m.name) && !isWordChar(rest[m.name.length]));
    if (match) add(match.userId);
  }
  return found;
}
