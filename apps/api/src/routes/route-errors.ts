import { ErrorCode } from '@otp/core';
import { API_KEY_ERROR_CODES } from '../plugins/api-keys.js';
import { ANY_ROUTE_ERROR_CODES, BODY_ERROR_CODES } from '../plugins/error-handler.js';
import { IDEMPOTENCY_ERROR_CODES } from '../plugins/idempotency.js';
import { CANCEL_ERROR_CODES, SEND_ERROR_CODES, VERIFY_ERROR_CODES } from '../services/otp-service.js';
import { REDIS_ERROR_CODES } from '../services/redis-errors.js';

/**
 * Every error `code` each route can answer, composed from the lists kept next to the code
 * that raises them (hooks, body parsing, services). The one source for the route's error
 * responses in the OpenAPI document (schemas/errors.ts errorResponses) and for the test that
 * holds the document to it. Provider webhooks, one pair of routes per configured provider, share WEBHOOK_ROUTE_ERRORS.
 * Wrong methods (405) and unknown paths (404) belong to no route:
 * the document's description names them.
 */
export const ROUTE_ERRORS = {
  'POST /send-otp/': [
    ...BODY_ERROR_CODES,
    ...API_KEY_ERROR_CODES,
    ...IDEMPOTENCY_ERROR_CODES,
    ...SEND_ERROR_CODES,
    ...ANY_ROUTE_ERROR_CODES,
  ],
  'POST /verify-otp/': [
    ...BODY_ERROR_CODES,
    ...API_KEY_ERROR_CODES,
    ...VERIFY_ERROR_CODES,
    ...ANY_ROUTE_ERROR_CODES,
  ],
  'GET /verifications/{id}': [
    ErrorCode.VALIDATION_ERROR,
    ...API_KEY_ERROR_CODES,
    ErrorCode.VERIFICATION_NOT_FOUND,
    ...REDIS_ERROR_CODES,
    ...ANY_ROUTE_ERROR_CODES,
  ],
  'POST /verifications/{id}/cancel': [
    ErrorCode.VALIDATION_ERROR,
    ...API_KEY_ERROR_CODES,
    ErrorCode.VERIFICATION_NOT_FOUND,
    ...CANCEL_ERROR_CODES,
    ...ANY_ROUTE_ERROR_CODES,
  ],
  'GET /.well-known/jwks.json': [...REDIS_ERROR_CODES, ...ANY_ROUTE_ERROR_CODES],
  'GET /health/live': [...ANY_ROUTE_ERROR_CODES],
  'GET /health/ready': [...REDIS_ERROR_CODES, ...ANY_ROUTE_ERROR_CODES],
  // Admin credentials when configured.
  'GET /metrics': [ErrorCode.UNAUTHORIZED, ...ANY_ROUTE_ERROR_CODES],
  // Admin credentials always (404 without any configured).
  'GET /fraud/blocks': [
    ErrorCode.UNAUTHORIZED,
    ErrorCode.NOT_FOUND,
    ...REDIS_ERROR_CODES,
    ...ANY_ROUTE_ERROR_CODES,
  ],
  'DELETE /fraud/blocks/{range}': [
    ErrorCode.VALIDATION_ERROR,
    ErrorCode.UNAUTHORIZED,
    ErrorCode.NOT_FOUND,
    ...REDIS_ERROR_CODES,
    ...ANY_ROUTE_ERROR_CODES,
  ],
} as const satisfies Record<string, readonly ErrorCode[]>;

/**
 * What every provider webhook (`POST /webhooks/<provider>` and `/webhooks/<provider>/*`, one
 * pair per configured provider) can answer: a wrong secret in the path is answered exactly
 * like an unknown path, a wrong or missing signature with 403.
 */
export const WEBHOOK_ROUTE_ERRORS = [
  ErrorCode.NOT_FOUND,
  ErrorCode.WEBHOOK_SIGNATURE_INVALID,
  ...BODY_ERROR_CODES,
  ...REDIS_ERROR_CODES,
  ...ANY_ROUTE_ERROR_CODES,
] as const satisfies readonly ErrorCode[];

export type RouteWithErrors = keyof typeof ROUTE_ERRORS;
