/**
 * The only module of the conversation service that speaks drizzle. Every
 * function takes the handle to run on (the database, or the transaction the
 * caller holds) and returns plain domain records.
 */
import type { DbOrTx } from '@parley/service-kit';
import { and, asc, eq, inArray, isNotNull, isNull, ne, sql } from 'drizzle-orm';
import { conversations, departedMutes, members, messageIndex, users } from '../db/schema';
import type {
  ConversationForUser,
  ConversationRecord,
  MemberRecord,
  PreviewRecord,
  UserRecord,
} from './conversation.model';

type ConversationRow = typeof conversations.$inferSelect;
type MemberRow = typeof members.$inferSelect;

const toConversationRecord = (r: ConversationRow): ConversationRecord => ({
  id: r.id,
  type: r.type,
  title: r.title,
  visibility: r.visibility,
  status: r.status,
  maxMembers: r.maxMembers,
  memberCount: r.memberCount,
  metadata: r.metadata,
  createdBy: r.createdBy,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
  directKey: r.directKey,
  lastActivityAt: r.lastActivityAt,
  lastMessageAt: r.lastMessageAt,
  lastSeq: r.lastSeq,
  lastRev: r.lastRev,
  lastMessage: r.lastMessage ?? null,
});

const toMemberRecord = (r: MemberRow): MemberRecord => ({
  conversationId: r.conversationId,
  userId: r.userId,
  role: r.role,
  state: r.state,
  notifications: r.notifications,
  joinedAt: r.joinedAt,
  lastReadSeq: r.lastReadSeq,
});

/** Keyset position of the conversation lists: (last_activity_at, id) descending. */
export interface ActivityCursor {
  at: string;
  id: string;
}
/** Keyset position of the member list: (joined_at, user_id) ascending. */
export interface MemberCursor {
  at: string;
  userId: string;
}

/** Unread messages of the joined member: after their marker, not theirs, not deleted, not system. */
// The outer column is written out qualified: drizzle renders `${members.conversationId}`
// as a bare "conversation_id", which inside this subquery means mi's own column
// (always true), so every conversation of the user was counted.
const unreadCount = sql<number>`(
  select count(*)::int from "conversation"."message_index" mi
  where mi.conversation_id = "conversation"."members"."conversation_id"
    and mi.seq > ${members.lastReadSeq}
    and not mi.deleted and not mi.is_system
    and mi.sender_id is distinct from ${members.userId}
)`;

