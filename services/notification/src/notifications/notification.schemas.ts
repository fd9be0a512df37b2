/** Request and response schemas of the notification routes (API.md, Notifications). */
import { LIMITS, Notification, Page, Uuid } from '@parley/contracts';
import { type Static, Type } from '@sinclair/typebox';

export { Notification };

export const NotificationListQuery = Type.Object(
  {
    unread: Type.Optional(Type.Boolean()),
    limit: Type.Integer({ minimum: 1, maximum: LIMITS.pageMax, default: LIMITS.pageDefault }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: false },
);
export type NotificationListQuery = Static<typeof NotificationListQuery>;

export const NotificationPage = Page(Notification);

export const NotificationIdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

export const UnreadCount = Type.Object({ count: Type.Integer({ minimum: 0 }) });

/** Body of read-all; an absent body means "all conversations". */
export const ReadAllBody = Type.Object({ conversationId: Type.Optional(Uuid) }, { additionalProperties: false });
export type ReadAllBody = Static<typeof ReadAllBody>;

export const ReadAllResult = Type.Object({ updated: Type.Integer({ minimum: 0 }) });
