import { normalizePhone } from '@otp/core';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { type ApiMetrics, createApiMetrics } from '../metrics/api-metrics.js';
import { errorCodeLabel, type OtpOperation, otpResult } from '../metrics/otp-results.js';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: ApiMetrics;
  }
  interface FastifyContextConfig {
    /** Marks the OTP routes whose answers feed otp_sends_total / otp_verifications_total. */
    otpMetric?: OtpOperation;
  }
}

export interface MetricsPluginOptions {
  /** For the `country` label of numbers the API refuses as well as those it serves. */
  allowedCountries: readonly string[];
  /** Node's process metrics; see ApiMetricsOptions. @defaultValue false */
  processMetrics?: boolean;
  /** The clock the fraud guard's blocks expire by. @defaultValue Date.now */
  clock?: () => number;
}

/** What an answer's body says, read once in onSend and counted in onResponse. */
interface Answer {
  code?: string;
  phone?: unknown;
}

/** The two fields metrics need from a JSON answer; anything else is left alone. */
function readAnswer(payload: unknown): Answer {
  if (typeof payload !== 'string' || !payload.startsWith('{')) return {};
  try {
    const body = JSON.parse(payload) as { code?: unknown; phone_number?: unknown };
    return { code: typeof body.code === 'string' ? body.code : undefined, phone: body.phone_number };
  } catch {
    return {};
  }
}

/**
 * Request metrics without touching handlers: the route pattern and status come from Fastify,
 * the result from the answer's error `code`, the country from the OTP service (through
 * `request.phoneCountry`), or else from the answer's or the request's phone.
 */
export default fp<MetricsPluginOptions>(
  async (fastify, options) => {
    const clock = options.clock ?? Date.now;
    const guard = fastify.fraudGuard;
    const metrics = createApiMetrics({
      queue: fastify.sendQueues,
      processMetrics: options.processMetrics,
      ...(guard.mode === 'off' ? {} : { fraudBlockedRanges: () => guard.activeBlocks(clock()) }),
    });
    guard.listen({
      onBlock: (block) => metrics.recordFraudBlock({ country: block.country, mode: block.mode }),
      onRefused: (labels) => metrics.recordFraudRefusal(labels),
    });
    const answers = new WeakMap<FastifyRequest, Answer>();

    const countryOf = (phone: unknown): string => {
      if (typeof phone !== 'string' && typeof phone !== 'number') return 'unknown';
      const result = normalizePhone(String(phone), { allowedCountries: options.allowedCountries });
      if (result.ok) return result.country;
      return result.code === 'COUNTRY_NOT_ALLOWED' ? result.country : 'unknown';
    };

    fastify.addHook('onSend', async (request, reply, payload) => {
      // The error handler hands over its code (request.errorCode) and the OTP service the
      // phone's country (request.phoneCountry), so most answers are not read again. What is
      // left: error answers made elsewhere (404, a replayed error) for their code, and an OTP
      // answer whose country nobody told (an idempotent replay) for its phone.
      const read =
        reply.statusCode >= 400
          ? request.errorCode === null
          : request.routeOptions.config.otpMetric !== undefined && request.phoneCountry === null;
      if (read) {
        answers.set(request, readAnswer(payload));
      }
      return payload;
    });

    fastify.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      const statusCode = reply.statusCode;
      metrics.observeRequest({ method: request.method, route, statusCode }, reply.elapsedTime / 1000);
      const answer = answers.get(request) ?? {};
      const code = request.errorCode ?? answer.code;
      if (statusCode >= 400) metrics.recordError({ route, code: errorCodeLabel(code) });
      const operation = request.routeOptions.config.otpMetric;
      if (!operation) return;
      const requestPhone = (request.body as { phone_number?: unknown } | undefined)?.phone_number;
      metrics.recordOtp(operation, {
        result: otpResult(operation, statusCode, code),
        country: request.phoneCountry ?? countryOf(answer.phone ?? requestPhone),
      });
    });

    fastify.decorate('metrics', metrics);
  },
  { name: 'metrics', dependencies: ['otp'] },
);
