import { ApiError } from '@parley/service-kit';
import { describe, expect, it } from 'vitest';
import { decodeRevCursor, encodeRevCursor } from '../history/history.cursor';
import { watermarkRev } from '../membership/read-your-writes';
import { MATCH_END, MATCH_START } from './search.repository';
import { decodeSearchCursor, encodeSearchCursor, renderSnippet } from './search.rules';

const expectInvalidCursor = (fn: () => unknown) => {
  try {
    fn();
    expect.unreachable();
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('validation_failed');
    expect((err as ApiError).details?.[0]?.field).toBe('cursor');
  }
};

describe('renderSnippet', () => {
  it('escapes HTML in the message text and marks the matches', () => {
    const raw = `<script>alert(1)</script> we were ${MATCH_START}running${MATCH_END} & "jumping"`;
    expect(renderSnippet(raw)).toBe(
      '&lt;script&gt;alert(1)&lt;/script&gt; we were <mark>running</mark> &amp; &quot;jumping&quot;',
    );
  });
});

describe('search cursor', () => {
  it('round-trips rank and id exactly', () => {
    const c = { rank: 0.0607927, id: '0190f3a2-7b1c-7d2e-8f00-112233445566' };
    expect(decodeSearchCursor(encodeSearchCursor(c))).toEqual(c);
  });
  it('rejects anything it did not make', () => {
    expectInvalidCursor(() => decodeSearchCursor('garbage'));
    expectInvalidCursor(() => decodeSearchCursor(Buffer.from('{"r":"x","i":"y"}').toString('base64url')));
    expectInvalidCursor(() => decodeSearchCursor(encodeRevCursor(3)));
  });
});

describe('history cursor', () => {
  it('round-trips the rev and rejects others', () => {
    expect(decodeRevCursor(encodeRevCursor(42))).toBe(42);
    expectInvalidCursor(() => decodeRevCursor('cjp4'));
    expectInvalidCursor(() =>
      decodeRevCursor(encodeSearchCursor({ rank: 1, id: '0190f3a2-7b1c-7d2e-8f00-112233445566' })),
    );
  });
});

describe('watermarkRev', () => {
  it('reads the rev of the message service watermark, a bare integer, or nothing', () => {
    expect(watermarkRev('{"rev":12,"seq":7}')).toBe(12);
    expect(watermarkRev('{"rev":3,"readSeq":2}')).toBe(3);
    expect(watermarkRev('9')).toBe(9);
    expect(watermarkRev('{"seq":7}')).toBeNull();
    expect(watermarkRev('nope')).toBeNull();
    expect(watermarkRev(null)).toBeNull();
  });
});
