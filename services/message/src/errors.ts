/**
 * Named errors of the message service (`MESSAGE_*`, logged as such), each
 * answering with its API code. Membership refusals use the kit's generic
 * not_found / forbidden / conflict with a message saying why.
 */
import { defineError } from '@parley/service-kit';

export const MessageNotFound = defineError('MESSAGE_NOT_FOUND', 'not_found', 'message not found');
export const MessageDeleted = defineError('MESSAGE_DELETED', 'conflict', 'the message is deleted');
export const NotTheSender = defineError('MESSAGE_NOT_SENDER', 'forbidden', 'only the sender may edit a message');
export const ClientMessageIdReused = defineError(
  'MESSAGE_CLIENT_ID_REUSED',
  'conflict',
  'clientMessageId was already used for a message of another conversation',
);
