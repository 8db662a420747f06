import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { errorResponses } from '../schemas/errors.js';
import { whileRedisAnswers } from '../services/redis-errors.js';
import { ROUTE_ERRORS } from './route-errors.js';

const Health = Type.Object({ status: Type.Literal('ok') }, { description: 'Up' });

/** Liveness (the process answers) and readiness (Redis and the send queue answer), for orchestrators. */
const healthRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get(
    '/health/live',
    {
      schema: {
        tags: ['health'],
        response: { 200: Health, ...errorResponses(ROUTE_ERRORS['GET /health/live']) },
      },
      logLevel: 'warn',
    },
    async () => ({ status: 'ok' as const }),
  );
  fastify.get(
    '/health/ready',
    {
      schema: {
        tags: ['health'],
        response: { 200: Health, ...errorResponses(ROUTE_ERRORS['GET /health/ready']) },
      },
      logLevel: 'warn',
    },
    async () => {
      // The queue check runs a BullMQ script against the queue's own keys: a request that
      // passes readiness can also enqueue its SMS.
      await whileRedisAnswers(() =>
        Promise.all([
          fastify.redis.ping(),
          ...fastify.sendQueues.map((queue) => queue.getJobCounts('waiting')),
        ]),
      );
      return { status: 'ok' as const };
    },
  );
};

export default healthRoutes;
