import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { type Language, localizedMessage, pickLanguage } from '../i18n/messages.js';
import { doneRecord } from '../plugins/idempotency.js';
import { described, errorResponses } from '../schemas/errors.js';
import { SendOtpBody, SendOtpResponse, VerifyOtpBody, VerifyOtpResponse } from '../schemas/otp.js';
import { isLoopback, type RequestContext } from '../services/otp-service.js';
import { whileRedisAnswers } from '../services/redis-errors.js';
import { ROUTE_ERRORS } from './route-errors.js';

/** The answer to a right code; also what an Idempotency-Key retry replays. */
function verifiedAnswer(phone: string, language: Language | undefined) {
  return {
    message: localizedMessage('verify.ok', language) ?? 'Код подтвержден',
    phone_number: phone,
    verified: true as const,
  };
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
      // Feeds otp_sends_total (plugins/metrics.ts reads the result off the answer). The API
      // key's quota is awaited by the idempotency pre-handler, beside its claim.
      config: { otpMetric: 'send', deferApiKeyQuota: true },
      onRequest: fastify.apiKeyAuth,
      preHandler: fastify.idempotency,
      schema: {
        summary: 'Send a one-time code by SMS',
        description:
          "Stores a new code for the phone and queues the SMS; within a live code's life (OTP_RESEND_SAME_CODE) it resends that code instead (`resent: true`). The answer does not wait for delivery. The human `message` follows Accept-Language (ru, kk, en); without one of those (absent, `*`, others) it is unchanged. `code` never changes.",
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
      const { locale, app_hash: appHash, metadata } = request.body;
      const sent = await fastify.otp.send(request.body.phone_number, {
        ...context(request, request.body.purpose),
        ...(metadata === undefined ? {} : { metadata }),
        ...(locale === undefined ? {} : { locale }),
        ...(appHash === undefined ? {} : { appHash }),
        ...(request.apiKey?.appHashes === undefined ? {} : { allowedAppHashes: request.apiKey.appHashes }),
      });
      return {
        message:
          localizedMessage('send.ok', pickLanguage(request.headers['accept-language'])) ??
          'SMS код отправлен успешно',
        phone_number: sent.phone,
        verification_id: sent.verificationId,
        expires_in: sent.expiresIn,
        resend_after: sent.resendAfter,
        resent: sent.resent,
        ...(sent.debugCode === undefined ? {} : { debug_code: sent.debugCode }),
      };
    },
  );

  fastify.post(
    '/verify-otp/',
    {
      config: { otpMetric: 'verify', deferApiKeyQuota: true },
      onRequest: fastify.apiKeyAuth,
      // A verify whose answer was lost (a timeout) can be retried with the same key and
      // gets the first answer: a 200 if that request spent the code.
      preHandler: fastify.idempotency,
      schema: {
        summary: 'Check a one-time code',
        description:
          'A right code is spent at once; each wrong one uses up an attempt. The human `message` follows Accept-Language (ru, kk, en); without one of those (absent, `*`, others) it is unchanged. `code` never changes.',
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
      const language = pickLanguage(request.headers['accept-language']);
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
                  value: (e164: string) =>
                    doneRecord(claim, 200, JSON.stringify(verifiedAnswer(e164, language))),
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
      return { ...verifiedAnswer(phone, language), verification_token: token };
    },
  );
};

export default otpRoutes;
