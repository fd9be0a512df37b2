/** Full-text message search for members. No Fastify, no SQL. */
import type { Message, PageOf } from '@parley/contracts';
import { ConversationNotFound } from '../errors';
import type { MembershipService } from '../membership/membership.service';
import type { ReadYourWrites } from '../membership/read-your-writes';
import type { SearchRepository } from './search.repository';
import { decodeSearchCursor, encodeSearchCursor, renderSnippet } from './search.rules';

export type SearchHit = Message & { snippet: string; rank: number };

export class SearchService {
  constructor(
    private readonly repo: SearchRepository,
    private readonly membership: MembershipService,
    private readonly readYourWrites: ReadYourWrites,
  ) {}

  /**
   * Matches in the conversations the caller reads (active or muted member),
   * best first. A `conversationId` the caller does not belong to is 404,
   * as for every route of a private conversation.
   */
  async search(
    userId: string,
    q: { q: string; conversationId?: string; limit: number; cursor?: string },
  ): Promise<PageOf<SearchHit>> {
    const after = q.cursor ? decodeSearchCursor(q.cursor) : undefined;
    if (q.conversationId) {
      if (!(await this.membership.canRead(userId, q.conversationId))) throw new ConversationNotFound();
      await this.readYourWrites.await(userId, [q.conversationId]);
    } else {
      await this.readYourWrites.await(userId, await this.membership.readableConversations(userId));
    }
    const rows = await this.repo.search({
      userId,
      q: q.q,
      conversationId: q.conversationId,
      limit: q.limit + 1,
      after,
    });
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return {
      items: page.map((r) => ({ ...r.snapshot, snippet: renderSnippet(r.snippet), rank: r.rank })),
      nextCursor: rows.length > q.limit && last ? encodeSearchCursor({ rank: last.rank, id: last.snapshot.id }) : null,
    };
  }
}
