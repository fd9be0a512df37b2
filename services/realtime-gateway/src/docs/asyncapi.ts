/**
 * AsyncAPI 3 document of the WebSocket protocol, generated from the very
 * TypeBox schemas that validate the frames (`@parley/contracts` ws.ts). The
 * operations are written from the gateway's side: it `receive`s client
 * frames and `send`s server frames.
 */
import { CLIENT_FRAMES, SERVER_FRAMES, WS_CLOSE } from '@parley/contracts';
import { plainSchema } from './openapi';

type Json = Record<string, unknown>;

const key = (side: 'client' | 'server', type: string) => `${side}.${type}`;

export function buildAsyncApiDocument(opts: { version: string; host?: string }): Json {
  const messages: Json = {};
  const channelMessages: Json = {};
  const operations: Json = {};
  const sides = [
    ['client', CLIENT_FRAMES, 'receive'],
    ['server', SERVER_FRAMES, 'send'],
  ] as const;
  for (const [side, frames, action] of sides) {
    for (const [type, schema] of Object.entries(frames)) {
      const k = key(side, type);
      messages[k] = {
        name: type,
        title: `${type} (${side} → ${side === 'client' ? 'server' : 'client'})`,
        contentType: 'application/json',
        payload: plainSchema(schema),
      };
      channelMessages[k] = { $ref: `#/components/messages/${k}` };
      operations[`${action}.${type}`] = {
        action,
        channel: { $ref: '#/channels/realtime' },
        messages: [{ $ref: `#/channels/realtime/messages/${k}` }],
      };
    }
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Parley realtime protocol',
      version: opts.version,
      description:
        'JSON text frames of at most 64 KiB over GET /v1/ws. Authenticate with the Authorization header on the upgrade ' +
        'or a first `auth` frame within 5 s. A frame with an `id` gets exactly one reply with `replyTo`. Close codes: ' +
        Object.entries(WS_CLOSE)
          .map(([name, code]) => `${code} ${name}`)
          .join(', ') +
        '.',
    },
    servers: { gateway: { host: opts.host ?? 'localhost:3000', protocol: 'ws', pathname: '/v1/ws' } },
    channels: { realtime: { address: '/v1/ws', messages: channelMessages } },
    operations,
    components: { messages },
  };
}
