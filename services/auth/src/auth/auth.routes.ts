/**
 * /v1/auth routes: thin handlers over the auth and session services.
 * Register, login, refresh and the JWKS are public; logout needs the access
 * token of the session's user.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { unauthorized } from '@parley/service-kit';
import { Type } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import { assertValidFields, bodyFields } from '../field-problems';
import type { SigningKeyRing } from '../keys/signing-key.service';
import type { SessionService } from '../sessions/session.service';
import { registrationProblems } from '../users/user.rules';
import type { ClientIpResolver } from './client-ip';
import type { ThrottleVerdict } from './login-throttle';
import { AuthResult, AuthTokens, JwksResponse, LoginBody, RefreshTokenBody, RegisterBody } from './auth.schemas';
import type { AuthService } from './auth.service';

export interface AuthRoutesOptions {
  auth: AuthService;
  clientIp: ClientIpResolver;
  sessions: SessionService;
  keys: SigningKeyRing;
}

function rateLimitHeaders(reply: FastifyReply, v: ThrottleVerdict) {
  reply.header('ratelimit-limit', String(v.limit));
  reply.header('ratelimit-remaining', String(v.remaining));
  reply.header('ratelimit-reset', String(v.resetSeconds));
}

export const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async (
  app,
  { auth, clientIp, sessions, keys },
) => {
  app.post(
    '/v1/auth/register',
    {
      config: { public: true },
      attachValidation: true,
      schema: { body: RegisterBody, response: { 201: AuthResult } },
    },
    async (request, reply) => {
      const fields = bodyFields(request.body);
      assertValidFields(request, registrationProblems(fields));
      const result = await auth.register(request.body);
      return reply.code(201).send(result);
    },
  );

  app.post(
    '/v1/auth/login',
    { config: { public: true }, schema: { body: LoginBody, response: { 200: AuthResult } } },
    async (request, reply) => {
      const verdict = await auth.countAttempt(request.body.email, clientIp(request.raw));
      rateLimitHeaders(reply, verdict);
      if (!verdict.allowed) throw auth.rateLimitedError(verdict);
      return auth.login(request.body);
    },
  );

  app.post(
    '/v1/auth/refresh',
    { config: { public: true }, schema: { body: RefreshTokenBody, response: { 200: AuthTokens } } },
    async (request) => sessions.refresh(request.body.refreshToken),
  );

  app.post(
    '/v1/auth/logout',
    { schema: { body: RefreshTokenBody, response: { 204: Type.Null() } } },
    async (request, reply) => {
      if (!request.auth) throw unauthorized();
      await sessions.logout(request.auth.userId, request.body.refreshToken);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/auth/jwks.json',
    { config: { public: true }, schema: { response: { 200: JwksResponse } } },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=60');
      return keys.jwks();
    },
  );
};
