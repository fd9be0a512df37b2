import { describe, expect, it } from 'vitest';
import { buildAsyncApiDocument } from './asyncapi';
import { API_MD_ROUTES, listedRoutes } from '../../test/factories/api-md-routes';
import { buildOpenApiDocument } from './openapi';

describe('OpenAPI document', () => {
  const doc = buildOpenApiDocument({ version: '1' });

  it('is OpenAPI 3.1 and lists every API.md route', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(listedRoutes(doc)).toEqual(expect.arrayContaining(API_MD_ROUTES));
  });

  it('documents bodies from the contracts, bearer auth and the error shape', () => {
    const paths = doc.paths as Record<string, Record<string, Record<string, unknown>>>;
    const send = paths['/v1/conversations/{id}/messages']!.post!;
    const body = send.requestBody as { content: Record<string, { schema: { properties: Record<string, unknown> } }> };
    expect(Object.keys(body.content['application/json']!.schema.properties)).toEqual(
      expect.arrayContaining(['clientMessageId', 'content']),
    );
    expect(send.security).toEqual([{ bearerAuth: [] }]);
    expect(paths['/v1/auth/login']!.post!.security).toEqual([]);
    expect(JSON.stringify(doc)).not.toMatch(/Symbol/);
  });
});

describe('AsyncAPI document', () => {
  it('describes every client and server frame of API.md', () => {
    const doc = buildAsyncApiDocument({ version: '1' });
    expect(doc.asyncapi).toBe('3.0.0');
    const messages = Object.keys((doc.components as { messages: Record<string, unknown> }).messages);
    for (const t of ['auth', 'ping', 'message.send', 'typing', 'read', 'delivered', 'resume', 'presence.query']) {
      expect(messages).toContain(`client.${t}`);
    }
    for (const t of [
      'ready',
      'pong',
      'ack',
      'message.created',
      'message.updated',
      'message.deleted',
      'typing',
      'receipt',
      'presence',
      'presence.state',
      'notification.created',
      'conversation.updated',
      'member.added',
      'member.removed',
      'resync',
      'resumed',
      'error',
    ]) {
      expect(messages).toContain(`server.${t}`);
    }
  });
});
