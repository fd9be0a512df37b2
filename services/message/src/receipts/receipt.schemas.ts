/** Request and response schemas of the marker, unread and receipt routes. */
import { LIMITS, Message, Page, Receipts, Uuid } from '@parley/contracts';
import { type Static, Type } from '@sinclair/typebox';

export const MarkerBody = Type.Object(
  { seq: Type.Integer({ minimum: 0, maximum: 2_147_483_647 }) },
  { additionalProperties: false },
);
export type MarkerBody = Static<typeof MarkerBody>;

export const ReadResponse = Type.Object({
  lastReadSeq: Type.Integer({ minimum: 0 }),
  unreadCount: Type.Integer({ minimum: 0 }),
});

/** API extension: the gateway's `delivered` frame lands here. */
export const DeliveredResponse = Type.Object({ lastDeliveredSeq: Type.Integer({ minimum: 0 }) });

export const UnreadQuery = Type.Object(
  {
    conversationId: Type.Optional(Uuid),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.pageMax })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: false },
);
export type UnreadQuery = Static<typeof UnreadQuery>;

export const UnreadPage = Page(Message);
export { Receipts };
