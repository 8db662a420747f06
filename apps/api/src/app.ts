import { randomUUID } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from '@otp/core';
import Fastify, { type FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import type { ApiConfig } from './config.js';
import apiKeys from './plugins/api-keys.js';
import errorHandler from './plugins/error-handler.js';
import otp from './plugins/otp.js';
import redis from './plugins/redis.js';
import healthRoutes from './routes/health.js';
import otpRoutes from './routes/otp.js';
import { ErrorResponse } from './schemas/errors.js';

export interface AppOptions {
  config: ApiConfig;
}

/**
 * The whole API as a plugin: external dependencies first, then the app's own plugins,
 * then routes. It never listens; server.ts does, and tests use inject().
 */
export const app: FastifyPluginAsync<AppOptions> = async (fastify, { config }) => {
  fastify.addSchema(ErrorResponse);
  await fastify.register(errorHandler);
  await fastify.register(redis, { url: config.redisUrl, commandTimeoutMs: config.redisCommandTimeoutMs });
  await fastify.register(apiKeys, { keys: config.apiKeys, keyPrefix: config.redisKeyPrefix });
  await fastify.register(otp, { config });
  fastify.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  await fastify.register(healthRoutes);
  await fastify.register(otpRoutes);
};

/** Builds the Fastify instance with the server options the API runs with. */
export async function createApp(options: { config: ApiConfig; logger: Logger }) {
  const fastify = Fastify({
    loggerInstance: options.logger,
    bodyLimit: options.config.bodyLimitBytes,
    routerOptions: { ignoreTrailingSlash: true },
    // A caller's X-Request-Id is kept so one request can be followed through its logs.
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    ajv: {
      // Types are not coerced: `true` is not a phone number. Unknown fields are refused by
      // `additionalProperties: false`, not silently dropped.
      customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  // fastify-plugin keeps the app's decorators (redis, otp, sendQueue) visible on the root
  // instance, for server.ts and tests.
  await fastify.register(fp(app, { name: 'otp-app' }), { config: options.config });
  return fastify;
}
