/**
 * Content rules beyond the schema (which caps lengths and shapes):
 * - `text` needs visible content;
 * - `image` and `file` need at least one attachment (content is an optional
 *   caption); every attachment of an `image` message is an image;
 * - control characters other than tab and newlines are refused;
 * - attachment URLs are http(s): clients render them as links and images, so a
 *   `javascript:`, `data:` or `file:` URL would be a script or a local-file
 *   reference planted in every member's client.
 */
import type { Attachment, ClientMessageType, ErrorDetail } from '@parley/contracts';

// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;
const WEB_URL = /^https?:\/\//i;

export function contentProblems(type: ClientMessageType, content: string, attachments: Attachment[]): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  if (CONTROL.test(content)) {
    details.push({ field: 'content', code: 'invalid_format', message: 'must not contain control characters' });
  }
  attachments.forEach((a, i) => {
    if (!WEB_URL.test(a.url)) {
      details.push({ field: `attachments.${i}.url`, code: 'invalid_format', message: 'must be an http(s) URL' });
    }
  });
  if (type === 'text') {
    if (content.trim().length === 0) {
      details.push({ field: 'content', code: 'too_short', message: 'must not be empty' });
    }
  } else {
    if (attachments.length === 0) {
      details.push({ field: 'attachments', code: 'too_few_items', message: `an ${type} message needs an attachment` });
    }
    if (type === 'image') {
      attachments.forEach((a, i) => {
        if (!a.mimeType.toLowerCase().startsWith('image/')) {
          details.push({ field: `attachments.${i}.mimeType`, code: 'invalid_value', message: 'must be an image type' });
        }
      });
    }
  }
  return details;
}

/** An edit keeps the message's type and attachments: a text stays non-empty, a caption may be emptied. */
export function editProblems(type: string, content: string): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  if (CONTROL.test(content)) {
    details.push({ field: 'content', code: 'invalid_format', message: 'must not contain control characters' });
  }
  if (type === 'text' && content.trim().length === 0) {
    details.push({ field: 'content', code: 'too_short', message: 'must not be empty' });
  }
  return details;
}
