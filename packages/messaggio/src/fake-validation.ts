// Request checks of the fake Messaggio, rule by rule from "What a faithful fake Messaggio must
// do" in docs/messaggio-api.md. Kept apart from the HTTP plumbing so each rule reads on its own.
import { MESSAGGIO_CHANNELS, type ProblemBody } from './wire-format.js';

/** A `/send` body that passed the request-level rules; recipients are checked one by one later. */
export interface ValidSend {
  recipients: { phone: unknown }[];
  sender: string;
  text: string;
  ttl?: number;
  externalId?: string;
  dlrCallbackUrl?: string;
}

export type SendValidation =
  | { ok: true; send: ValidSend }
  | { ok: false; status: 400 | 422; problem: ProblemBody };

// The doc allows 400 or 422 and does not say which rule gets which. The fake answers 400 when
// the body cannot be read at all and 422 when it is JSON with the wrong content, the usual split.
const unreadable = (detail: string): SendValidation => ({
  ok: false,
  status: 400,
  problem: { title: 'Bad Request', detail },
});
const invalid = (detail: string): SendValidation => ({
  ok: false,
  status: 422,
  problem: { title: 'Validation Failed', detail },
});

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const KNOWN_CHANNELS: ReadonlySet<string> = new Set(MESSAGGIO_CHANNELS);

/** Applies the request-level rules to a raw `/send` body. */
export function validateSendBody(rawBody: string): SendValidation {
  let body: unknown;
  try {
    body = JSON.parse(rawBody);
  } catch (err) {
    return unreadable(`The request body is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(body)) return unreadable('The request body must be a JSON object.');

  const { recipients, channels, options } = body;
  if (!Array.isArray(recipients) || recipients.length === 0) {
    return invalid('recipients must be a non-empty array.');
  }
  const badRecipient = recipients.findIndex((recipient) => !isObject(recipient));
  if (badRecipient !== -1) return invalid(`recipients[${badRecipient}] must be an object with a phone.`);

  if (!Array.isArray(channels) || channels.length === 0) {
    return invalid('channels must be a non-empty array.');
  }
  for (const channel of channels) {
    if (typeof channel !== 'string' || !KNOWN_CHANNELS.has(channel)) {
      return invalid(`channels contains an unknown channel ${JSON.stringify(channel)}.`);
    }
    if (!isObject(body[channel])) {
      return invalid(
        `The channel "${channel}" is listed in channels but the request has no ${channel} block.`,
      );
    }
  }
  // Viber, WhatsApp and the rest are accepted by the real service; an OTP fake has no use for them.
  if (!channels.includes('sms')) return invalid('This fake Messaggio only delivers the sms channel.');

  const sms = body.sms as Record<string, unknown>;
  if (typeof sms.from !== 'string' || sms.from === '') return invalid('sms.from is required.');
  if (!Array.isArray(sms.content) || sms.content.length === 0) {
    return invalid('sms.content must be a non-empty array.');
  }
  const texts: string[] = [];
  for (const [index, part] of sms.content.entries()) {
    if (!isObject(part) || part.type !== 'text' || typeof part.text !== 'string' || part.text === '') {
      return invalid(`sms.content[${index}] must be {"type": "text", "text": "<non-empty>"}.`);
    }
    texts.push(part.text);
  }

  const send: ValidSend = {
    recipients: recipients as { phone: unknown }[],
    sender: sms.from,
    text: texts.join(''),
  };
  if (options !== undefined) {
    if (!isObject(options)) return invalid('options must be an object.');
    if (options.ttl !== undefined) {
      if (typeof options.ttl !== 'number' || !Number.isInteger(options.ttl) || options.ttl <= 0) {
        return invalid(
          `options.ttl must be a positive integer number of seconds, got ${JSON.stringify(options.ttl)}.`,
        );
      }
      send.ttl = options.ttl;
    }
    if (options.external_id !== undefined) {
      if (typeof options.external_id !== 'string') return invalid('options.external_id must be a string.');
      send.externalId = options.external_id;
    }
    if (options.dlr_callback_url !== undefined) {
      if (typeof options.dlr_callback_url !== 'string' || !isHttpUrl(options.dlr_callback_url)) {
        return invalid('options.dlr_callback_url must be an http(s) URL.');
      }
      send.dlrCallbackUrl = options.dlr_callback_url;
    }
  }
  return { ok: true, send };
}

const VALID_PHONE = /^\d{10,15}$/;

/** Messaggio wants 10 to 15 digits, country code first; a leading `+` makes it invalid. */
export function isValidPhone(phone: unknown): phone is string {
  return typeof phone === 'string' && VALID_PHONE.test(phone);
}

function isHttpUrl(value: string): boolean {
  try {
    const { protocol } = new URL(value);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}
