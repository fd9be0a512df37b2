/**
 * The local membership model (conversations, members, user names): the only
 * code that reads or writes those tables. Every write is conditional on the
 * fact being at least as new as the stored one, so events and RPC answers
 * arriving in any order converge on the newest fact.
 */
import type { DbOrTx } from '@parley/service-kit';
import { and, eq, inArray, isNull, lte, notInArray, type Placeholder, type SQL, sql } from 'drizzle-orm';
import { preparedStatement } from '../db/prepared';
import { conversations, counters, markers, members, messages, users } from '../db/schema';
import type { Access, ConversationModel, MemberModel, MemberRole, MemberState } from './membership.policy';

export interface ConversationFactInput extends ConversationModel {
  /** The owner's `updatedAt`. */
  version: Date;
}

export interface MemberName {
  userId: string;
  name: string | null;
}

/**
 * `SELECT <conversation id>` when the model lets the user send into the
 * conversation (open, and the user an active member): the allowing case of
 * `decide(access, 'send')`, for a statement that checks and writes at once
 * (the send path's insert). No row otherwise, whatever the reason.
 */
export function sendAllowed(conversationId: string | Placeholder, userId: string | Placeholder): SQL {
  return sql`SELECT cv.id FROM ${conversations} cv
             JOIN ${members} mb ON mb.conversation_id = cv.id AND mb.user_id = ${userId}
             WHERE cv.id = ${conversationId} AND cv.status = 'open' AND mb.state = 'active'`;
}

interface AccessRow {
  id: string;
  type: ConversationModel['type'];
  visibility: ConversationModel['visibility'];
  status: ConversationModel['status'];
  title: string | null;
  member_user_id: string | null;
  role: MemberRole | null;
  state: MemberState | null;
}

const findAccessStatement = preparedStatement<{ conversationId: string; userId: string }>(
  'message_find_access',
  sql`SELECT cv.id, cv.type, cv.visibility, cv.status, cv.title,
             mb.user_id AS member_user_id, mb.role, mb.state
      FROM ${conversations} cv
      LEFT JOIN ${members} mb ON mb.conversation_id = cv.id AND mb.user_id = ${sql.placeholder('userId')}
      WHERE cv.id = ${sql.placeholder('conversationId')}`,
);

export function createMembershipRepository() {
  return {
    /** The conversation and the user's membership in one indexed read (a prepared statement). */
    async findAccess(db: DbOrTx, conversationId: string, userId: string): Promise<Access> {
      const [r] = await findAccessStatement<AccessRow>(db, { conversationId, userId });
      if (!r) return { conversation: null, member: null };
      return {
        conversation: { id: r.id, type: r.type, visibility: r.visibility, status: r.status, title: r.title },
        member:
          r.member_user_id && r.role && r.state ? { userId: r.member_user_id, role: r.role, state: r.state } : null,
      };
    },

    async hasConversation(db: DbOrTx, conversationId: string): Promise<boolean> {
      const rows = await db
        .select({ id: conversations.id })
        .from(conversations)
        .where(eq(conversations.id, conversationId))
        .limit(1);
      return rows.length > 0;
    },

    /** Stores a conversation fact unless a newer one is already stored. */
    async upsertConversation(db: DbOrTx, fact: ConversationFactInput): Promise<void> {
      await db
        .insert(conversations)
        .values({
          id: fact.id,
          type: fact.type,
          visibility: fact.visibility,
          status: fact.status,
          title: fact.title,
          version: fact.version,
        })
        .onConflictDoUpdate({
          target: conversations.id,
          set: {
            type: sql`excluded.type`,
            visibility: sql`excluded.visibility`,
            status: sql`excluded.status`,
            title: sql`excluded.title`,
            version: sql`excluded.version`,
          },
          setWhere: sql`${conversations.version} <= excluded.version`,
        });
    },

    /** Stores a membership fact true at `syncedAt` unless a newer one is already stored. */
    async upsertMember(
      db: DbOrTx,
      conversationId: string,
      m: { userId: string; role: MemberRole; state: MemberState },
      syncedAt: Date,
    ): Promise<void> {
      await db
        .insert(members)
        .values({ conversationId, userId: m.userId, role: m.role, state: m.state, syncedAt })
        .onConflictDoUpdate({
          target: [members.conversationId, members.userId],
          set: { role: sql`excluded.role`, state: sql`excluded.state`, syncedAt: sql`excluded.synced_at` },
          setWhere: sql`${members.syncedAt} <= excluded.synced_at`,
        });
    },

    /** Every member row of a conversation (for `conversation.created` / RPC.conversationMembers). */
    async replaceMembers(db: DbOrTx, conversationId: string, list: MemberModel[], syncedAt: Date): Promise<void> {
      for (const m of list) await this.upsertMember(db, conversationId, m, syncedAt);
      // Members missing from a complete list have left (unless a newer fact says otherwise).
      const present = list.map((m) => m.userId);
      await db
        .update(members)
        .set({ state: 'removed', syncedAt })
        .where(
          and(
            eq(members.conversationId, conversationId),
            lte(members.syncedAt, syncedAt),
            present.length ? notInArray(members.userId, present) : undefined,
          ),
        );
    },

    /** A deleted conversation takes its messages, counters and markers with it. */
    async deleteConversation(db: DbOrTx, conversationId: string): Promise<void> {
      await db.delete(members).where(eq(members.conversationId, conversationId));
      await db.delete(markers).where(eq(markers.conversationId, conversationId));
      await db.delete(messages).where(eq(messages.conversationId, conversationId));
      await db.delete(counters).where(eq(counters.conversationId, conversationId));
      await db.delete(conversations).where(eq(conversations.id, conversationId));
    },

    /** Active and muted members with their names (null when the name model has none). */
    async presentMembersWithNames(db: DbOrTx, conversationId: string): Promise<MemberName[]> {
      const rows = await db
        .select({ userId: members.userId, name: users.name, deletedAt: users.deletedAt })
        .from(members)
        .leftJoin(users, eq(users.id, members.userId))
        .where(and(eq(members.conversationId, conversationId), inArray(members.state, ['active', 'muted'])));
      return rows.map((r) => ({ userId: r.userId, name: r.deletedAt ? null : r.name }));
    },

    async namesOf(db: DbOrTx, ids: string[]): Promise<Map<string, string | null>> {
      const out = new Map<string, string | null>();
      if (ids.length === 0) return out;
      const rows = await db
        .select({ id: users.id, name: users.name, deletedAt: users.deletedAt })
        .from(users)
        .where(inArray(users.id, ids));
      for (const r of rows) out.set(r.id, r.deletedAt ? null : r.name);
      return out;
    },

    /** Stores a user's name unless the user was deleted. */
    async upsertUserName(db: DbOrTx, id: string, name: string): Promise<void> {
      await db
        .insert(users)
        .values({ id, name })
        .onConflictDoUpdate({ target: users.id, set: { name }, setWhere: isNull(users.deletedAt) });
    },

    async markUserDeleted(db: DbOrTx, id: string, at: Date): Promise<void> {
      await db
        .insert(users)
        .values({ id, name: '', deletedAt: at })
        .onConflictDoUpdate({ target: users.id, set: { name: '', deletedAt: at } });
    },

    /** A deleted user's memberships (they leave every conversation). */
    async removeUserEverywhere(db: DbOrTx, userId: string, at: Date): Promise<void> {
      await db
        .update(members)
        .set({ state: 'removed', syncedAt: at })
        .where(and(eq(members.userId, userId), lte(members.syncedAt, at)));
    },
  };
}

export type MembershipRepository = ReturnType<typeof createMembershipRepository>;
