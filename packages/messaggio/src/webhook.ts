import { createHash, timingSafeEqual } from 'node:crypto';
import type { DeliveryReport, WebhookHandler } from '@otp/sms';
import Type from 'typebox';
import { Compile } from 'typebox/compile';
import { deliveryStatusOf } from './delivery-report.js';

// Lenient on purpose: Messaggio re-sends anything we refuse for 24 h, so only what we need
// is required and unknown fields are allowed (docs/messaggio-api.md, "Delivery reports").
const StatusCode = Type.Union([Type.Integer(), Type.String({ pattern: '^[0-9]{1,6}$' })]);
const ReportFields = {
  message_id: Type.String({ minLength: 1, maxLength: 128 }),
  external_id: Type.Optional(Type.String({ maxLength: 128 })),
  timestamp: Type.Optional(Type.String({ maxLength: 64 })),
};
/** The webhook form `{type: "status", message_id, external_id, channel, status: 70}`, or the poll's nested `status`. */
const Report = Type.Union([
  Type.Object({
    ...ReportFields,
    type: Type.Optional(Type.String({ maxLength: 32 })),
    channel: Type.Optional(Type.String({ maxLength: 32 })),
    status: StatusCode,
  }),
  Type.Object({
    ...ReportFields,
    status: Type.Object({
      status: StatusCode,
      channel: Type.Optional(Type.String({ maxLength: 32 })),
    }),
  }),
]);
const Body = Compile(Type.Union([Report, Type.Array(Report, { minItems: 1, maxItems: 1000 })]));

export interface MessaggioWebhookOptions {
  /**
   * MESSAGGIO_WEBHOOK_SECRET: the path segment after `/webhooks/messaggio/`. Messaggio signs
   * nothing, so the URL is the only credential.
   */
  secret: string;
  /** The provider's name in the chain. @defaultValue 'messaggio' */
  name?: string;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * Messaggio's delivery reports at `/webhooks/messaggio/<secret>`. A wrong or missing secret
 * gets exactly the 404 an unknown path gets; every well-formed report is acknowledged 200
 * `{"ok":true}` (Messaggio re-sends anything else for 24 h).
 */
export function createMessaggioWebhook(options: MessaggioWebhookOptions): WebhookHandler {
  const provider = options.name ?? 'messaggio';
  const expected = digest(options.secret);
  return {
    provider,
    secretInPath: true,
    handle(request) {
      // Digests of both sides: not even the secret's length leaks through timing.
      if (!timingSafeEqual(digest(request.subpath), expected)) {
        return { kind: 'refused', status: 404, reason: 'wrong or unset webhook secret' };
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(request.body);
      } catch {
        return { kind: 'invalid', message: 'The body is not JSON.' };
      }
      if (!Body.Check(parsed)) {
        return { kind: 'invalid', message: 'The body is not a Messaggio delivery report.' };
      }
      const items = Array.isArray(parsed) ? parsed : [parsed];
      const reports: DeliveryReport[] = items.map((item) => {
        const raw = typeof item.status === 'object' ? item.status.status : item.status;
        const code = Number(raw);
        return {
          provider,
          providerMessageId: item.message_id,
          status: deliveryStatusOf(code),
          providerStatus: String(code),
          ...(item.external_id ? { verificationId: item.external_id } : {}),
        };
      });
      return {
        kind: 'reports',
        reports,
        answer: { status: 200, contentType: 'application/json; charset=utf-8', body: '{"ok":true}' },
      };
    },
  };
}
