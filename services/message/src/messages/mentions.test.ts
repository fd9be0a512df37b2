import { describe, expect, it } from 'vitest';
import { parseMentions } from './mentions';

const members = [
  { userId: 'ada', name: 'Ada' },
  { userId: 'adal', name: 'Ada Lovelace' },
  { userId: 'grace', name: 'Grace Hopper' },
  { userId: 'me', name: 'Me' },
  { userId: 'zoe', name: 'Zoë' },
];
const opts = { senderId: 'me', allowAll: true };

describe('parseMentions', () => {
  it('matches names with spaces, case-insensitively, longest first', () => {
    expect(parseMentions('hi @ada lovelace and @ADA', members, opts)).toEqual(['adal', 'ada']);
    expect(parseMentions('@Grace Hopper, look', members, opts)).toEqual(['grace']);
  });

  it('needs a boundary on both sides', () => {
    expect(parseMentions('mail ada@Grace Hopper.org', members, opts)).toEqual([]);
    expect(parseMentions('@Adam is not Ada', members, opts)).toEqual([]);
    expect(parseMentions('(@Zoë)', members, opts)).toEqual(['zoe']);
  });

  it('expands @all in groups only, and never mentions the sender', () => {
    expect(parseMentions('@all', members, opts)).toEqual(['ada', 'adal', 'grace', 'zoe']);
    expect(parseMentions('@all @Ada', members, { senderId: 'me', allowAll: false })).toEqual(['ada']);
    expect(parseMentions('@Me', members, opts)).toEqual([]);
    expect(parseMentions('@allison', members, opts)).toEqual([]);
  });

  it('lists each user once, in order of first mention', () => {
    expect(parseMentions('@Grace Hopper @Ada @grace hopper', members, opts)).toEqual(['grace', 'ada']);
    expect(parseMentions('no mentions here', members, opts)).toEqual([]);
  });
});
