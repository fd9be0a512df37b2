/**
 * The shipped list of common passwords (`common-passwords.txt`: the 10,000
 * most common passwords of the SecLists "10 million passwords" ranking,
 * lower-cased and de-duplicated). A password is refused when its lower-cased
 * form is on the list. Loaded once, on first use.
 */
import { readFileSync } from 'node:fs';

let list: Set<string> | undefined;

function commonPasswords(): Set<string> {
  if (!list) {
    const text = readFileSync(new URL('./common-passwords.txt', import.meta.url), 'utf8');
    list = new Set(
      text
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line.length > 0),
    );
  }
  return list;
}

export function isCommonPassword(password: string): boolean {
  return commonPasswords().has(password.toLowerCase());
}

export function commonPasswordCount(): number {
  return commonPasswords().size;
}
