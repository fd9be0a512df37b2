/**
 * Keeps the README's configuration table true: every variable any service's
 * config schema reads is documented there, and the table names no variable
 * that nothing reads.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuthConfig } from '@parley/auth/config';
import { ConversationConfig } from '@parley/conversation/config';
import { HistoryConfig } from '@parley/history/config';
import { MessageConfig } from '@parley/message/config';
import { NotificationConfig } from '@parley/notification/config';
import { GatewayConfig } from '@parley/realtime-gateway/config';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const schemas = [AuthConfig, ConversationConfig, MessageConfig, NotificationConfig, HistoryConfig, GatewayConfig];
const read = new Set(schemas.flatMap((s) => Object.keys(s.properties)));

function documented(): Set<string> {
  const section = readme.split('## Configuration')[1]?.split('\n## ')[0] ?? '';
  const names = new Set<string>();
  for (const line of section.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const first = line.split('|')[1] ?? '';
    for (const m of first.matchAll(/`([A-Z][A-Z0-9_]+)`/g)) names.add(m[1]!);
  }
  return names;
}

describe('README configuration table', () => {
  it('documents every variable a service reads', () => {
    const missing = [...read].filter((v) => !documented().has(v));
    expect(missing).toEqual([]);
  });

  it('documents no variable that nothing reads', () => {
    const stale = [...documented()].filter((v) => !read.has(v));
    expect(stale).toEqual([]);
  });

  it('shows the two commands: start and test', () => {
    expect(readme).toMatch(/pnpm start/);
    expect(readme).toMatch(/```sh\npnpm test\n```/);
  });
});
