import { counter, gauge, histogram, type Registry } from '@parley/service-kit';

export function realtimeMetrics(registry: Registry) {
  return {
    connections: gauge(registry, { name: 'ws_connections_open', help: 'Open authenticated WebSocket connections' }),
    framesIn: counter<'type'>(registry, {
      name: 'ws_frames_in_total',
      help: 'Client frames received, by type (invalid: failed validation)',
      labelNames: ['type'],
    }),
    framesOut: counter(registry, { name: 'ws_frames_out_total', help: 'Frames written to sockets' }),
    deliveryLatency: histogram(registry, {
      name: 'ws_delivery_latency_seconds',
      help: 'Event occurredAt to socket write, per event fanned out',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    }),
    slowConsumerCloses: counter(registry, {
      name: 'ws_slow_consumer_closes_total',
      help: 'Connections closed with 4408 because their send buffer passed WS_MAX_BUFFERED_BYTES',
    }),
    rateLimitedCloses: counter(registry, {
      name: 'ws_rate_limited_closes_total',
      help: 'Connections closed with 4429 for exceeding the frame rate',
    }),
    sendsInFlight: gauge(registry, {
      name: 'ws_sends_in_flight',
      help: 'WebSocket message.send frames waiting for the message service (admission control)',
    }),
    sendsRefused: counter<'bound'>(registry, {
      name: 'ws_sends_refused_total',
      help: 'WebSocket message.send frames refused at once by admission control, by bound (connection, gateway)',
      labelNames: ['bound'],
    }),
    heldConversations: gauge(registry, {
      name: 'ws_conversation_subscriptions',
      help: 'Conversations this gateway is subscribed to (interest-based routing)',
    }),
  };
}
export type RealtimeMetrics = ReturnType<typeof realtimeMetrics>;
