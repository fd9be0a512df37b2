import { describe, expect, it } from 'vitest';
import { isValidPattern, isValidSubject, matchSubject, patternCovers, SubjectIndex } from './subject-match';

describe('matchSubject', () => {
  it('matches literal subjects token by token', () => {
    expect(matchSubject('a.b.c', 'a.b.c')).toBe(true);
    expect(matchSubject('a.b.c', 'a.b')).toBe(false);
    expect(matchSubject('a.b', 'a.b.c')).toBe(false);
    expect(matchSubject('a.b.c', 'a.b.x')).toBe(false);
  });

  it('lets * stand for exactly one token', () => {
    expect(matchSubject('message.*.created', 'message.c1.created')).toBe(true);
    expect(matchSubject('message.*.created', 'message.c1.updated')).toBe(false);
    expect(matchSubject('message.*.created', 'message.c1.x.created')).toBe(false);
    expect(matchSubject('message.*', 'message')).toBe(false);
    expect(matchSubject('*', 'a')).toBe(true);
    expect(matchSubject('*', 'a.b')).toBe(false);
  });

  it('lets > stand for one or more trailing tokens', () => {
    expect(matchSubject('message.>', 'message.c1.created')).toBe(true);
    expect(matchSubject('message.>', 'message.c1')).toBe(true);
    expect(matchSubject('message.>', 'message')).toBe(false);
    expect(matchSubject('>', 'anything.at.all')).toBe(true);
    expect(matchSubject('a.*.>', 'a.b.c.d')).toBe(true);
    expect(matchSubject('a.*.>', 'a.b')).toBe(false);
  });

  it('does not treat a wildcard in the subject as a wildcard', () => {
    expect(matchSubject('a.b', 'a.*')).toBe(false);
  });
});

describe('subject validation', () => {
  it('accepts concrete subjects and refuses wildcards, empty tokens and spaces', () => {
    expect(isValidSubject('user.u1.deleted')).toBe(true);
    expect(isValidSubject('user.*.deleted')).toBe(false);
    expect(isValidSubject('user.>')).toBe(false);
    expect(isValidSubject('user..deleted')).toBe(false);
    expect(isValidSubject('.user')).toBe(false);
    expect(isValidSubject('user.u 1')).toBe(false);
    expect(isValidSubject('')).toBe(false);
  });

  it('accepts wildcards only as whole tokens, > only last', () => {
    expect(isValidPattern('a.*.c')).toBe(true);
    expect(isValidPattern('a.>')).toBe(true);
    expect(isValidPattern('a.>.c')).toBe(false);
    expect(isValidPattern('a.b*.c')).toBe(false);
    expect(isValidPattern('a.b>')).toBe(false);
    expect(isValidPattern('a..b')).toBe(false);
  });
});

describe('patternCovers', () => {
  it('says whether a filter lies inside a stream subject', () => {
    expect(patternCovers('message.>', 'message.*.created')).toBe(true);
    expect(patternCovers('message.>', 'message.>')).toBe(true);
    expect(patternCovers('message.>', 'receipt.*.read')).toBe(false);
    expect(patternCovers('message.*.created', 'message.*.created')).toBe(true);
    expect(patternCovers('message.c1.created', 'message.*.created')).toBe(false);
    expect(patternCovers('message.*.*', 'message.>')).toBe(false);
    expect(patternCovers('>', 'x')).toBe(true);
  });
});

describe('SubjectIndex', () => {
  const patterns = ['a.b.c', 'a.*.c', 'a.>', '>', '*.b.*', 'a.b', 'x.y.z', 'a.*.>'];
  const subjects = ['a.b.c', 'a.b', 'a', 'a.x.c', 'a.b.c.d', 'q.b.r', 'x.y.z', 'x.y'];

  it('finds exactly the patterns matchSubject accepts', () => {
    const index = new SubjectIndex<string>();
    for (const p of patterns) index.add(p, p);
    for (const s of subjects) {
      expect(index.match(s).sort(), s).toEqual(patterns.filter((p) => matchSubject(p, s)).sort());
    }
  });

  it('keeps several values on one pattern and forgets removed ones, pruning empty branches', () => {
    const index = new SubjectIndex<number>();
    index.add('message.c1.*', 1);
    index.add('message.c1.*', 2);
    index.add('message.>', 3);
    expect(index.match('message.c1.created').sort()).toEqual([1, 2, 3]);
    index.remove('message.c1.*', 1);
    expect(index.match('message.c1.created').sort()).toEqual([2, 3]);
    index.remove('message.c1.*', 2);
    index.remove('message.>', 3);
    expect(index.match('message.c1.created')).toEqual([]);
    expect(index.isEmpty()).toBe(true);
  });
});
