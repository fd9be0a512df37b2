/**
 * Request and response schemas of the message routes (API.md, Messages).
 * Shared shapes come from contracts; everything here is closed
 * (`additionalProperties: false`) and capped.
 */
import { ErrorBody, LIMITS, Message, Page, SendMessageBody, Uuid } from '@parley/contracts';
import { type Static, Type } from '@sinclair/typebox';

export { SendMessageBody };

export const ConversationParams = Type.Object({ id: Uuid }, { additionalProperties: false });
export type ConversationParams = Static<typeof ConversationParams>;
export const MessageParams = Type.Object({ id: Uuid }, { additionalProperties: false });
export type MessageParams = Static<typeof MessageParams>;

const Seq = Type.Integer({ minimum: 0, maximum: 2_147_483_647 });
const Cursor = Type.String({ minLength: 1, maxLength: 512 });
const Limit = Type.Integer({ minimum: 1, maximum: LIMITS.pageMax });

export const ListMessagesQuery = Type.Object(
  {
    before: Type.Optional(Seq),
    after: Type.Optional(Seq),
    limit: Type.Optional(Limit),
    cursor: Type.Optional(Cursor),
  },
  { additionalProperties: false },
);
export type ListMessagesQuery = Static<typeof ListMessagesQuery>;

/** Catch-up pages may be larger than list pages (the gateway resumes up to 1,000 changes). */
export const CHANGES_PAGE_MAX = 1000;
export const ChangesQuery = Type.Object(
  {
    sinceRev: Seq,
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: CHANGES_PAGE_MAX })),
    cursor: Type.Optional(Cursor),
  },
  { additionalProperties: false },
);
export type ChangesQuery = Static<typeof ChangesQuery>;

export const PageQuery = Type.Object(
  { limit: Type.Optional(Limit), cursor: Type.Optional(Cursor) },
  { additionalProperties: false },
);
export type PageQuery = Static<typeof PageQuery>;

export const EditMessageBody = Type.Object(
  { content: Type.String({ maxLength: LIMITS.messageContentChars }) },
  { additionalProperties: false },
);
export type EditMessageBody = Static<typeof EditMessageBody>;

export const MessagePage = Page(Message);

export const ThreadReply = Type.Composite([Message, Type.Object({ depth: Type.Integer({ minimum: 1 }) })]);
export const ThreadResponse = Type.Object({
  root: Message,
  replies: Type.Array(ThreadReply),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});

export { ErrorBody, Message };
