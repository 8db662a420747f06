import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { errorResponses } from '../schemas/errors.js';
import { ROUTE_ERRORS } from './route-errors.js';

/**
 * Prometheus scrape endpoint. Behind the admin credentials when any are configured; open
 * otherwise, so keep the port off the public internet (README, Operations).
 */
const metricsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get(
    '/metrics',
    {
      onRequest: fastify.adminEnabled ? fastify.adminAuth : [],
      logLevel: 'warn',
      schema: {
        summary: 'Prometheus metrics',
        description:
          'Text exposition format. Needs the admin credentials (Basic or Bearer) when ADMIN_USER/ADMIN_PASSWORD or ADMIN_API_KEY is set; open otherwise.',
        tags: ['operations'],
        security: [{ adminBasic: [] }, { adminKey: [] }, {}],
        response: {
          200: {
            description: 'Prometheus text format 0.0.4',
            content: { 'text/plain': { schema: Type.String() } },
          },
          ...errorResponses(ROUTE_ERRORS['GET /metrics']),
        },
      },
    },
    async (_request, reply) => {
      const body = await fastify.metrics.registry.metrics();
      return reply.type(fastify.metrics.registry.contentType).send(body);
    },
  );
};

export default metricsRoutes;
