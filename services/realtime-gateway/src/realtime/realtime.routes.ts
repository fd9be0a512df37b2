/**
 * `GET /v1/ws`: the realtime endpoint. Upgrade-time checks (Origin, an
 * Authorization header) happen here; the protocol itself lives in
 * RealtimeProtocol and the routing of events in RealtimeHub.
 */
import websocket from '@fastify/websocket';
import { WS_CLOSE, WS_LIMITS } from '@parley/contracts';
import { badRequest, bearerToken, newId } from '@parley/service-kit';
import type { FastifyInstance } from 'fastify';
import { type GatewayConfig, isOriginAllowed, originPolicyOf } from '../config';
import { Connection } from './connection';
import type { RealtimeMetrics } from './realtime.metrics';
import type { RealtimeProtocol } from './realtime.protocol';
import type { RealtimeHub } from './realtime.service';

export interface RealtimeRouteOptions {
  config: GatewayConfig;
  hub: RealtimeHub;
  protocol: RealtimeProtocol;
  metrics: RealtimeMetrics;
}

export async function realtimeRoutes(app: FastifyInstance, opts: RealtimeRouteOptions): Promise<void> {
  const { config, hub, protocol, metrics } = opts;
  const origins = originPolicyOf(config.WS_ALLOWED_ORIGINS);
  /** Every socket of this gateway, authenticated or not (heartbeats, shutdown). */
  const sockets = new Set<Connection>();

  // Registered before @fastify/websocket's own preClose, so clients get 1001
  // ("going away": reconnect elsewhere and resume) before the server stops,
  // and their presence is removed while the key-value store is still open
  // (it closes after the app).
  app.addHook('preClose', async () => {
    clearInterval(heartbeat);
    await protocol.shutdown([...sockets]);
  });
  app.addHook('onClose', async () => hub.stop());

  await app.register(websocket, {
    options: { maxPayload: WS_LIMITS.frameBytes, perMessageDeflate: false, clientTracking: true },
    // Socket errors are the client's doing (a frame over the limit, a bad frame,
    // a reset): ws has already sent the close code. The plugin's default logs
    // each at error level, which any client could use to flood error logs.
    errorHandler: (err, socket, request) => {
      request.log.info({ err: err.message }, 'websocket closed on a protocol error');
      socket.terminate();
    },
  });

  const heartbeat = setInterval(() => {
    const now = Date.now();
    for (const c of sockets) protocol.heartbeat(c, now);
  }, config.WS_HEARTBEAT_MS);
  heartbeat.unref();

  app.route({
    method: 'GET',
    url: '/v1/ws',
    config: { public: true },
    // A plain HTTP GET (no Upgrade) gets the API's error shape, not an empty 404.
    handler: async () => {
      throw badRequest('GET /v1/ws is the WebSocket endpoint: send an Upgrade: websocket request');
    },
    wsHandler: (socket, request) => {
      const conn = new Connection(
        newId(),
        socket,
        { maxBufferedBytes: config.WS_MAX_BUFFERED_BYTES, frameRatePerSec: config.WS_FRAME_RATE_PER_SEC },
        {
          onFrameOut: () => metrics.framesOut.inc(),
          onSlowReader: (c) => {
            metrics.slowConsumerCloses.inc();
            c.close(WS_CLOSE.tooSlow, 'too slow');
          },
        },
      );
      sockets.add(conn);
      socket.on('close', () => sockets.delete(conn));
      const origin = request.headers.origin;
      protocol.accept(conn, {
        headerToken: bearerToken(request.headers.authorization),
        originAllowed: origin === undefined || isOriginAllowed(origins, origin, request.headers.host),
      });
    },
  });
}
