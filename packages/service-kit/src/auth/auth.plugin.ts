/**
 * Makes every route authenticated unless it opts out with
 * `config: { public: true }`: an onRequest hook verifies the bearer token
 * (before the body is even parsed) and sets `request.auth`. Unknown routes
 * (404) are not authenticated, so they answer 404 either way.
 */
import { JwksReply, RPC } from '@parley/contracts';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { currentHeaders } from '../context';
import { unauthorized } from '../http/errors';
import type { Bus } from '../bus/bus';
import { type JWKSource, JwksKeyStore, type VerifiedToken, bearerToken, verifyAccessToken } from './verify';

export interface AuthContext {
  userId: string;
  sessionId: string;
}

export interface AuthPluginOptions {
  /** Public keys; default: the auth service's JWKS over the bus. */
  keys?: JWKSource | JwksKeyStore;
  issuer: string;
  audience: string;
  /** Set to false to register the decorations without the default hook. */
  enforce?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route needs no access token. */
    public?: boolean;
  }
  interface FastifyRequest {
    auth: AuthContext | null;
  }
  interface FastifyInstance {
    /** preHandler for custom cases: verifies the bearer token and sets `request.auth`. */
    authenticate(request: FastifyRequest, reply?: FastifyReply): Promise<void>;
    /** Verifies a raw access token (e.g. a WebSocket `auth` frame). */
    verifyAccessToken(token: string): Promise<VerifiedToken>;
  }
}

const jwksReply = TypeCompiler.Compile(JwksReply);

/** Fetches the JWKS from the auth service over the bus (request/reply, 2 s). */
export function busKeySource(bus: Bus): JWKSource {
  return async () => {
    const reply = await bus.request(RPC.authJwks, {}, { timeoutMs: 2000, headers: currentHeaders() });
    if (!jwksReply.Check(reply)) throw new Error('malformed JWKS reply from the auth service');
    return reply as unknown as Awaited<ReturnType<JWKSource>>;
  };
}

async function authPlugin(app: FastifyInstance, opts: AuthPluginOptions) {
  const store = opts.keys instanceof JwksKeyStore ? opts.keys : new JwksKeyStore(opts.keys ?? busKeySource(app.bus));
  const verify = (token: string) =>
    verifyAccessToken(token, {
      keys: store,
      issuer: opts.issuer,
      audience: opts.audience,
      kv: app.kv,
      logger: app.log,
    });

  async function authenticate(request: FastifyRequest, reply?: FastifyReply) {
    const token = bearerToken(request.headers.authorization);
    if (!token) {
      reply?.header('www-authenticate', 'Bearer');
      throw unauthorized('missing bearer token');
    }
    try {
      const verified = await verify(token);
      request.auth = { userId: verified.userId, sessionId: verified.sessionId };
    } catch (err) {
      reply?.header('www-authenticate', 'Bearer error="invalid_token"');
      throw err;
    }
  }

  app.decorateRequest('auth', null);
  app.decorate('authenticate', authenticate);
  app.decorate('verifyAccessToken', verify);

  if (opts.enforce !== false) {
    app.addHook('onRequest', async (request, reply) => {
      if (request.is404 || request.routeOptions.config?.public === true) return;
      await authenticate(request, reply);
    });
  }
}

export const authenticationPlugin = fp(authPlugin, {
  name: 'parley-auth',
  fastify: '5.x',
  decorators: { fastify: ['bus', 'kv'] },
});
