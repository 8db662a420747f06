import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError, describeFailure, ErrorCode, type VerificationRecord } from '@otp/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { described, errorResponses } from '../schemas/errors.js';
import { VerificationParams, VerificationResponse } from '../schemas/verifications.js';
import { ownerOf } from '../services/otp-service.js';
import { whileRedisAnswers } from '../services/redis-errors.js';
import { ROUTE_ERRORS } from './route-errors.js';

function toResponse(record: VerificationRecord): VerificationResponse {
  const reachedAt: Record<string, string> = {};
  for (const [status, at] of Object.entries(record.reachedAt)) reachedAt[status] = at.toISOString();
  return {
    verification_id: record.verificationId,
    status: record.status,
    phone_number: record.phone,
    country: record.country,
    created_at: record.createdAt.toISOString(),
    updated_at: record.updatedAt.toISOString(),
    expires_at: record.expiresAt.toISOString(),
    attempts: record.attempts,
    ...(record.provider === undefined ? {} : { provider: record.provider }),
    ...(record.providerMessageId === undefined ? {} : { provider_message_id: record.providerMessageId }),
    // Only the stable code and its fixed description: a provider's own words may quote the
    // request (the code, the callback secret), and a record written by an older worker may hold them.
    ...(record.failureCode === undefined
      ? {}
      : { failure_code: record.failureCode, failure_reason: describeFailure(record.failureCode) }),
    ...(record.metadata === undefined ? {} : { metadata: record.metadata }),
    reached_at: reachedAt,
  };
}

/** The record if this caller may read it; another API key's answers exactly like none. */
async function readableRecord(
  fastify: FastifyInstance,
  request: FastifyRequest,
  id: string,
): Promise<VerificationRecord> {
  const record = await whileRedisAnswers(() => fastify.statusStore.get(id));
  const readable =
    record !== undefined &&
    (record.owner === undefined ||
      (request.apiKey !== null && record.owner === ownerOf(request.apiKey.name)));
  if (!record || !readable) {
    throw new AppError(
      ErrorCode.VERIFICATION_NOT_FOUND,
      404,
      'No verification with this id; records are kept for 24 hours.',
    );
  }
  return record;
}

/** Follow one code: where its SMS is, and whether it was used. */
const verificationRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get(
    '/verifications/:id',
    {
      onRequest: fastify.apiKeyAuth,
      schema: {
        summary: 'Where one verification stands',
        description:
          'Delivery progress (from the worker and the provider’s delivery reports), which provider carried it, and whether the code was used. Kept for 24 hours; never shows the code.',
        tags: ['otp'],
        params: VerificationParams,
        response: {
          200: described(VerificationResponse, 'Where the verification stands'),
          ...errorResponses(ROUTE_ERRORS['GET /verifications/{id}']),
        },
      },
    },
    async (request) => toResponse(await readableRecord(fastify, request, request.params.id)),
  );

  fastify.post(
    '/verifications/:id/cancel',
    {
      onRequest: fastify.apiKeyAuth,
      schema: {
        summary: 'Revoke a live code',
        description:
          'Deletes the verification’s code if it is still live: the status becomes `canceled`, a verify with that code answers OTP_EXPIRED, and a queued SMS is not sent. Canceling again answers the same. A code already used or expired, or replaced by a newer code for the number, answers 409 VERIFICATION_NOT_CANCELABLE with the `status`. The resend cooldown and send limits stay spent. Same access as GET /verifications/{id}. No body.',
        tags: ['otp'],
        params: VerificationParams,
        response: {
          200: described(VerificationResponse, 'Canceled (now or before): the verification as it stands'),
          ...errorResponses(ROUTE_ERRORS['POST /verifications/{id}/cancel']),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      await fastify.otp.cancel(await readableRecord(fastify, request, id), { log: request.log });
      // Read back: the answer shows what GET would show now.
      return toResponse(await readableRecord(fastify, request, id));
    },
  );
};

export default verificationRoutes;
