import Type from 'typebox';
import { ErrorCodeSchema } from './error-codes.js';

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
  },
  { $id: 'ErrorResponse' },
);

export const errorRef = Type.Ref('ErrorResponse');

/** Response schemas for the error statuses a route can answer with, all the same shape. */
export function clientErrors<const S extends number>(statuses: readonly S[]): Record<S, typeof errorRef> {
  return Object.fromEntries(statuses.map((status) => [status, errorRef])) as Record<S, typeof errorRef>;
}
