import Type, { type Static } from 'typebox';

// Lenient on purpose: Messaggio re-sends anything we refuse for 24 h, so only what we need
// is required and unknown fields are allowed (docs/messaggio-api.md, "Delivery reports").
const StatusCode = Type.Union([Type.Integer(), Type.String({ pattern: '^[0-9]{1,6}$' })], {
  description:
    'Messaggio delivery status: 200, 100 pending; 70 delivered; 60 not delivered; 91 channel unavailable',
});

const ReportFields = {
  message_id: Type.String({ minLength: 1, maxLength: 128 }),
  external_id: Type.Optional(Type.String({ maxLength: 128 })),
  timestamp: Type.Optional(Type.String({ maxLength: 64 })),
};

/** The webhook form: `{type: "status", message_id, external_id, channel, status: 70, timestamp}`. */
export const DeliveryReportWebhook = Type.Object({
  ...ReportFields,
  type: Type.Optional(Type.String({ maxLength: 32 })),
  channel: Type.Optional(Type.String({ maxLength: 32 })),
  status: StatusCode,
});

/** The status poll's nested form: `{message_id, status: {status: 70, channel, recipient}}`. */
export const DeliveryReportPoll = Type.Object({
  ...ReportFields,
  status: Type.Object({
    status: StatusCode,
    channel: Type.Optional(Type.String({ maxLength: 32 })),
    recipient: Type.Optional(Type.Object({ phone: Type.Optional(Type.String({ maxLength: 32 })) })),
  }),
});

export const DeliveryReport = Type.Union([DeliveryReportWebhook, DeliveryReportPoll]);
export type DeliveryReport = Static<typeof DeliveryReport>;

export const DeliveryReportBody = Type.Union([
  DeliveryReport,
  Type.Array(DeliveryReport, { minItems: 1, maxItems: 1000 }),
]);
export type DeliveryReportBody = Static<typeof DeliveryReportBody>;

export const WebhookParams = Type.Object({ secret: Type.String({ maxLength: 256 }) });

export const WebhookAck = Type.Object({ ok: Type.Literal(true) });
