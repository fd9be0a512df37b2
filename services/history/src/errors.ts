/** Named errors of the history service (codes prefixed HISTORY_, answered in the API.md shape). */
import { defineError, validationFailed } from '@parley/service-kit';

/** A message that does not exist, or that the caller may not read: the same answer, so nothing leaks. */
export const MessageNotFound = defineError('HISTORY_MESSAGE_NOT_FOUND', 'not_found', 'message not found');
export const ConversationNotFound = defineError(
  'HISTORY_CONVERSATION_NOT_FOUND',
  'not_found',
  'conversation not found',
);

/** A cursor that this service did not hand out (400 validation_failed naming the field). */
export const invalidCursor = () =>
  validationFailed([{ field: 'cursor', code: 'invalid_format', message: 'is not a cursor from a previous page' }]);
