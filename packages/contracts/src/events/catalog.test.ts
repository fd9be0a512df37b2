import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, filterOf, keyOf, STREAMS, streamOf, subjectOf, typeOfSubject } from './catalog';
import { EventValidationError, makeEvent, parseEvent } from './envelope';

const convId = '0190f3a2-7b1c-7d2e-8f00-112233445566';
const userId = '0190f3a2-7b1c-7d2e-8f00-aabbccddeeff';
const now = new Date('2026-01-02T03:04:05.000Z').toISOString();

const message = {
  id: '0190f3a2-7b1c-7d2e-8f00-000000000001',
  conversationId: convId,
  seq: 1,
  rev: 1,
  senderId: userId,
  clientMessageId: '0190f3a2-7b1c-7d2e-8f00-000000000002',
  type: 'text' as const,
  content: 'hello',
  attachments: [],
  mentions: [],
  parentId: null,
  threadRootId: null,
  replyCount: 0,
  system: null,
  createdAt: now,
  editedAt: null,
  deletedAt: null,
};

describe('subject scheme', () => {
  it('puts the routing key between domain and action', () => {
    expect(subjectOf('message.created', convId)).toBe(`message.${convId}.created`);
    expect(filterOf('message.created')).toBe('message.*.created');
    expect(typeOfSubject(`member.${convId}.added`)).toBe('member.added');
    expect(typeOfSubject('member.x.unknown')).toBeNull();
  });

  it('refuses keys that would break the subject', () => {
    expect(() => subjectOf('user.created', 'a.b')).toThrow();
    expect(() => subjectOf('user.created', 'a>')).toThrow();
  });

  it('derives the key from the data of every event type', () => {
    expect(keyOf('message.created', { message })).toBe(convId);
    expect(keyOf('user.deleted', { userId, deletedAt: now })).toBe(userId);
    expect(keyOf('receipt.read', { conversationId: convId, userId, seq: 3, at: now })).toBe(convId);
  });

  it('stores every event type in exactly one stream', () => {
    for (const type of EVENT_TYPES) {
      const stream = streamOf(type);
      expect(STREAMS[stream].subjects.some((s) => s.startsWith(`${type.split('.')[0]}.`))).toBe(true);
    }
  });
});

describe('event validation', () => {
  it('accepts a well-formed envelope', () => {
    const event = makeEvent('message.created', { message }, { id: message.id, producer: 'message' });
    expect(parseEvent(JSON.parse(JSON.stringify(event))).type).toBe('message.created');
  });

  it('rejects malformed data with a clear error naming the field', () => {
    const bad = {
      id: message.id,
      type: 'message.created',
      version: 1,
      occurredAt: now,
      producer: 'message',
      data: { message: { ...message, seq: 'one' } },
    };
    expect(() => parseEvent(bad)).toThrow(EventValidationError);
    expect(() => parseEvent(bad)).toThrow(/\/data\/message\/seq/);
  });

  it('rejects unknown types, bad ids and missing envelope fields', () => {
    const base = {
      id: message.id,
      type: 'message.created',
      version: 1,
      occurredAt: now,
      producer: 'm',
      data: { message },
    };
    expect(() => parseEvent({ ...base, type: 'message.exploded' })).toThrow(/unknown event type/);
    expect(() => parseEvent({ ...base, id: 'not-a-uuid' })).toThrow(EventValidationError);
    const { producer: _p, ...noProducer } = base;
    expect(() => parseEvent(noProducer)).toThrow(EventValidationError);
    expect(() =>
      makeEvent('user.deleted', { userId: 'nope', deletedAt: now }, { id: message.id, producer: 'a' }),
    ).toThrow(EventValidationError);
  });
});
