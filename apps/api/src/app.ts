import { randomUUID } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from '@otp/core';
import Fastify, { type FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import type { ApiConfig } from './config.js';
import adminAuth from './plugins/admin-auth.js';
import apiKeys from './plugins/api-keys.js';
import bullBoard from './plugins/bull-board.js';
import errorHandler from './plugins/error-handler.js';
import idempotency from './plugins/idempotency.js';
import metrics from './plugins/metrics.js';
import otp from './plugins/otp.js';
import redis from './plugins/redis.js';
import statusStore from './plugins/status-store.js';
import swagger from './plugins/swagger.js';
import healthRoutes from './routes/health.js';
import metricsRoutes from './routes/metrics.js';
import otpRoutes from './routes/otp.js';
import verificationRoutes from './routes/verifications.js';
import webhookRoutes from './routes/webhooks.js';
import { ErrorResponse } from './schemas/errors.js';

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
  // Before any route: the OpenAPI document is built from the routes registered after it.
  await fastify.register(swagger);
  await fastify.register(redis, { url: config.redisUrl, commandTimeoutMs: config.redisCommandTimeoutMs });
  await fastify.register(apiKeys, { keys: config.apiKeys, keyPrefix: config.redisKeyPrefix });
  await fastify.register(idempotency, { keyPrefix: config.redisKeyPrefix });
  await fastify.register(statusStore, { keyPrefix: config.redisKeyPrefix });
  await fastify.register(otp, { config, clock });
  await fastify.register(adminAuth, { credentials: config.admin });
  await fastify.register(metrics, { allowedCountries: config.allowedCountries, processMetrics });
  await fastify.register(bullBoard);
  fastify.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  await fastify.register(healthRoutes);
  await fastify.register(otpRoutes);
  await fastify.register(verificationRoutes);
  await fastify.register(webhookRoutes, { secret: config.messaggioWebhookSecret });
  await fastify.register(metricsRoutes);
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
  return fastify;
}
