import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorRef } from '../schemas/errors.js';
import { SendOtpBody, SendOtpResponse, VerifyOtpBody, VerifyOtpResponse } from '../schemas/otp.js';

/** The two endpoints existing clients call; paths answer with and without the trailing slash. */
const otpRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post(
    '/send-otp/',
    {
      onRequest: fastify.apiKeyAuth,
      schema: {
        summary: 'Send a one-time code by SMS',
        description:
          'Stores a new code for the phone (replacing any earlier one) and queues the SMS. The answer does not wait for delivery.',
        tags: ['otp'],
        body: SendOtpBody,
        response: {
          200: SendOtpResponse,
          400: errorRef,
          403: errorRef,
          415: errorRef,
          413: errorRef,
          429: errorRef,
          503: errorRef,
        },
      },
    },
    async (request) => {
      const sent = await fastify.otp.send(request.body.phone_number, {
        requestId: request.id,
        log: request.log,
      });
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
      onRequest: fastify.apiKeyAuth,
      schema: {
        summary: 'Check a one-time code',
        description: 'A right code is spent at once; each wrong one uses up an attempt.',
        tags: ['otp'],
        body: VerifyOtpBody,
        response: {
          200: VerifyOtpResponse,
          400: errorRef,
          403: errorRef,
          415: errorRef,
          413: errorRef,
          429: errorRef,
          503: errorRef,
        },
      },
    },
    async (request) => {
      const { phone } = await fastify.otp.verify(request.body.phone_number, request.body.code, {
        requestId: request.id,
        log: request.log,
      });
      return { message: 'Код подтвержден', phone_number: phone, verified: true as const };
    },
  );
};

export default otpRoutes;
