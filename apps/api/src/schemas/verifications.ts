import { FAILURE_CODES, VERIFICATION_STATUSES } from '@otp/core';
import Type, { type Static } from 'typebox';
import { Metadata } from './otp.js';

export const VerificationParams = Type.Object({
  id: Type.String({
    minLength: 1,
    maxLength: 64,
    pattern: '^[A-Za-z0-9-]+$',
    description: 'The verification_id from POST /send-otp/',
  }),
});
export type VerificationParams = Static<typeof VerificationParams>;

const Timestamp = (description: string) =>
  Type.String({ format: 'date-time', description, examples: ['2026-01-01T12:00:00.000Z'] });

export const VerificationResponse = Type.Object({
  verification_id: Type.String(),
  status: Type.Enum(VERIFICATION_STATUSES, {
    description:
      'queued → sending → sent → delivered | undelivered, or failed; verified once the code is used; canceled by POST /verifications/{id}/cancel; expired once the code ran out first (derived, never for verified, failed or canceled)',
  }),
  phone_number: Type.String({ description: 'Masked', examples: ['+7708***3414'] }),
  country: Type.String({ description: 'ISO 3166-1 alpha-2', examples: ['KZ'] }),
  created_at: Timestamp('When the API accepted the send'),
  updated_at: Timestamp('The last change'),
  expires_at: Timestamp('When the code stops working'),
  attempts: Type.Integer({ description: 'Delivery attempts the worker started', minimum: 0 }),
  provider: Type.Optional(
    Type.String({
      description: 'The SMS provider that carried it, once one accepted it',
      examples: ['messaggio'],
    }),
  ),
  provider_message_id: Type.Optional(Type.String({ description: "That provider's message id" })),
  failure_reason: Type.Optional(
    Type.String({ description: 'A fixed description of failure_code (never the provider’s own text)' }),
  ),
  failure_code: Type.Optional(
    Type.Enum(Object.keys(FAILURE_CODES), {
      description: 'Why delivery was given up, when it was: a stable code',
      examples: ['SMS_REJECTED'],
    }),
  ),
  metadata: Type.Optional(Metadata),
  reached_at: Type.Object(
    Object.fromEntries(
      VERIFICATION_STATUSES.map((status) => [status, Type.Optional(Timestamp(`When it became ${status}`))]),
    ),
    { description: 'When each status was first reached; only those reached are present' },
  ),
});
export type VerificationResponse = Static<typeof VerificationResponse>;
