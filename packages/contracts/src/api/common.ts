import { type Static, type TSchema, Type } from '@sinclair/typebox';

/** UUID string (v7 for ids Parley assigns). */
export const Uuid = Type.String({ format: 'uuid', maxLength: 36 });
export const Timestamp = Type.String({ format: 'date-time' });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);

/** `?limit=&cursor=` as every list route accepts them. */
export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: false },
);
export type PageQuery = Static<typeof PageQuery>;

/** `{ items, nextCursor }` envelope of every list response. */
export const Page = <T extends TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });
export interface PageOf<T> {
  items: T[];
  nextCursor: string | null;
}

export const ErrorCode = Type.Union([
  Type.Literal('validation_failed'),
  Type.Literal('bad_request'),
  Type.Literal('unauthorized'),
  Type.Literal('invalid_credentials'),
  Type.Literal('forbidden'),
  Type.Literal('not_found'),
  Type.Literal('conflict'),
  Type.Literal('payload_too_large'),
  Type.Literal('unsupported_media_type'),
  Type.Literal('rate_limited'),
  Type.Literal('unavailable'),
  Type.Literal('internal'),
]);
export type ErrorCode = Static<typeof ErrorCode>;

export const ErrorDetail = Type.Object({
  field: Type.String(),
  code: Type.String(),
  message: Type.String(),
});
export type ErrorDetail = Static<typeof ErrorDetail>;

/** The one error shape of the public API (API.md, Conventions). */
export const ErrorBody = Type.Object({
  error: Type.Object({
    code: ErrorCode,
    message: Type.String(),
    details: Type.Optional(Type.Array(ErrorDetail)),
    requestId: Type.String(),
  }),
});
export type ErrorBody = Static<typeof ErrorBody>;

export const STATUS_OF_ERROR: Record<ErrorCode, number> = {
  validation_failed: 400,
  bad_request: 400,
  unauthorized: 401,
  invalid_credentials: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
};

/** Limits of API.md shared by services, gateway and SDK. */
export const LIMITS = {
  bodyBytes: 64 * 1024,
  messageContentChars: 8000,
  metadataBytes: 4 * 1024,
  maxMembersMin: 2,
  maxMembersMax: 1000,
  maxMembersDefault: 50,
  pageDefault: 50,
  pageMax: 200,
  wsFrameBytes: 64 * 1024,
  resumeMaxChanges: 1000,
  accessTokenSeconds: 15 * 60,
} as const;
