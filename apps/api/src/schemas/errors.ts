import { STATUS_CODES } from 'node:http';
import { ErrorCode } from '@otp/core';
import Type, { type TSchema } from 'typebox';
import { ERROR_CODES, ErrorCodeSchema } from './error-codes.js';

/** Every error answer: a stable machine `code` and a sentence for people. */
export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer({ examples: [400] }),
    code: ErrorCodeSchema,
    error: Type.String({ description: 'HTTP reason phrase', examples: ['Bad Request'] }),
    message: Type.String({
      description: 'What went wrong, for people',
      examples: ['This is not a valid phone number.'],
    }),
    attempts_left: Type.Optional(
      Type.Integer({ description: 'With OTP_INVALID: wrong codes still allowed' }),
    ),
    retry_after: Type.Optional(Type.Integer({ description: 'With 429: seconds to wait, as in Retry-After' })),
    status: Type.Optional(
      Type.String({
        description: 'With VERIFICATION_NOT_CANCELABLE: where the verification stands',
        examples: ['verified'],
      }),
    ),
  },
  { $id: 'ErrorResponse' },
);

export const errorRef = Type.Ref('ErrorResponse');

/** Response schemas for the error statuses a route can answer with, all the same shape. */
export function clientErrors<const S extends number>(statuses: readonly S[]): Record<S, typeof errorRef> {
  return Object.fromEntries(statuses.map((status) => [status, errorRef])) as Record<S, typeof errorRef>;
}

/** The example body of one code: the shape every error answer has, with its real extras. */
function exampleBody(code: ErrorCode) {
  const { status, example } = ERROR_CODES[code];
  return {
    statusCode: status,
    code,
    error: STATUS_CODES[status] ?? 'Error',
    message: example,
    ...(code === ErrorCode.OTP_INVALID ? { attempts_left: 2 } : {}),
    ...(code === ErrorCode.VERIFICATION_NOT_CANCELABLE ? { status: 'verified' } : {}),
    ...(status === 429 ? { retry_after: Number(/(\d+) s\b/.exec(example)?.[1] ?? 60) } : {}),
  };
}

/**
 * The error answers of one route, from the codes it can answer (its single source of truth):
 * per status, only those codes, each described, and an example with a code of that status.
 * The body keeps the ErrorResponse shape with `code` narrowed to the status's codes.
 */
export function errorResponses(codes: readonly ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>();
  // In ERROR_CODES order, whatever order the route's list was composed in.
  const wanted = new Set(codes);
  for (const code of (Object.keys(ERROR_CODES) as ErrorCode[]).filter((c) => wanted.has(c))) {
    const { status } = ERROR_CODES[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [
      status,
      {
        description: list.map((code) => `\`${code}\`: ${ERROR_CODES[code].meaning}`).join('\n\n'),
        content: {
          'application/json': {
            schema: Type.Object({
              ...ErrorResponse.properties,
              statusCode: Type.Integer({ enum: [status] }),
              code: Type.Enum(list, {
                description: 'Stable machine-readable error code: branch on it, never on `message`.',
              }),
              error: Type.String({ description: 'HTTP reason phrase' }),
              message: Type.String({ description: 'What went wrong, for people' }),
            }),
            // One example per code, named by it (Swagger UI offers them in a list).
            examples: Object.fromEntries(
              list.map((code) => [code, { summary: ERROR_CODES[code].meaning, value: exampleBody(code) }]),
            ),
          },
        },
      },
    ]),
  ) as Record<number, { description: string; content: { 'application/json': { schema: TSchema } } }>;
}

/** A success schema with the sentence the document shows for it (instead of "Default Response"). */
export function described<S extends TSchema>(schema: S, description: string): S {
  return { ...schema, description };
}
