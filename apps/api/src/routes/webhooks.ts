import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError, type DeliveryReportResult, ErrorCode, safeEqual } from '@otp/core';
import type { FastifyRequest } from 'fastify';
import { described, errorResponses } from '../schemas/errors.js';
import { type DeliveryReport, DeliveryReportBody, WebhookAck, WebhookParams } from '../schemas/webhooks.js';
import { whileRedisAnswers } from '../services/redis-errors.js';
import { ROUTE_ERRORS } from './route-errors.js';

export interface WebhookRoutesOptions {
  /** MESSAGGIO_WEBHOOK_SECRET, the last path segment; undefined turns the route off (404). */
  secret?: string;
  /**
   * Largest delivery report body. Not BODY_LIMIT_BYTES: that is sized for client requests,
   * and a 413 here would only make Messaggio re-send the same body for 24 h.
   * @defaultValue 262144
   */
  bodyLimitBytes?: number;
}

function statusCodeOf(report: DeliveryReport): number {
  const status = typeof report.status === 'object' ? report.status.status : report.status;
  return Number(status);
}

/**
 * Messaggio's delivery reports. Nothing signs them, so the URL carries a secret; a wrong or
 * missing one gets exactly the 404 an unknown path gets. Every well-formed report is
 * answered 200 (duplicates, unknown messages and unknown codes too) because Messaggio
 * re-sends anything else for 24 h; only a Redis outage answers 503, so nothing is lost.
 */
const webhookRoutes: FastifyPluginAsyncTypebox<WebhookRoutesOptions> = async (fastify, options) => {
  // request.log is silenced below warn on this route (see logLevel), so reports are logged here.
  const baseLog = fastify.log.child({ component: 'messaggio-webhook' });

  const checkSecret = async (request: FastifyRequest<{ Params: { secret?: string } }>) => {
    // safeEqual compares digests, so not even the secret's length leaks.
    const given = request.params.secret ?? '';
    if (options.secret === undefined || !safeEqual(given, options.secret)) {
      // Worth a warning: a secret that differs between the workers and the API loses every
      // report. The guess itself is not logged; it may be a mistyped real secret.
      baseLog.warn(
        { reqId: request.id, ip: request.ip, configured: options.secret !== undefined },
        'delivery report refused: wrong or unset webhook secret',
      );
      throw new AppError(ErrorCode.NOT_FOUND, 404, `No route for ${request.method} ${request.url}.`);
    }
  };

  function logReport(request: FastifyRequest, report: DeliveryReport, result: DeliveryReportResult) {
    const statusCode = statusCodeOf(report);
    const fields = { reqId: request.id, messageId: report.message_id, dlrStatus: statusCode };
    if (result.outcome === 'unknown_message') {
      baseLog.info({ ...fields, externalId: report.external_id }, 'delivery report for an unknown message');
      return;
    }
    const log = baseLog.child({
      ...fields,
      verificationId: result.verificationId,
      ...(result.requestId === undefined ? {} : { requestId: result.requestId }),
    });
    if (!result.knownCode) log.warn('delivery report with an unknown status code; message kept pending');
    // Duplicates and late reports are logged too: they answer "did Messaggio report it?".
    const details = { outcome: result.outcome, status: result.status, previous: result.previous };
    log.info(details, result.outcome === 'applied' ? 'delivery report applied' : 'delivery report ignored');
  }

  fastify.post(
    '/webhooks/messaggio/:secret',
    {
      onRequest: checkSecret,
      // A GET on a guessed secret must not learn that the path exists.
      config: { answerWrongMethod: false },
      bodyLimit: options.bodyLimitBytes ?? 256 * 1024,
      // The URL holds the secret; Fastify's per-request lines would write it to the log.
      logLevel: 'warn',
      schema: {
        summary: 'Messaggio delivery reports',
        description:
          'Register {PUBLIC_BASE_URL}/webhooks/messaggio/{MESSAGGIO_WEBHOOK_SECRET} as the callback URL. Accepts the webhook and the status-poll shapes, or an array of them.',
        tags: ['webhooks'],
        params: WebhookParams,
        body: DeliveryReportBody,
        response: {
          200: described(
            WebhookAck,
            'Report taken (duplicates and unknown messages too, or Messaggio would re-send them)',
          ),
          ...errorResponses(ROUTE_ERRORS['POST /webhooks/messaggio/{secret}']),
        },
      },
    },
    async (request) => {
      const reports = Array.isArray(request.body) ? request.body : [request.body];
      for (const report of reports) {
        const result = await whileRedisAnswers(() =>
          fastify.statusStore.deliveryReport({
            messageId: report.message_id,
            statusCode: statusCodeOf(report),
            externalId: report.external_id,
          }),
        );
        logReport(request, report, result);
      }
      return { ok: true as const };
    },
  );
};

export default webhookRoutes;
