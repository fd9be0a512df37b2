import { ApiError } from '@parley/service-kit';
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from './notification.cursor';

describe('notification cursors', () => {
  it('round-trips the last id', () => {
    const id = '0190f3a2-7b1c-7d2e-8f00-112233445566';
    expect(decodeCursor(encodeCursor(id))).toBe(id);
  });

  it.each(['x', 'bjE6bm90LWEtdXVpZA', Buffer.from('0190f3a2-7b1c-7d2e-8f00-112233445566').toString('base64url')])(
    'rejects a cursor it did not make (%s) with validation_failed on the cursor field',
    (cursor) => {
      try {
        decodeCursor(cursor);
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(ApiError);
        expect((err as ApiError).code).toBe('validation_failed');
        expect((err as ApiError).details?.[0]?.field).toBe('cursor');
      }
    },
  );
});
