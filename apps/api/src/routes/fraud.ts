import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError, ErrorCode } from '@otp/core';
import { described, errorResponses } from '../schemas/errors.js';
import { FraudBlocksResponse, FraudLiftResponse, FraudRangeParams } from '../schemas/fraud.js';
import { whileRedisAnswers } from '../services/redis-errors.js';
import { ROUTE_ERRORS } from './route-errors.js';

/** Operators' view of the fraud guard: the blocks in force, and lifting one. Admin credentials only. */
const fraudRoutes: FastifyPluginAsyncTypebox<{ clock?: () => number }> = async (
  fastify,
  { clock = Date.now },
) => {
  fastify.get(
    '/fraud/blocks',
    {
      onRequest: fastify.adminAuth,
      schema: {
        summary: 'Number ranges the fraud guard blocks now',
        description:
          'In record_only mode, the ranges it would block. Needs the admin credentials; answers 404 when none are configured.',
        tags: ['operations'],
        response: {
          200: described(FraudBlocksResponse, 'The blocks in force, newest first'),
          ...errorResponses(ROUTE_ERRORS['GET /fraud/blocks']),
        },
      },
    },
    async () => {
      const blocks = await whileRedisAnswers(() => fastify.fraudGuard.listBlocks(clock()));
      return {
        mode: fastify.fraudGuard.mode,
        blocks: blocks.map((block) => ({
          range: block.range,
          country: block.country,
          mode: block.mode,
          level: block.level,
          blocked_at: new Date(block.blockedAt).toISOString(),
          expires_at: new Date(block.expiresAt).toISOString(),
          recent_sends: block.recentSends,
          baseline_sends: block.baselineSends,
          sample_sends: block.sampleSends,
          sample_verified: block.sampleVerified,
        })),
      };
    },
  );

  fastify.delete(
    '/fraud/blocks/:range',
    {
      onRequest: fastify.adminAuth,
      schema: {
        summary: "Lift a range's block",
        description:
          'Sends to the range are admitted again at once. Its offence count stays, so a range that keeps pumping is blocked again, for longer.',
        tags: ['operations'],
        params: FraudRangeParams,
        response: {
          200: described(FraudLiftResponse, 'The block is lifted'),
          ...errorResponses(ROUTE_ERRORS['DELETE /fraud/blocks/{range}']),
        },
      },
    },
    async (request) => {
      const range = request.params.range.startsWith('+') ? request.params.range : `+${request.params.range}`;
      const lifted = await whileRedisAnswers(() => fastify.fraudGuard.lift(range));
      if (!lifted) throw new AppError(ErrorCode.NOT_FOUND, 404, `No block in force for ${range}.`);
      request.log.warn({ range }, 'fraud guard: block lifted by an operator');
      return { range, lifted: true as const };
    },
  );
};

export default fraudRoutes;