export function createConversationRepository() {
  return {
    /** Inserts; a direct conversation whose pair already has one is not inserted (false). */
    async insertConversation(on: DbOrTx, c: ConversationRecord): Promise<boolean> {
      const inserted = await on
        .insert(conversations)
        .values({
          id: c.id,
          type: c.type,
          title: c.title,
          visibility: c.visibility,
          status: c.status,
          maxMembers: c.maxMembers,
          memberCount: c.memberCount,
          metadata: c.metadata,
          createdBy: c.createdBy,
          createdAt: c.createdAt,
          updatedAt: c.updatedAt,
          directKey: c.directKey,
          lastActivityAt: c.lastActivityAt,
        })
        .onConflictDoNothing({ target: conversations.directKey })
        .returning({ id: conversations.id });
      return inserted.length === 1;
    },

    async findByDirectKey(on: DbOrTx, directKey: string): Promise<ConversationRecord | null> {
      const rows = await on.select().from(conversations).where(eq(conversations.directKey, directKey)).limit(1);
      return rows[0] ? toConversationRecord(rows[0]) : null;
    },

    /** With `forUpdate`, locks the row until the transaction ends (membership changes serialize on it). */
    async findConversation(on: DbOrTx, id: string, opts: { forUpdate?: boolean } = {}) {
      const q = on.select().from(conversations).where(eq(conversations.id, id)).limit(1);
      const rows = opts.forUpdate ? await q.for('update') : await q;
      return rows[0] ? toConversationRecord(rows[0]) : null;
    },

    async updateConversation(
      on: DbOrTx,
      id: string,
      patch: Partial<
        Pick<
          ConversationRecord,
          'title' | 'visibility' | 'maxMembers' | 'metadata' | 'status' | 'updatedAt' | 'memberCount'
        >
      >,
    ): Promise<ConversationRecord> {
      const rows = await on.update(conversations).set(patch).where(eq(conversations.id, id)).returning();
      return toConversationRecord(rows[0]!);
    },

    async deleteConversation(on: DbOrTx, id: string): Promise<void> {
      await on.delete(conversations).where(eq(conversations.id, id));
    },

    async insertMembers(on: DbOrTx, rows: MemberRecord[]): Promise<void> {
      if (rows.length === 0) return;
      await on.insert(members).values(rows);
    },

    async findMember(on: DbOrTx, conversationId: string, userId: string): Promise<MemberRecord | null> {
      const rows = await on
        .select()
        .from(members)
        .where(and(eq(members.conversationId, conversationId), eq(members.userId, userId)))
        .limit(1);
      return rows[0] ? toMemberRecord(rows[0]) : null;
    },

    async findMembers(on: DbOrTx, conversationId: string, userIds: string[]): Promise<MemberRecord[]> {
      if (userIds.length === 0) return [];
      const rows = await on
        .select()
        .from(members)
        .where(and(eq(members.conversationId, conversationId), inArray(members.userId, userIds)));
      return rows.map(toMemberRecord);
    },

    /** Every member row (banned included), longest-standing first. */
    async listAllMembers(on: DbOrTx, conversationId: string): Promise<MemberRecord[]> {
      const rows = await on
        .select()
        .from(members)
        .where(eq(members.conversationId, conversationId))
        .orderBy(asc(members.joinedAt), asc(members.userId));
      return rows.map(toMemberRecord);
    },

    async listMembersPage(
      on: DbOrTx,
      conversationId: string,
      after: MemberCursor | null,
      limit: number,
    ): Promise<MemberRecord[]> {
      const rows = await on
        .select()
        .from(members)
        .where(
          and(
            eq(members.conversationId, conversationId),
            after
              ? sql`(${members.joinedAt}, ${members.userId}) > (${after.at}::timestamptz, ${after.userId}::uuid)`
              : undefined,
          ),
        )
        .orderBy(asc(members.joinedAt), asc(members.userId))
        .limit(limit);
      return rows.map(toMemberRecord);
    },

    async updateMember(
      on: DbOrTx,
      conversationId: string,
      userId: string,
      patch: Partial<Pick<MemberRecord, 'role' | 'state' | 'notifications' | 'joinedAt'>>,
    ): Promise<MemberRecord> {
      const rows = await on
        .update(members)
        .set(patch)
        .where(and(eq(members.conversationId, conversationId), eq(members.userId, userId)))
        .returning();
      return toMemberRecord(rows[0]!);
    },

    async deleteMember(on: DbOrTx, conversationId: string, userId: string): Promise<void> {
      await on.delete(members).where(and(eq(members.conversationId, conversationId), eq(members.userId, userId)));
    },

    /** Keeps the mute of a muted member who departs (see `departed_mutes`). */
    async rememberDepartedMute(on: DbOrTx, conversationId: string, userId: string, at: Date): Promise<void> {
      await on.insert(departedMutes).values({ conversationId, userId, departedAt: at }).onConflictDoNothing();
    },

    /** Removes the remembered mutes of these users; true for each one that had one. */
    async takeDepartedMutes(on: DbOrTx, conversationId: string, userIds: string[]): Promise<Set<string>> {
      if (userIds.length === 0) return new Set();
      const rows = await on
        .delete(departedMutes)
        .where(and(eq(departedMutes.conversationId, conversationId), inArray(departedMutes.userId, userIds)))
        .returning({ userId: departedMutes.userId });
      return new Set(rows.map((r) => r.userId));
    },

    async countUnread(on: DbOrTx, conversationId: string, userId: string): Promise<number> {
      const rows = await on
        .select({ n: unreadCount })
        .from(members)
        .where(and(eq(members.conversationId, conversationId), eq(members.userId, userId)));
      return rows[0]?.n ?? 0;
    },

    /** The caller's conversations (banned ones excluded), most recent activity first. */
    async listForUser(
      on: DbOrTx,
      userId: string,
      statuses: string[],
      after: ActivityCursor | null,
      limit: number,
    ): Promise<ConversationForUser[]> {
      const rows = await on
        .select({ c: conversations, m: members, unread: unreadCount })
        .from(members)
        .innerJoin(conversations, eq(conversations.id, members.conversationId))
        .where(
          and(
            eq(members.userId, userId),
            ne(members.state, 'banned'),
            inArray(conversations.status, statuses as ConversationRecord['status'][]),
            after
              ? sql`(${conversations.lastActivityAt}, ${conversations.id}) < (${after.at}::timestamptz, ${after.id}::uuid)`
              : undefined,
          ),
        )
        .orderBy(sql`${conversations.lastActivityAt} desc, ${conversations.id} desc`)
        .limit(limit);
      return rows.map((r) => ({
        conversation: toConversationRecord(r.c),
        member: toMemberRecord(r.m),
        unreadCount: r.unread,
      }));
    },

    /** Public open groups whose title contains `query` (case-insensitive), most recent activity first. */
    async listPublic(
      on: DbOrTx,
      query: string | undefined,
      after: ActivityCursor | null,
      limit: number,
    ): Promise<ConversationRecord[]> {
      const pattern = query ? `%${query.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%` : null;
      const rows = await on
        .select()
        .from(conversations)
        .where(
          and(
            eq(conversations.type, 'group'),
            eq(conversations.visibility, 'public'),
            eq(conversations.status, 'open'),
            pattern ? sql`${conversations.title} ilike ${pattern}` : undefined,
            after
              ? sql`(${conversations.lastActivityAt}, ${conversations.id}) < (${after.at}::timestamptz, ${after.id}::uuid)`
              : undefined,
          ),
        )
        .orderBy(sql`${conversations.lastActivityAt} desc, ${conversations.id} desc`)
        .limit(limit);
      return rows.map(toConversationRecord);
    },

    /** The given user's membership rows with unread counts, for several conversations. */
    async membershipsOf(on: DbOrTx, userId: string, conversationIds: string[]) {
      if (conversationIds.length === 0) return new Map<string, { member: MemberRecord; unread: number }>();
      const rows = await on
        .select({ m: members, unread: unreadCount })
        .from(members)
        .where(and(eq(members.userId, userId), inArray(members.conversationId, conversationIds)));
      return new Map(rows.map((r) => [r.m.conversationId, { member: toMemberRecord(r.m), unread: r.unread }]));
    },

    /** Conversation ids where the user has a member row; `present` leaves banned ones out. */
    async conversationIdsOf(on: DbOrTx, userId: string, opts: { present: boolean }): Promise<string[]> {
      const rows = await on
        .select({ id: members.conversationId })
        .from(members)
        .where(and(eq(members.userId, userId), opts.present ? ne(members.state, 'banned') : undefined))
        .orderBy(asc(members.conversationId));
      return rows.map((r) => r.id);
    },

    // ---- users read model ---------------------------------------------------

    /** Known live users among `ids`, and the ids known to be deleted. */
    async findUsers(on: DbOrTx, ids: string[]): Promise<{ live: UserRecord[]; deleted: string[] }> {
      if (ids.length === 0) return { live: [], deleted: [] };
      const rows = await on.select().from(users).where(inArray(users.id, ids));
      return {
        live: rows
          .filter((r) => r.deletedAt === null)
          .map((r) => ({
            id: r.id,
            name: r.name,
            avatarUrl: r.avatarUrl,
            statusText: r.statusText,
            createdAt: r.createdAt,
          })),
        deleted: rows.filter((r) => r.deletedAt !== null).map((r) => r.id),
      };
    },

    /** Inserts or refreshes users; a tombstoned user stays deleted. */
    async upsertUsers(on: DbOrTx, list: UserRecord[]): Promise<void> {
      if (list.length === 0) return;
      await on
        .insert(users)
        .values(list.map((u) => ({ ...u, deletedAt: null })))
        .onConflictDoUpdate({
          target: users.id,
          set: {
            name: sql`excluded.name`,
            avatarUrl: sql`excluded.avatar_url`,
            statusText: sql`excluded.status_text`,
          },
          setWhere: isNull(users.deletedAt),
        });
    },

    /** Deleted users that still have member rows (a deletion interrupted half-way). */
    async deletedUsersWithMemberships(on: DbOrTx): Promise<{ id: string; deletedAt: Date }[]> {
      const rows = await on
        .selectDistinct({ id: users.id, deletedAt: users.deletedAt })
        .from(users)
        .innerJoin(members, eq(members.userId, users.id))
        .where(isNotNull(users.deletedAt));
      return rows.map((r) => ({ id: r.id, deletedAt: r.deletedAt! }));
    },

    /** Display names of the live users among `ids`. */
    async namesOf(on: DbOrTx, ids: string[]): Promise<Map<string, string>> {
      if (ids.length === 0) return new Map();
      const rows = await on
        .select({ id: users.id, name: users.name })
        .from(users)
        .where(and(inArray(users.id, ids), isNull(users.deletedAt)));
      return new Map(rows.map((r) => [r.id, r.name]));
    },

    /** Marks a user deleted (idempotent; keeps the first deletion time). */
    async tombstoneUser(on: DbOrTx, id: string, at: Date): Promise<void> {
      await on
        .insert(users)
        .values({ id, name: '', createdAt: at, deletedAt: at })
        .onConflictDoUpdate({
          target: users.id,
          set: { deletedAt: sql`coalesce(${users.deletedAt}, excluded.deleted_at)` },
        });
    },

    /**
     * Locks the live user rows among `ids` (FOR SHARE) for the rest of the
     * transaction, so a concurrent deletion waits for it (and then sees the
     * membership it must undo). Returns the ids that are live.
     */
    async lockLiveUsers(on: DbOrTx, ids: string[]): Promise<string[]> {
      if (ids.length === 0) return [];
      const rows = await on
        .select({ id: users.id })
        .from(users)
        .where(and(inArray(users.id, ids), isNull(users.deletedAt)))
        .orderBy(asc(users.id))
        .for('share');
      return rows.map((r) => r.id);
    },

    async isDeletedUser(on: DbOrTx, id: string): Promise<boolean> {
      const rows = await on
        .select({ id: users.id })
        .from(users)
        .where(and(eq(users.id, id), isNotNull(users.deletedAt)))
        .limit(1);
      return rows.length === 1;
    },

    // ---- message read model -------------------------------------------------

    /**
     * Applies one message fact (created, edited or deleted, in any order):
     * the index row keeps the highest rev, the conversation keeps the latest
     * message as preview. Returns false when the conversation is unknown.
     */
    async applyMessage(
      on: DbOrTx,
      m: PreviewRecord & { conversationId: string; deleted: boolean; isSystem: boolean },
    ): Promise<boolean> {
      const conv = await on
        .select({
          id: conversations.id,
          lastSeq: conversations.lastSeq,
          lastMessage: conversations.lastMessage,
          lastActivityAt: conversations.lastActivityAt,
          lastRev: conversations.lastRev,
        })
        .from(conversations)
        .where(eq(conversations.id, m.conversationId))
        .for('update');
      const c = conv[0];
      if (!c) return false;
      await on
        .insert(messageIndex)
        .values({
          conversationId: m.conversationId,
          seq: m.seq,
          rev: m.rev,
          senderId: m.senderId,
          isSystem: m.isSystem,
          deleted: m.deleted,
        })
        .onConflictDoUpdate({
          target: [messageIndex.conversationId, messageIndex.seq],
          set: { rev: sql`excluded.rev`, deleted: sql`excluded.deleted` },
          setWhere: sql`excluded.rev > ${messageIndex.rev}`,
        });
      const preview: PreviewRecord = {
        id: m.id,
        seq: m.seq,
        rev: m.rev,
        senderId: m.senderId,
        type: m.type,
        content: m.content,
        createdAt: m.createdAt,
      };
      const current = c.lastMessage;
      const newer = !current || m.seq > current.seq || (m.seq === current.seq && m.rev > current.rev);
      const createdAt = new Date(m.createdAt);
      await on
        .update(conversations)
        .set({
          lastRev: Math.max(c.lastRev, m.rev),
          lastSeq: Math.max(c.lastSeq, m.seq),
          ...(newer
            ? {
                lastMessage: preview,
                lastMessageAt: createdAt,
                lastActivityAt: new Date(Math.max(c.lastActivityAt.getTime(), createdAt.getTime())),
              }
            : {}),
        })
        .where(eq(conversations.id, m.conversationId));
      return true;
    },

    /** Moves a member's read marker forward (never backwards). */
    async applyRead(on: DbOrTx, conversationId: string, userId: string, seq: number): Promise<void> {
      await on
        .update(members)
        .set({ lastReadSeq: sql`greatest(${members.lastReadSeq}, ${seq})` })
        .where(and(eq(members.conversationId, conversationId), eq(members.userId, userId)));
    },

    /** Where the read model stands for one user in several conversations. */
    async modelPositions(on: DbOrTx, userId: string, conversationIds: string[]) {
      if (conversationIds.length === 0) return [];
      return on
        .select({
          conversationId: conversations.id,
          lastSeq: conversations.lastSeq,
          lastRev: conversations.lastRev,
          lastReadSeq: members.lastReadSeq,
        })
        .from(conversations)
        .leftJoin(members, and(eq(members.conversationId, conversations.id), eq(members.userId, userId)))
        .where(inArray(conversations.id, conversationIds));
    },
  };
}

export type ConversationRepository = ReturnType<typeof createConversationRepository>;
