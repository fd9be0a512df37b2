/**
 * Test factories: users, conversations, members and messages as their owners
 * (auth, conversation, message services) would describe them in events, and
 * the answers those owners would give over request/reply.
 */
import type { ConversationFact, EventData, MemberFact, Message, PublicUser } from '@parley/contracts';
import type { MembersReply } from '@parley/contracts';
import { newId } from '@parley/service-kit';
import type { Static } from '@sinclair/typebox';

export type MembersAnswer = Static<typeof MembersReply>;

interface StoredConversation {
  fact: ConversationFact;
  members: Map<string, MemberFact>;
  seq: number;
  rev: number;
}

export class Directory {
  readonly users = new Map<string, PublicUser>();
  readonly conversations = new Map<string, StoredConversation>();
  /** How many times the service asked for a member list. */
  membersRequests = 0;
  /** While true, the conversation service answers member lists with an error (stands for an outage). */
  membersDown = false;

  makeUser(name: string): PublicUser {
    const user: PublicUser = {
      id: newId(),
      name,
      avatarUrl: null,
      statusText: null,
      createdAt: new Date().toISOString(),
    };
    this.users.set(user.id, user);
    return user;
  }

  publicUsers(ids: string[]): PublicUser[] {
    return ids.flatMap((id) => {
      const u = this.users.get(id);
      return u ? [u] : [];
    });
  }

  membersReply(conversationId: string): MembersAnswer {
    const c = this.conversations.get(conversationId);
    if (!c) return { conversation: null, members: [] };
    return { conversation: c.fact, members: [...c.members.values()] };
  }

  private stored(conversationId: string): StoredConversation {
    const c = this.conversations.get(conversationId);
    if (!c) throw new Error(`unknown conversation ${conversationId}`);
    return c;
  }

  /** A group created by `owner` with `others`; returns the conversation.created data. */
  makeGroup(
    owner: PublicUser,
    others: PublicUser[],
    opts: { title?: string; preferences?: Record<string, MemberFact['notifications']> } = {},
  ): EventData<'conversation.created'> {
    const title = opts.title ?? 'Team';
    const pref = (id: string) => opts.preferences?.[id] ?? 'all';
    const now = new Date().toISOString();
    const fact: ConversationFact = {
      id: newId(),
      type: 'group',
      title,
      visibility: 'private',
      status: 'open',
      maxMembers: 50,
      memberCount: others.length + 1,
      metadata: {},
      createdBy: owner.id,
      createdAt: now,
      updatedAt: now,
    };
    const members = new Map<string, MemberFact>();
    members.set(owner.id, {
      userId: owner.id,
      role: 'owner',
      state: 'active',
      notifications: pref(owner.id),
      joinedAt: now,
    });
    for (const u of others) {
      members.set(u.id, { userId: u.id, role: 'member', state: 'active', notifications: pref(u.id), joinedAt: now });
    }
    this.conversations.set(fact.id, { fact, members, seq: 0, rev: 0 });
    return { conversation: fact, members: [...members.values()], actorId: owner.id };
  }

  addMember(conversationId: string, user: PublicUser, actorId: string): EventData<'member.added'> {
    const c = this.stored(conversationId);
    const member: MemberFact = {
      userId: user.id,
      role: 'member',
      state: 'active',
      notifications: 'all',
      joinedAt: new Date().toISOString(),
    };
    c.members.set(user.id, member);
    return { conversationId, conversation: c.fact, member, actorId, via: 'added' };
  }

  updateMember(
    conversationId: string,
    userId: string,
    change: Partial<Pick<MemberFact, 'state' | 'notifications' | 'role'>>,
    actorId: string,
  ): EventData<'member.updated'> {
    const c = this.stored(conversationId);
    const previous = c.members.get(userId);
    if (!previous) throw new Error('not a member');
    const member = { ...previous, ...change };
    c.members.set(userId, member);
    return {
      conversationId,
      member,
      previous: { role: previous.role, state: previous.state, notifications: previous.notifications },
      actorId,
    };
  }

  removeMember(
    conversationId: string,
    userId: string,
    reason: 'left' | 'removed' | 'account_deleted',
    actorId: string | null,
  ): EventData<'member.removed'> {
    this.stored(conversationId).members.delete(userId);
    return { conversationId, userId, actorId, reason };
  }

  /** A new message as the message service stores it (next seq and rev). */
  makeMessage(conversationId: string, senderId: string | null, over: Partial<Message> = {}): Message {
    const c = this.stored(conversationId);
    c.seq++;
    c.rev++;
    return {
      id: newId(),
      conversationId,
      seq: c.seq,
      rev: c.rev,
      senderId,
      clientMessageId: senderId ? newId() : null,
      type: 'text',
      content: 'hello there',
      attachments: [],
      mentions: [],
      parentId: null,
      threadRootId: null,
      replyCount: 0,
      system: null,
      createdAt: new Date().toISOString(),
      editedAt: null,
      deletedAt: null,
      ...over,
    };
  }

  /** An edit of `message` at `editedAt`, with the conversation's next rev. */
  edit(message: Message, content: string, editedAt: Date): EventData<'message.updated'> {
    const c = this.stored(message.conversationId);
    c.rev++;
    return {
      message: { ...message, content, rev: c.rev, editedAt: editedAt.toISOString() },
      previousContent: message.content,
      editorId: message.senderId!,
    };
  }
}
