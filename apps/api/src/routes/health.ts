import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { errorRef } from '../schemas/errors.js';
import { whileRedisAnswers } from '../services/redis-errors.js';

const Health = Type.Object({ status: Type.Literal('ok') });

/** Liveness (the process answers) and readiness (Redis answers), for orchestrators. */
const healthRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get(
    '/health/live',
    { schema: { tags: ['health'], response: { 200: Health } }, logLevel: 'warn' },
    async () => ({ status: 'ok' as const }),
  );
  fastify.get(
    '/health/ready',
    { schema: { tags: ['health'], response: { 200: Health, 503: errorRef } }, logLevel: 'warn' },
    async () => {
      await whileRedisAnswers(() => fastify.redis.ping());
      return { status: 'ok' as const };
    },
  );
};

export default healthRoutes;
