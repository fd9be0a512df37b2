/** Named errors of the notification service (codes prefixed NOTIFICATION_, answered in the API.md shape). */
import { defineError, validationFailed } from '@parley/service-kit';

export const NotificationNotFound = defineError('NOTIFICATION_NOT_FOUND', 'not_found', 'notification not found');

/** A cursor that this service did not hand out (400 validation_failed naming the field). */
export const invalidCursor = () =>
  validationFailed([{ field: 'cursor', code: 'invalid_format', message: 'is not a cursor from a previous page' }]);
