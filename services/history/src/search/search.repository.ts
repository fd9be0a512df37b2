/**
 * Full-text search over current message content: `websearch_to_tsquery`
 * against the generated `tsvector` column (GIN index), restricted by a join
 * with the membership model, ranked with `ts_rank`, paged by (rank, id)
 * keyset, and `ts_headline` computed only for the rows of the page.
 */
import type { Message } from '@parley/contracts';
import type { DatabaseHandle } from '@parley/service-kit';
import { sql } from 'drizzle-orm';

/** Marks around matched words in the raw snippet (control characters, replaced after HTML-escaping). */
export const MATCH_START = '\u0002';
export const MATCH_END = '\u0003';

const HEADLINE_OPTIONS = `StartSel=${MATCH_START}, StopSel=${MATCH_END}, MaxWords=24, MinWords=8, ShortWord=2, MaxFragments=2, FragmentDelimiter=" … "`;

export interface SearchRow {
  snapshot: Message;
  rank: number;
  snippet: string;
}

export interface SearchParams {
  userId: string;
  q: string;
  conversationId?: string;
  limit: number;
  after?: { rank: number; id: string };
}

export class SearchRepository {
  constructor(private readonly handle: DatabaseHandle) {}

  async search(p: SearchParams): Promise<SearchRow[]> {
    const inConversation = p.conversationId ? sql`and m.conversation_id = ${p.conversationId}` : sql``;
    const afterCursor = p.after
      ? sql`where (rank < ${p.after.rank}::real or (rank = ${p.after.rank}::real and id < ${p.after.id}::uuid))`
      : sql``;
    const rows = await this.handle.rows<{ snapshot: Message | string; rank: number | string; snippet: string }>(sql`
      with q as (select websearch_to_tsquery('english'::regconfig, ${p.q}) as query),
      hits as (
        select m.id, ts_rank(m.search, q.query) as rank
        from history.messages m, q
        where m.search @@ q.query
          and m.deleted_at is null
          and m.conversation_id in (
            select mb.conversation_id from history.members mb
            where mb.user_id = ${p.userId} and mb.state in ('active', 'muted')
          )
          ${inConversation}
      ),
      page as (
        select id, rank from hits
        ${afterCursor}
        order by rank desc, id desc
        limit ${p.limit}
      )
      select m.snapshot, p.rank,
        ts_headline('english'::regconfig, m.content, q.query, ${HEADLINE_OPTIONS}) as snippet
      from page p
      join history.messages m on m.id = p.id
      cross join q
      order by p.rank desc, p.id desc
    `);
    return rows.map((r) => ({
      snapshot: typeof r.snapshot === 'string' ? (JSON.parse(r.snapshot) as Message) : r.snapshot,
      rank: Number(r.rank),
      snippet: r.snippet,
    }));
  }
}
