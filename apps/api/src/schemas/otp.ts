import { APP_HASH_PATTERN } from '@otp/core';
import Type, { type Static } from 'typebox';

// The old Django serializer used CharField, which also took JSON numbers, so both
// spellings are accepted; anything else (null, booleans, objects) is a VALIDATION_ERROR.
const PhoneNumber = Type.Union([Type.String({ maxLength: 64 }), Type.Integer({ minimum: 0 })], {
  description: 'The phone as typed: "+7 708 804 34 14", "8 (708) 804-34-14", "7088043414", …',
  examples: ['+77088043414'],
});

/** Optional on both calls; the verify must name the purpose the send named. */
const Purpose = Type.String({
  pattern: '^[a-z0-9_-]{1,32}$',
  description:
    'What the code is for, one of OTP_PURPOSES (default login, signup, reset). A code sent with a purpose verifies only with the same purpose (otherwise OTP_INVALID), and the verification_token carries it.',
  examples: ['login'],
});

const Locale = Type.Union([Type.Literal('ru'), Type.Literal('kk'), Type.Literal('en')], {
  description:
    "The SMS text's language: the worker's template for it (SMS_TEMPLATE_RU/_KK/_EN or SMS_TEMPLATES) if one is set. Without it the phone's country picks (KZ → kk, RU → ru), else SMS_TEMPLATE. The answer's `message` follows Accept-Language instead.",
  examples: ['kk'],
});

const AppHash = Type.String({
  pattern: APP_HASH_PATTERN,
  description:
    "Android SMS Retriever: the app's 11-character hash, which then ends the SMS (instead of the OTP_ORIGIN line) so the app reads the code without a permission. An API key may be limited to its own hashes (API_KEY_APP_HASHES).",
  examples: ['FA+9qCX9VSu'],
});

/** Limits of a send's `metadata`; the schema holds the first three, the service the last. */
export const METADATA_LIMITS = {
  maxKeys: 10,
  maxKeyLength: 40,
  maxValueLength: 256,
  maxBytes: 2048,
} as const;

/**
 * The caller's own labels for a send (a user id, a session, a flow), kept with the status
 * record and returned by GET /verifications/:id and in events. Never logged, never on the
 * SMS job. Not for secrets: it is readable by whoever may read the verification.
 */
export const Metadata = Type.Record(
  Type.String({ pattern: `^[A-Za-z0-9_.-]{1,${METADATA_LIMITS.maxKeyLength}}$` }),
  Type.String({ maxLength: METADATA_LIMITS.maxValueLength }),
  {
    maxProperties: METADATA_LIMITS.maxKeys,
    additionalProperties: false,
    description: `Your own labels, returned with the verification and in events: at most ${METADATA_LIMITS.maxKeys} keys of 1-${METADATA_LIMITS.maxKeyLength} characters [A-Za-z0-9_.-], string values of at most ${METADATA_LIMITS.maxValueLength} characters, ${METADATA_LIMITS.maxBytes} bytes in all (as JSON). Not for secrets.`,
    examples: [{ user_id: 'u_1842', flow: 'signup' }],
  },
);
export type Metadata = Static<typeof Metadata>;

export const SendOtpBody = Type.Object(
  {
    phone_number: PhoneNumber,
    purpose: Type.Optional(Purpose),
    metadata: Type.Optional(Metadata),
    locale: Type.Optional(Locale),
    app_hash: Type.Optional(AppHash),
  },
  { additionalProperties: false, examples: [{ phone_number: '8 (708) 804-34-14' }] },
);
export type SendOtpBody = Static<typeof SendOtpBody>;

export const SendOtpResponse = Type.Object({
  message: Type.String({ examples: ['SMS код отправлен успешно'] }),
  phone_number: Type.String({ description: 'E.164', examples: ['+77088043414'] }),
  verification_id: Type.String({ description: 'Follows this code through logs and queues' }),
  expires_in: Type.Integer({ description: 'Seconds the code stays valid', examples: [600] }),
  resend_after: Type.Integer({ description: 'Seconds before another code may be asked for', examples: [60] }),
  resent: Type.Optional(
    Type.Boolean({
      description:
        "True when this SMS carries the code already sent for this verification (same code on resend, OTP_RESEND_SAME_CODE): the verification_id is the earlier one, attempts used stay used, and expires_in is what is left of the code's life. False when a new code was issued.",
      examples: [false],
    }),
  ),
  debug_code: Type.Optional(Type.String({ description: 'Only in debug mode (no Messaggio key configured)' })),
});

export const VerifyOtpBody = Type.Object(
  {
    phone_number: PhoneNumber,
    code: Type.Union([Type.String({ maxLength: 32 }), Type.Integer({ minimum: 0 })], {
      description: 'The code from the SMS',
      examples: ['123456'],
    }),
    purpose: Type.Optional(Purpose),
  },
  { additionalProperties: false, examples: [{ phone_number: '+77088043414', code: '123456' }] },
);
export type VerifyOtpBody = Static<typeof VerifyOtpBody>;

export const VerifyOtpResponse = Type.Object({
  message: Type.String({ examples: ['Код подтвержден'] }),
  phone_number: Type.String({ examples: ['+77088043414'] }),
  verified: Type.Literal(true),
  verification_token: Type.Optional(
    Type.String({
      description:
        'A short-lived JWT (EdDSA or ES256) that other services can trust without calling this one: `sub` is the E.164 phone, `phone_number_verified` is true, `verification_id` (also `jti`) names the verification; `purpose` when the send named one; `iss`, `aud`, `iat`, `exp` as configured. Check it with the keys at GET /.well-known/jwks.json. Absent only from the replay of an Idempotency-Key whose first request never got its answer.',
      examples: [
        'eyJhbGciOiJFZERTQSIsImtpZCI6Ii4uLiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIrNzcwODgwNDM0MTQiLCIuLi4iOjF9.c2ln',
      ],
    }),
  ),
});
