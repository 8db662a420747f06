// Twilio's wire shapes, shared by the client and the fake so the two cannot drift apart.
// Source of truth: docs/twilio-api.md.
import Type, { type Static } from 'typebox';

/** The 2010 API's version segment; also the `ApiVersion` of every status callback. */
export const API_VERSION = '2010-04-01';

/** The path of the Messages list of one account: POST creates, GET …/{Sid}.json reads one. */
export function messagesPath(accountSid: string): string {
  return `/${API_VERSION}/Accounts/${encodeURIComponent(accountSid)}/Messages.json`;
}

/** `AC` + 32 hex: the account SID Twilio puts in every path. */
export const ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;
/** `MG` + 32 hex. */
export const MESSAGING_SERVICE_SID = /^MG[0-9a-fA-F]{32}$/;
/** E.164: `+`, a country code that does not start with 0, at most 15 digits in all. */
export const E164 = /^\+[1-9]\d{1,14}$/;
/** `Body` holds at most this many characters [OAI]. */
export const MAX_BODY_CHARS = 1600;
/** `ValidityPeriod` range in seconds [OAI]. */
export const VALIDITY_PERIOD = { min: 1, max: 36_000 } as const;
/** `StatusCallback` length limit [ERR 21609]. */
export const MAX_STATUS_CALLBACK_CHARS = 4000;

/** The form fields of a send, as this client uses them. */
export interface SendForm {
  To: string;
  Body: string;
  From?: string;
  MessagingServiceSid?: string;
  StatusCallback?: string;
  ValidityPeriod?: string;
}

/**
 * The part of the Message resource (201 to a send, 200 to a GET) the client relies on. Twilio
 * warns that `error_code`/`error_message` keep changing, so nothing is built on them.
 */
export const MessageResourceSchema = Type.Object({
  sid: Type.String({ minLength: 1 }),
  status: Type.Optional(Type.String()),
});
export type MessageResource = Static<typeof MessageResourceSchema>;

/** The JSON body of every error answer; Twilio's own clients read these fields. */
export interface ErrorBody {
  code: number;
  message: string;
  more_info: string;
  status: number;
}

/** `MessageStatus` values Twilio documents for outbound messages (callbacks and resources). */
export const MESSAGE_STATUSES = [
  'accepted',
  'scheduled',
  'queued',
  'sending',
  'sent',
  'delivered',
  'undelivered',
  'failed',
  'canceled',
  'read',
  'receiving',
  'received',
  'partially_delivered',
] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/** Twilio's date format: RFC 2822 in GMT, e.g. `Thu, 24 Aug 2023 05:01:45 +0000`. */
export function formatTwilioDate(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '+0000');
}
