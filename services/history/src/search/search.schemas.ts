/** Request and response schemas of message search. */
import { LIMITS, Message, Page, Uuid } from '@parley/contracts';
import { Type } from '@sinclair/typebox';

export const SearchQuery = Type.Object(
  {
    /** Web-search syntax: words, "quoted phrases", `or`, `-excluded`. */
    q: Type.String({ minLength: 1, maxLength: 256, pattern: '\\S' }),
    conversationId: Type.Optional(Uuid),
    limit: Type.Integer({ minimum: 1, maximum: LIMITS.pageMax, default: LIMITS.pageDefault }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: false },
);

/** A matching message, with an HTML-safe snippet (`<mark>` around matches) and its rank. */
export const SearchHit = Type.Composite([Message, Type.Object({ snippet: Type.String(), rank: Type.Number() })]);
export const SearchPage = Page(SearchHit);
