/** A UUID v4 for `clientMessageId` (any UUID is accepted by the server). */
export function newClientMessageId(): string {
  return globalThis.crypto.randomUUID();
}
