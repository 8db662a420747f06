import { randomUUID } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from '@otp/core';
import { AppError, ErrorCode } from '@otp/core';
import Fastify, { type FastifyPluginAsync, type FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ApiConfig } from './config.js';
import adminAuth from './plugins/admin-auth.js';
import apiKeys from './plugins/api-keys.js';
import bullBoard from './plugins/bull-board.js';
import drain from './plugins/drain.js';
import errorHandler from './plugins/error-handler.js';
import idempotency from './plugins/idempotency.js';
import metrics from './plugins/metrics.js';
import otp from './plugins/otp.js';
import overload from './plugins/overload.js';
import redis from './plugins/redis.js';
import statusStore from './plugins/status-store.js';
import swagger from './plugins/swagger.js';
import verificationTokens from './plugins/verification-tokens.js';
import fraudRoutes from './routes/fraud.js';
import healthRoutes from './routes/health.js';
import jwksRoutes from './routes/jwks.js';
import metricsRoutes from './routes/metrics.js';
import otpRoutes from './routes/otp.js';
import verificationRoutes from './routes/verifications.js';
import webhookRoutes from './routes/webhooks.js';
import { ErrorResponse } from './schemas/errors.js';
import { clientAddress } from './services/client-address.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The address per-IP limits count this caller by (validated, IPv6 grouped by prefix). */
    clientAddress: string;
  }
}

export interface AppOptions {
  config: ApiConfig;
  /** The clock rate limits are measured with; tests move it to cross a window. @defaultValue Date.now */
  clock?: () => number;
  /** Also report Node's process metrics; only the process entry sets it (see api-metrics.ts). @defaultValue false */
  processMetrics?: boolean;
}

/**
 * The whole API as a plugin: external dependencies first, then the app's own plugins,
 * then routes. It never listens; server.ts does, and tests use inject().
 */
export const app: FastifyPluginAsync<AppOptions> = async (fastify, { config, clock, processMetrics }) => {
  fastify.addSchema(ErrorResponse);
  // JSON only: Fastify's built-in text/plain parser would hand a JSON text to the schema as
  // a string (400); without it a text/plain body is 415 UNSUPPORTED_MEDIA_TYPE.
  fastify.removeContentTypeParser('text/plain');
  await fastify.register(errorHandler);
  // First of all hooks: an overloaded process refuses before doing any work.
  await fastify.register(overload, config.overload);
  fastify.decorateRequest('clientAddress', '');
  fastify.addHook('onRequest', async (request: FastifyRequest) => {
    request.clientAddress = clientAddress(request.ip, request.socket.remoteAddress, config.ipv6PrefixLength);
  });
  if (config.rateLimitPerIpPerMinute > 0) {
    // In front of everything, in this process's memory: a flood of requests costs no Redis
    // round trip, so it cannot slow the normal clients' requests that do need Redis.
    await fastify.register(rateLimit, {
      global: true,
      max: config.rateLimitPerIpPerMinute,
      timeWindow: 60_000,
      keyGenerator: (request) => request.clientAddress,
      errorResponseBuilder: (_request, context) => {
        const retryAfter = Math.max(1, Math.ceil(context.ttl / 1000));
        return new AppError(
          ErrorCode.RATE_LIMITED,
          429,
          `Too many requests from this address; try again in ${retryAfter} s.`,
          { headers: { 'retry-after': String(retryAfter) }, details: { retry_after: retryAfter } },
        );
      },
    });
  }
  // Before any route: the OpenAPI document is built from the routes registered after it.
  await fastify.register(swagger);
  await fastify.register(redis, {
    url: config.redisUrl,
    ...(config.redisCluster ? { cluster: config.redisCluster } : {}),
    commandTimeoutMs: config.redisCommandTimeoutMs,
  });
  await fastify.register(apiKeys, { keys: config.apiKeys, keyPrefix: config.redisKeyPrefix });
  await fastify.register(idempotency, { keyPrefix: config.redisKeyPrefix });
  await fastify.register(statusStore, {
    keyPrefix: config.redisKeyPrefix,
    ...(config.events
      ? {
          events: {
            queueName: config.queueName,
            queuePrefix: config.queuePrefix,
            jobOptions: config.events.jobOptions,
          },
        }
      : {}),
  });
  await fastify.register(otp, { config, clock });
  await fastify.register(verificationTokens, { config, clock });
  await fastify.register(adminAuth, { credentials: config.admin });
  await fastify.register(metrics, { allowedCountries: config.allowedCountries, processMetrics, clock });
  await fastify.register(bullBoard);
  fastify.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  await fastify.register(healthRoutes);
  await fastify.register(otpRoutes);
  await fastify.register(verificationRoutes);
  await fastify.register(jwksRoutes);
  await fastify.register(webhookRoutes, { handlers: config.webhooks, publicBaseUrl: config.publicBaseUrl });
  await fastify.register(metricsRoutes);
  await fastify.register(fraudRoutes, { clock });
};

/** The X-Request-Id values kept as they are. */
export const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Believe the nearest `hops` proxies (Fastify's typings take a count only as a function). */
function trustHops(hops: number) {
  return (_address: string, hop: number) => hop < hops;
}

/** Builds the Fastify instance with the server options the API runs with. */
export async function createApp(options: AppOptions & { logger: Logger }) {
  const fastify = Fastify({
    loggerInstance: options.logger,
    bodyLimit: options.config.bodyLimitBytes,
    // A slow-body client holds a socket at most this long (Node's default is 300 s)...
    requestTimeout: options.config.requestTimeoutMs,
    // ...and an idle or stalled one this long.
    connectionTimeout: options.config.connectionTimeoutMs,
    // Node checks these only every connectionsCheckingInterval (30 s by default), and
    // enforces requestTimeout only when headersTimeout (60 s by default) is not longer.
    http: {
      connectionsCheckingInterval: Math.min(1000, options.config.requestTimeoutMs),
      headersTimeout: options.config.requestTimeoutMs,
    },
    // Decides whether X-Forwarded-For is believed for request.ip (per-IP limits).
    trustProxy:
      typeof options.config.trustProxy === 'number'
        ? trustHops(options.config.trustProxy)
        : options.config.trustProxy,
    routerOptions: { ignoreTrailingSlash: true },
    // A caller's X-Request-Id is kept so one request can be followed through its logs,
    // when it is a plausible id: anything else (8,000 characters, control bytes) would be
    // reflected, stored and carried into jobs, so a fresh one replaces it.
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Idle keep-alive connections close when close() starts; plugins/drain.ts closes the
    // ones that turn idle afterwards.
    forceCloseConnections: 'idle',
    ajv: {
      // Types are not coerced: `true` is not a phone number. Unknown fields are refused by
      // `additionalProperties: false`, not silently dropped.
      customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  // fastify-plugin keeps the app's decorators (redis, otp, sendQueue) visible on the root
  // instance, for server.ts and tests.
  await fastify.register(fp(app, { name: 'otp-app' }), {
    config: options.config,
    clock: options.clock,
    processMetrics: options.processMetrics,
  });
  await fastify.register(drain);
  return fastify;
}
