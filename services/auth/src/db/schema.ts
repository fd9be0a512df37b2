/**
 * Tables of the auth service, all in the `auth` Postgres schema (no other
 * service reads or writes them). Only the repositories import this file.
 */
import { outboxTable, processedEventsTable } from '@parley/service-kit';
import { sql } from 'drizzle-orm';
import { index, jsonb, pgSchema, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

export const authSchema = pgSchema('auth');

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * Accounts. A deleted account is a tombstone: `deletedAt` set and every
 * personal field (email, name, avatar, status, password hash) erased.
 */
export const users = authSchema.table(
  'users',
  {
    id: uuid('id').primaryKey(),
    email: text('email'),
    name: text('name'),
    avatarUrl: text('avatar_url'),
    statusText: text('status_text'),
    passwordHash: text('password_hash'),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
    deletedAt: ts('deleted_at'),
  },
  (t) => [
    uniqueIndex('users_email_lower_key').on(sql`lower(${t.email})`),
    index('users_email_prefix_idx').on(sql`lower(${t.email}) text_pattern_ops`),
    index('users_name_prefix_idx').on(sql`lower(${t.name}) text_pattern_ops`),
    index('users_name_order_idx').on(sql`lower(${t.name})`, t.id),
  ],
);

/** One row per login; ended by logout, refresh-token reuse or account deletion. */
export const sessions = authSchema.table(
  'sessions',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    createdAt: ts('created_at').notNull(),
    refreshedAt: ts('refreshed_at').notNull(),
    revokedAt: ts('revoked_at'),
    revokedReason: text('revoked_reason'),
  },
  (t) => [index('sessions_user_idx').on(t.userId)],
);

/**
 * Refresh tokens, stored only as SHA-256 hashes. Each refresh spends the
 * presented token (`spentAt`) and adds the next one of the same session:
 * the chain of a session is its rows in `createdAt` order.
 */
export const refreshTokens = authSchema.table(
  'refresh_tokens',
  {
    tokenHash: text('token_hash').primaryKey(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    createdAt: ts('created_at').notNull(),
    expiresAt: ts('expires_at').notNull(),
    spentAt: ts('spent_at'),
  },
  (t) => [index('refresh_tokens_session_idx').on(t.sessionId)],
);

/**
 * Access-token signing keys (Ed25519). The newest unretired key signs; a
 * retired key stays in the JWKS until every token it signed has expired.
 * The private key is stored encrypted (AES-256-GCM, see keys/key-encryption.ts).
 */
export const signingKeys = authSchema.table('signing_keys', {
  kid: text('kid').primaryKey(),
  alg: text('alg').notNull(),
  publicJwk: jsonb('public_jwk').$type<Record<string, unknown>>().notNull(),
  privateKeyEncrypted: text('private_key_encrypted').notNull(),
  createdAt: ts('created_at').notNull(),
  retiredAt: ts('retired_at'),
});

export const outbox = outboxTable(authSchema);
export const processedEvents = processedEventsTable(authSchema);
