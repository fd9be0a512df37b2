/** Message facts as the message service would publish them. */
import type { Message } from '@parley/contracts';
import { newId } from '@parley/service-kit';

export function makeMessage(
  conversationId: string,
  seq: number,
  overrides: Partial<Message> & { senderId: string | null },
): Message {
  const system = overrides.type === 'system';
  return {
    id: newId(),
    conversationId,
    seq,
    rev: seq,
    clientMessageId: system ? null : newId(),
    type: 'text',
    content: `message ${seq}`,
    attachments: [],
    mentions: [],
    parentId: null,
    threadRootId: null,
    replyCount: 0,
    system: system ? { event: 'member_added', actorId: null, targetIds: [] } : null,
    createdAt: new Date().toISOString(),
    editedAt: null,
    deletedAt: null,
    ...overrides,
  };
}
