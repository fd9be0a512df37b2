import { describe, expect, it } from 'vitest';
import { parseClientFrame } from './frames';

const conv = '0190f3a2-7b1c-7d2e-8f00-112233445566';
const cmid = '0190f3a2-7b1c-7d2e-8f00-000000000002';

describe('client frame validation', () => {
  it('accepts every documented client frame', () => {
    const frames = [
      { type: 'auth', token: 'abc' },
      { type: 'ping' },
      { type: 'ping', id: 'p1' },
      { type: 'message.send', id: 's1', conversationId: conv, clientMessageId: cmid, content: 'hi' },
      {
        type: 'message.send',
        id: 's2',
        conversationId: conv,
        clientMessageId: cmid,
        content: '',
        messageType: 'image',
      },
      { type: 'typing', conversationId: conv, state: 'start' },
      { type: 'read', conversationId: conv, seq: 4 },
      { type: 'delivered', conversationId: conv, seq: 4 },
      { type: 'resume', id: 'r1', cursors: [{ conversationId: conv, rev: 0 }] },
      { type: 'presence.query', id: 'q1', userIds: [conv] },
    ];
    for (const f of frames) expect(parseClientFrame(JSON.stringify(f))).toMatchObject({ ok: true, frame: f });
  });

  it('answers garbage with bad_request and no replyTo', () => {
    expect(parseClientFrame('{nope')).toMatchObject({ ok: false, code: 'bad_request' });
    expect(parseClientFrame('[1,2]')).toMatchObject({ ok: false, code: 'bad_request' });
    expect(parseClientFrame('null')).toMatchObject({ ok: false, code: 'bad_request' });
  });

  it('names every failing field and keeps the id for replyTo', () => {
    const r = parseClientFrame(
      JSON.stringify({ type: 'message.send', id: 'x1', conversationId: 'nope', content: 5, extra: true }),
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.code).toBe('validation_failed');
    expect(r.replyTo).toBe('x1');
    const fields = r.details?.map((d) => d.field) ?? [];
    expect(fields).toEqual(expect.arrayContaining(['conversationId', 'content', 'clientMessageId']));
  });

  it('refuses unknown types, oversize content and ids over 64 characters', () => {
    expect(parseClientFrame(JSON.stringify({ type: 'explode', id: 'a' }))).toMatchObject({
      ok: false,
      code: 'validation_failed',
      replyTo: 'a',
    });
    const long = 'x'.repeat(8001);
    expect(
      parseClientFrame(
        JSON.stringify({ type: 'message.send', id: 's', conversationId: conv, clientMessageId: cmid, content: long }),
      ),
    ).toMatchObject({ ok: false, code: 'validation_failed' });
    const r = parseClientFrame(JSON.stringify({ type: 'ping', id: 'i'.repeat(65) }));
    expect(r).toMatchObject({ ok: false });
    expect(r.ok ? undefined : r.replyTo).toBeUndefined();
  });
});
