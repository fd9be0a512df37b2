import { describe, expect, it } from 'vitest';
import { emailProblem, nameProblem, normalizeEmail, passwordProblem, registrationProblems } from './user.rules';

describe('name rule', () => {
  it.each([
    'Ada Lovelace',
    "O'Brien",
    'Jean-Luc',
    'Zoë',
    'Łukasz Żółć',
    'Владимир',
    '李雷',
    'محمد',
    'Jose\u0301', // decomposed: e + combining acute accent
    'Nguyễn Thị',
  ])('accepts %s', (name) => {
    expect(nameProblem(name)).toBeNull();
  });

  it('rejects digits, symbols and emoji', () => {
    expect(nameProblem('Ada1')?.code).toBe('invalid_characters');
    expect(nameProblem('Ada_Lovelace')?.code).toBe('invalid_characters');
    expect(nameProblem('Ada 🎉')?.code).toBe('invalid_characters');
  });

  it('needs 2 to 64 characters and at least 2 letters', () => {
    expect(nameProblem('A')?.code).toBe('invalid_length');
    expect(nameProblem('a'.repeat(65))?.code).toBe('invalid_length');
    expect(nameProblem('a'.repeat(64))).toBeNull();
    expect(nameProblem("A '")?.code).toBe('too_few_letters');
    expect(nameProblem('- -')?.code).toBe('too_few_letters');
  });
});

describe('email rule', () => {
  it('stores e-mails lower-cased and trimmed', () => {
    expect(normalizeEmail('  Ada@Example.COM ')).toBe('ada@example.com');
  });
  it('accepts ordinary addresses and rejects malformed ones', () => {
    expect(emailProblem('ada+chat@mail.example.org')).toBeNull();
    for (const bad of ['ada', 'ada@', '@example.com', 'ada@example', 'a da@example.com', 'ada@@example.com']) {
      expect(emailProblem(bad)?.code).toBe('invalid_format');
    }
  });
});

describe('password rule', () => {
  it('needs 8 to 128 characters', () => {
    expect(passwordProblem('Zq8#vLp')?.code).toBe('invalid_length');
    expect(passwordProblem('x'.repeat(129))?.code).toBe('invalid_length');
    expect(passwordProblem('Zq8#vLp!')).toBeNull();
  });
  it('refuses common passwords in any letter case', () => {
    expect(passwordProblem('password')?.code).toBe('too_common');
    expect(passwordProblem('PassWord')?.code).toBe('too_common');
    expect(passwordProblem('Iloveyou')?.code).toBe('too_common');
  });
});

describe('registration', () => {
  it('lists every failing field at once', () => {
    const problems = registrationProblems({
      email: 'not-an-email',
      password: 'football',
      passwordConfirm: 'different',
      name: 'R2D2',
    });
    expect(problems.map((p) => p.field).sort()).toEqual(['email', 'name', 'password', 'passwordConfirm']);
  });
  it('accepts a valid registration', () => {
    expect(
      registrationProblems({
        email: 'ada@example.com',
        password: 'correct horse battery',
        passwordConfirm: 'correct horse battery',
        name: 'Ada',
      }),
    ).toEqual([]);
  });
});
