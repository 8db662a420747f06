import { STATUS_CODES } from 'node:http';
import { AppError, ErrorCode } from '@otp/core';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { localizedMessage, pickLanguage } from '../i18n/messages.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The stable `code` of the error answer this handler made, for metrics; null otherwise. */
    errorCode: string | null;
  }
  interface FastifyContextConfig {
    /**
     * false: a wrong method on this path answers 404 like an unknown path, not 405 (a path
     * holding a secret must not confirm that it exists). @defaultValue true
     */
    answerWrongMethod?: boolean;
  }
}

interface ErrorBody {
  statusCode: number;
  code: string;
  error: string;
  message: string;
  [extra: string]: unknown;
}

function body(
  statusCode: number,
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
): ErrorBody {
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message, ...extra };
}

/** What any route with a JSON body can answer before its handler runs. */
export const BODY_ERROR_CODES = [
  ErrorCode.VALIDATION_ERROR,
  ErrorCode.PAYLOAD_TOO_LARGE,
  ErrorCode.UNSUPPORTED_MEDIA_TYPE,
] as const;

/** What any route can answer: a bug. */
export const ANY_ROUTE_ERROR_CODES = [ErrorCode.INTERNAL_ERROR] as const;

// Fastify's own request errors, mapped to stable codes clients can branch on.
const FASTIFY_CODES: Record<string, { status: number; code: ErrorCode; message?: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: {
    status: 400,
    code: ErrorCode.VALIDATION_ERROR,
    message: 'The body is not valid JSON.',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    code: ErrorCode.VALIDATION_ERROR,
    message: 'The body is empty; send a JSON object.',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    code: ErrorCode.PAYLOAD_TOO_LARGE,
    message: 'The body is too large.',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    message: 'Send the body as application/json.',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: ErrorCode.VALIDATION_ERROR,
    message: 'Content-Length does not match the body.',
  },
};

/** "body/phone_number must be string" → "phone_number must be a string or a number" and friends. */
function describeValidation(error: FastifyError): string {
  const first = error.validation?.[0];
  if (!first) return error.message;
  const field = first.instancePath.replace(/^\//, '').replaceAll('/', '.');
  switch (first.keyword) {
    case 'required':
      return `${(first.params as { missingProperty?: string }).missingProperty ?? 'a field'} is required`;
    case 'additionalProperties': {
      const name = (first.params as { additionalProperty?: string }).additionalProperty ?? '';
      if (field === 'metadata') {
        return `metadata key "${name.slice(0, 60)}" is not allowed: use 1-40 characters of A-Za-z0-9_.-`;
      }
      return `unknown field ${name}`.trim();
    }
    case 'maxProperties':
      return `${field} has too many keys (at most ${(first.params as { limit?: number }).limit})`;
    case 'type':
    case 'anyOf':
      if (field && (first.params as { type?: string }).type === 'object') return `${field} must be an object`;
      return field ? `${field} must be a string` : 'the body must be a JSON object';
    case 'maxLength':
      return `${field} is too long`;
    default:
      return field ? `${field} ${first.message ?? 'is invalid'}` : (first.message ?? 'invalid request');
  }
}

/** A route URL as a pattern for concrete paths: `/verifications/:id` matches `/verifications/abc`. */
function routePattern(url: string): RegExp {
  const source = url
    .replace(/\/+$/, '')
    .split('/')
    .map((segment) =>
      segment === '*'
        ? '.*'
        : segment.startsWith(':')
          ? '[^/]+'
          : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('/');
  // Routes answer with and without the trailing slash (ignoreTrailingSlash).
  return new RegExp(`^${source}/?$`);
}

/** One place that turns every failure into `{ statusCode, code, error, message }`. */
export default fp(
  async (fastify) => {
    fastify.decorateRequest('errorCode', null);
    fastify.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const answer = errorAnswer(error, request);
      request.errorCode = answer.body.code;
      return reply.code(answer.body.statusCode).headers(answer.headers).send(answer.body);
    });

    function errorAnswer(
      error: FastifyError,
      request: FastifyRequest,
    ): { body: ErrorBody; headers: Record<string, string> } {
      if (error instanceof AppError) {
        // Overload refusals are logged by the overload plugin, at most once a second.
        if (error.statusCode >= 500 && error.code !== ErrorCode.SERVICE_OVERLOADED)
          request.log.error({ err: error.cause ?? error }, error.message);
        // Accept-Language naming ru, kk or en picks the catalog's sentence; otherwise (no
        // header, `*`, other languages) the message stays exactly as it was.
        const language = pickLanguage(request.headers['accept-language']);
        const message =
          language === undefined
            ? error.message
            : (localizedMessage(error.messageKey, language, error.details) ?? error.message);
        return {
          body: body(error.statusCode, error.code, message, error.details),
          headers: error.headers,
        };
      }
      if (error.validation) {
        return { body: body(400, ErrorCode.VALIDATION_ERROR, describeValidation(error)), headers: {} };
      }
      const known = error.code ? FASTIFY_CODES[error.code] : undefined;
      if (known) {
        return { body: body(known.status, known.code, known.message ?? error.message), headers: {} };
      }
      const status = error.statusCode ?? 500;
      if (status < 500) {
        return { body: body(status, ErrorCode.VALIDATION_ERROR, error.message), headers: {} };
      }
      // Never show a 5xx's internals to the client; the log has them.
      request.log.error({ err: error }, 'unhandled error');
      return { body: body(500, ErrorCode.INTERNAL_ERROR, 'Internal server error.'), headers: {} };
    }

    // Every route's path and methods, so a known path with a wrong method answers 405.
    const routes: { pattern: RegExp; methods: string[] }[] = [];
    fastify.addHook('onRoute', (route) => {
      if (route.config?.answerWrongMethod === false) return;
      routes.push({ pattern: routePattern(route.url), methods: [route.method].flat() });
    });

    fastify.setNotFoundHandler((request, reply) => {
      const path = request.url.split('?')[0] ?? '/';
      const allowed = [
        ...new Set(routes.filter((route) => route.pattern.test(path)).flatMap((route) => route.methods)),
      ];
      if (allowed.length > 0) {
        return reply
          .code(405)
          .header('allow', allowed.join(', '))
          .send(
            body(
              405,
              ErrorCode.METHOD_NOT_ALLOWED,
              `${request.method} is not allowed on ${path}; use ${allowed.join(' or ')}.`,
            ),
          );
      }
      return reply
        .code(404)
        .send(body(404, ErrorCode.NOT_FOUND, `No route for ${request.method} ${request.url}.`));
    });
  },
  { name: 'error-handler' },
);
