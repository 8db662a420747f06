import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { doneRecord } from '../plugins/idempotency.js';
import { described, errorResponses } from '../schemas/errors.js';
import { SendOtpBody, SendOtpResponse, VerifyOtpBody, VerifyOtpResponse } from '../schemas/otp.js';
import { isLoopback, type RequestContext } from '../services/otp-service.js';
import { whileRedisAnswers } from '../services/redis-errors.js';
import { ROUTE_ERRORS } from './route-errors.js';

/** The answer to a right code; also what an Idempotency-Key retry replays. */
function verifiedAnswer(phone: string) {
  return { message: 'Код подтвержден', phone_number: phone, verified: true as const };
}

/** What the OTP service needs to know about the caller, and where it reports the phone's country. */
function context(request: FastifyRequest, purpose?: string): RequestContext {
  return {
    ...(purpose === undefined ? {} : { purpose }),
    requestId: request.id,
    log: request.log,
    ip: request.clientAddress,
    loopback: isLoopback(request.ip),
    apiKeyName: request.apiKey?.name,
    apiKeyTrusted: request.apiKey?.trusted === true,
    onCountry: (country) => {
      request.phoneCountry = country;
    },
  };
}

/** The two endpoints existing clients call; paths answer with and without the trailing slash. */
const otpRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post(
    '/send-otp/',
    {
      // Feeds otp_sends_total (plugins/metrics.ts reads the result off the answer).
      config: { otpMetric: 'send' },
      onRequest: fastify.apiKeyAuth,
      preHandler: fastify.idempotency,
      schema: {
        summary: 'Send a one-time code by SMS',
        description:
          'Stores a new code for the phone (replacing any earlier one) and queues the SMS. The answer does not wait for delivery.',
        tags: ['otp'],
        body: SendOtpBody,
        response: {
          200: described(
            SendOtpResponse,
            'Code stored and SMS queued; the answer does not wait for delivery',
          ),
          ...errorResponses(ROUTE_ERRORS['POST /send-otp/']),
        },
      },
    },
    async (request) => {
      const sent = await fastify.otp.send(request.body.phone_number, context(request, request.body.purpose));
      return {
        message: 'SMS код отправлен успешно',
        phone_number: sent.phone,
        verification_id: sent.verificationId,
        expires_in: sent.expiresIn,
        resend_after: sent.resendAfter,
        ...(sent.debugCode === undefined ? {} : { debug_code: sent.debugCode }),
      };
    },
  );

  fastify.post(
    '/verify-otp/',
    {
      config: { otpMetric: 'verify' },
      onRequest: fastify.apiKeyAuth,
      // A verify whose answer was lost (a timeout) can be retried with the same key and
      // gets the first answer: a 200 if that request spent the code.
      preHandler: fastify.idempotency,
      schema: {
        summary: 'Check a one-time code',
        description: 'A right code is spent at once; each wrong one uses up an attempt.',
        tags: ['otp'],
        body: VerifyOtpBody,
        response: {
          200: described(VerifyOtpResponse, 'The code was right; it is spent and cannot be used again'),
          ...errorResponses(ROUTE_ERRORS['POST /verify-otp/']),
        },
      },
    },
    async (request) => {
      const claim = request.idempotency;
      const { purpose } = request.body;
      // The record written with the spent code cannot hold the token (its verification id
      // is only known once the code is spent): it answers a retry only if this request dies
      // before its answer; otherwise the answer below, token included, replaces it.
      const { phone, verificationId } = await fastify.otp.verify(
        request.body.phone_number,
        request.body.code,
        {
          ...context(request, purpose),
          ...(claim
            ? {
                verifiedRecord: {
                  key: claim.key,
                  ttlSeconds: claim.ttlSeconds,
                  value: (e164: string) => doneRecord(claim, 200, JSON.stringify(verifiedAnswer(e164))),
                },
              }
            : {}),
        },
      );
      const token = await whileRedisAnswers(() =>
        fastify.verificationTokens.sign({
          phone,
          verificationId,
          ...(purpose === undefined ? {} : { purpose }),
        }),
      );
      return { ...verifiedAnswer(phone), verification_token: token };
    },
  );
};

export default otpRoutes;
