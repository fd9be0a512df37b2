/**
 * Field rules of API.md "Auth and users" that a JSON schema cannot say (or
 * that must be reported together with the schema's own findings): every
 * failing field becomes one `details` entry.
 */
import type { ErrorDetail } from '@parley/contracts';
import { isCommonPassword } from '../passwords/common-passwords';

export const NAME_MIN = 2;
export const NAME_MAX = 64;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;
export const EMAIL_MAX = 254;

const NAME_CHARS = /^[\p{L}\p{M} '-]+$/u;
const LETTER = /\p{L}/gu;
// Deliberately simple (one @, a dot in the domain, no spaces): the real check is the mail that reaches it.
const EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

/** Lower-cased, trimmed form in which e-mails are stored and compared. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Trimmed, NFC form in which names are stored (so one letter is one character). */
export function normalizeName(name: string): string {
  return name.normalize('NFC').trim();
}

export function nameProblem(name: string): ErrorDetail | null {
  const n = normalizeName(name);
  const length = [...n].length;
  if (length < NAME_MIN || length > NAME_MAX) {
    return { field: 'name', code: 'invalid_length', message: `must be ${NAME_MIN} to ${NAME_MAX} characters` };
  }
  if (!NAME_CHARS.test(n)) {
    return {
      field: 'name',
      code: 'invalid_characters',
      message: "may contain only letters, spaces, ' and -",
    };
  }
  if ((n.match(LETTER) ?? []).length < 2) {
    return { field: 'name', code: 'too_few_letters', message: 'must contain at least 2 letters' };
  }
  return null;
}

export function emailProblem(email: string): ErrorDetail | null {
  const e = normalizeEmail(email);
  if (e.length > EMAIL_MAX || !EMAIL.test(e)) {
    return { field: 'email', code: 'invalid_format', message: 'must be a valid e-mail address' };
  }
  return null;
}

export function passwordProblem(password: string, field = 'password'): ErrorDetail | null {
  const length = [...password].length;
  if (length < PASSWORD_MIN || length > PASSWORD_MAX) {
    return { field, code: 'invalid_length', message: `must be ${PASSWORD_MIN} to ${PASSWORD_MAX} characters` };
  }
  if (isCommonPassword(password)) {
    return { field, code: 'too_common', message: 'is one of the most common passwords; choose another' };
  }
  return null;
}

export interface RegistrationInput {
  email: string;
  password: string;
  passwordConfirm: string;
  name: string;
}

/** Every rule of a registration; the list is empty when the input is acceptable. */
export function registrationProblems(input: Partial<Record<keyof RegistrationInput, unknown>>): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  if (typeof input.email === 'string') {
    const p = emailProblem(input.email);
    if (p) problems.push(p);
  }
  if (typeof input.password === 'string') {
    const p = passwordProblem(input.password);
    if (p) problems.push(p);
    if (typeof input.passwordConfirm === 'string' && input.passwordConfirm !== input.password) {
      problems.push({ field: 'passwordConfirm', code: 'mismatch', message: 'must equal password' });
    }
  }
  if (typeof input.name === 'string') {
    const p = nameProblem(input.name);
    if (p) problems.push(p);
  }
  return problems;
}
