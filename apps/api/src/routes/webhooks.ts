import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError, type DeliveryReportResult, ErrorCode } from '@otp/core';
import type { DeliveryReport, WebhookHandler } from '@otp/sms';
import type { FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { errorResponses } from '../schemas/errors.js';
import { whileRedisAnswers } from '../services/redis-errors.js';
import { WEBHOOK_ROUTE_ERRORS } from './route-errors.js';

export interface WebhookRoutesOptions {
  /** One per configured provider (see @otp/providers); each gets `/webhooks/<provider>` and `/webhooks/<provider>/*`. */
  handlers: readonly WebhookHandler[];
  /** PUBLIC_BASE_URL: the URL providers call, which signed webhooks are checked against. */
  publicBaseUrl?: string;
  /**
   * Largest delivery report body. Not BODY_LIMIT_BYTES: that is sized for client requests,
   * and a 413 here would only make the provider re-send the same body for hours.
   * @defaultValue 262144
   */
  bodyLimitBytes?: number;
}

/**
 * Providers' delivery reports, mounted generically: the provider's handler authenticates and
 * parses the raw request into neutral reports, this route applies them to the status store
 * and answers the way the provider expects. A refused request changes nothing; only a Redis
 * outage answers 503, so the provider sends the report again.
 */
const webhookRoutes: FastifyPluginAsyncTypebox<WebhookRoutesOptions> = async (fastify, options) => {
  const bodyLimit = options.bodyLimitBytes ?? 256 * 1024;
  // Handlers read the raw body: a signature covers the bytes (or the form fields) as sent,
  // and each provider has its own format. Only in this plugin's scope.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'string', bodyLimit }, (_request, body, done) =>
    done(null, body),
  );

  function requestUrl(request: FastifyRequest): string {
    return options.publicBaseUrl
      ? `${options.publicBaseUrl}${request.url}`
      : `${request.protocol}://${request.host}${request.url}`;
  }

  function logReport(
    log: FastifyRequest['log'],
    reqId: string,
    report: DeliveryReport,
    result: DeliveryReportResult,
  ) {
    const fields = {
      reqId,
      provider: report.provider,
      messageId: report.providerMessageId,
      dlrStatus: report.providerStatus ?? report.status,
    };
    if (result.outcome === 'unknown_message') {
      log.info({ ...fields, externalId: report.verificationId }, 'delivery report for an unknown message');
      return;
    }
    const child = log.child({
      ...fields,
      verificationId: result.verificationId,
      ...(result.requestId === undefined ? {} : { requestId: result.requestId }),
    });
    if (!result.knownCode) child.warn('delivery report with an unknown status code; message kept pending');
    // Duplicates and late reports are logged too: they answer "did the provider report it?".
    const details = { outcome: result.outcome, status: result.status, previous: result.previous };
    child.info(details, result.outcome === 'applied' ? 'delivery report applied' : 'delivery report ignored');
  }

  for (const handler of options.handlers) {
    // request.log is silenced below warn on a route whose path holds a secret, so reports are logged here.
    const log = fastify.log.child({ component: 'webhook', provider: handler.provider });

    const handle = async (request: FastifyRequest<{ Params: { '*'?: string } }>, reply: FastifyReply) => {
      const outcome = await handler.handle({
        method: request.method,
        url: requestUrl(request),
        subpath: request.params['*'] ?? '',
        headers: request.headers,
        body: typeof request.body === 'string' ? request.body : '',
      });
      if (outcome.kind === 'refused') {
        // Worth a warning: a secret or token that differs between the provider and us loses
        // every report. What was presented is not logged: it may be a mistyped real secret.
        log.warn({ reqId: request.id, ip: request.ip, reason: outcome.reason }, 'delivery report refused');
        if (outcome.status === 404) {
          // Exactly what an unknown path gets, so a secret in the path cannot be probed for.
          throw new AppError(ErrorCode.NOT_FOUND, 404, `No route for ${request.method} ${request.url}.`);
        }
        throw new AppError(
          ErrorCode.WEBHOOK_SIGNATURE_INVALID,
          403,
          'The request signature is wrong or missing.',
        );
      }
      if (outcome.kind === 'invalid') throw new AppError(ErrorCode.VALIDATION_ERROR, 400, outcome.message);
      for (const report of outcome.reports) {
        const result = await whileRedisAnswers(() =>
          fastify.statusStore.deliveryReport({
            provider: report.provider,
            messageId: report.providerMessageId,
            status: report.status,
            ...(report.providerStatus === undefined ? {} : { providerStatus: report.providerStatus }),
            ...(report.verificationId === undefined ? {} : { verificationId: report.verificationId }),
          }),
        );
        logReport(log, request.id, report, result);
      }
      const { answer } = outcome;
      reply.code(answer.status);
      if (answer.contentType) reply.type(answer.contentType);
      return reply.send(answer.body ?? '');
    };

    const route = {
      bodyLimit,
      // A GET on a guessed secret must not learn that the path exists.
      config: { answerWrongMethod: false },
      // A path with a secret in it must not reach the access log.
      logLevel: handler.secretInPath ? ('warn' as const) : ('info' as const),
      schema: {
        summary: `${handler.provider} delivery reports`,
        description: `Delivery reports from ${handler.provider}, authenticated and parsed by its package; answered the way ${handler.provider} expects.`,
        tags: ['webhooks'],
        // Each provider answers its own way (JSON, empty, TwiML): no response schema.
        response: errorResponses(WEBHOOK_ROUTE_ERRORS),
      },
    };
    fastify.post(`/webhooks/${handler.provider}`, route, handle);
    fastify.post(
      `/webhooks/${handler.provider}/*`,
      {
        ...route,
        schema: { ...route.schema, params: Type.Object({ '*': Type.String({ maxLength: 256 }) }) },
      },
      handle,
    );
  }
};

export default webhookRoutes;
