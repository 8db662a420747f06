import Type, { type Static } from 'typebox';

export const FraudRangeParams = Type.Object({
  range: Type.String({
    pattern: '^\\+?[0-9]{2,15}$',
    description: 'A number range as listed by GET /fraud/blocks, e.g. +7701234 (the + may be left out)',
    examples: ['+7701234'],
  }),
});
export type FraudRangeParams = Static<typeof FraudRangeParams>;

const Timestamp = (description: string) =>
  Type.String({ format: 'date-time', description, examples: ['2026-01-01T12:00:00.000Z'] });

export const FraudBlockSchema = Type.Object({
  range: Type.String({
    description: 'E.164 prefix: country code and FRAUD_PREFIX_DIGITS national digits',
    examples: ['+7701234'],
  }),
  country: Type.String({ description: 'ISO 3166-1 alpha-2', examples: ['KZ'] }),
  mode: Type.Union([Type.Literal('record_only'), Type.Literal('enforce')], {
    description: 'enforce: sends are refused; record_only: the block is only reported',
  }),
  level: Type.Integer({
    minimum: 1,
    description: 'Offence number within FRAUD_ESCALATION_RESET_SECONDS (picks the duration)',
  }),
  blocked_at: Timestamp('When the range was blocked'),
  expires_at: Timestamp('When the block ends by itself'),
  recent_sends: Type.Integer({ description: 'Sends and refused attempts in the last FRAUD_WINDOW_MINUTES' }),
  baseline_sends: Type.Number({ description: "The range's average sends per window over the past day" }),
  sample_sends: Type.Integer({ description: 'Sends old enough to have been verified' }),
  sample_verified: Type.Integer({ description: 'Verifies in the same minutes' }),
});

export const FraudBlocksResponse = Type.Object({
  mode: Type.Union([Type.Literal('off'), Type.Literal('record_only'), Type.Literal('enforce')], {
    description: 'FRAUD_GUARD',
  }),
  blocks: Type.Array(FraudBlockSchema, { description: 'Newest first' }),
});

export const FraudLiftResponse = Type.Object({
  range: Type.String({ examples: ['+7701234'] }),
  lifted: Type.Literal(true),
});
