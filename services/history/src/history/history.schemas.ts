/** Request and response schemas of the history routes (API.md, Messages: history and search). */
import { LIMITS, Page, Timestamp, Uuid } from '@parley/contracts';
import { Type } from '@sinclair/typebox';

export const MessageIdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

export const HistoryQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: LIMITS.pageMax, default: LIMITS.pageDefault }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: false },
);

/** One replaced version of a message: its content before an edit, when and by whom it was edited. */
export const MessageRevision = Type.Object({ content: Type.String(), editedAt: Timestamp, editorId: Uuid });
export const HistoryPage = Page(MessageRevision);
