// Messaggio's JSON shapes, shared by the client and the fake so the two cannot drift apart.
// Source of truth: docs/messaggio-api.md.
import Type, { type Static } from 'typebox';

/** Channels Messaggio knows; each one listed in `channels` needs a block of the same name. */
export const MESSAGGIO_CHANNELS = ['sms', 'viber', 'whatsapp', 'vk', 'flashcall'] as const;

/** The body of `POST {base}/send` for one SMS, in the order the doc lists the fields. */
export interface SendBody {
  recipients: { phone: string }[];
  channels: string[];
  options?: { ttl?: number; external_id?: string; dlr_callback_url?: string };
  sms: { from: string; content: { type: 'text'; text: string }[] };
}

/** One `messages[]` entry of a 200: a `message_id`, or an `error` for a rejected recipient. */
export const SendResultEntrySchema = Type.Object({
  recipient: Type.Optional(Type.Object({ phone: Type.String() })),
  message_id: Type.Optional(Type.String({ minLength: 1 })),
  error: Type.Optional(
    Type.Object({ title: Type.Optional(Type.String()), detail: Type.Optional(Type.String()) }),
  ),
});
export type SendResultEntry = Static<typeof SendResultEntrySchema>;

/**
 * A 200 from `/send`. `accepted_at` is optional here on purpose: when a message_id came back the
 * SMS is on its way, and failing over a missing timestamp would only make the worker re-send it.
 */
export const SendResultSchema = Type.Object({
  accepted_at: Type.Optional(Type.String()),
  messages: Type.Array(SendResultEntrySchema, { minItems: 1 }),
});
export type SendResult = Static<typeof SendResultSchema>;

/** Request-level error body (`{title, detail}`), used by every non-200 answer. */
export interface ProblemBody {
  title: string;
  detail: string;
}

/** Delivery report status codes from the doc. Any other code means "still pending". */
export const DLR_STATUS = {
  ACCEPTED: 200,
  SENT_TO_OPERATOR: 100,
  DELIVERED: 70,
  NOT_DELIVERED: 60,
  CHANNEL_UNAVAILABLE: 91,
} as const;

/** A delivery report in the webhook form Messaggio POSTs to the callback URL. */
export interface DeliveryReportWebhookBody {
  type: 'status';
  message_id: string;
  external_id?: string;
  channel: string;
  status: number;
  timestamp: string;
}

/** A delivery report in the nested form of the batch status poll; receivers accept both. */
export interface DeliveryReportPollBody {
  message_id: string;
  external_id?: string;
  status: { status: number; channel: string; recipient: { phone: string } };
  timestamp: string;
}

/**
 * Messaggio's timestamp format, e.g. `2026-08-14T10-51-42Z`: ISO 8601 with hyphens in the time
 * and no fraction. The fake produces it so consumers learn to treat it as an opaque string.
 */
export function formatMessaggioTimestamp(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/T(\d{2}):(\d{2}):(\d{2})/, 'T$1-$2-$3');
}
