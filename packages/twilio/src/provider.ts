import { STATUS_CODES } from 'node:http';
import {
  createHttpClient,
  type HttpAnswer,
  SmsError,
  type SmsErrorScope,
  type SmsMessage,
  type SmsProvider,
  type SmsReceipt,
  withDeadline,
} from '@otp/sms';
import { Compile } from 'typebox/compile';
import { classifyTwilioError, parseRetryAfter, TWILIO, type TwilioErrorCode } from './errors.js';
import { withCallbackReference } from './status-callback.js';
import {
  ACCOUNT_SID,
  E164,
  type ErrorBody,
  MAX_BODY_CHARS,
  MAX_STATUS_CALLBACK_CHARS,
  MESSAGING_SERVICE_SID,
  MessageResourceSchema,
  messagesPath,
  type SendForm,
  VALIDITY_PERIOD,
} from './wire-format.js';

/** How to reach Twilio Programmable Messaging. */
export interface TwilioProviderOptions {
  /** `AC` + 32 hex; the user name of HTTP Basic and part of every path. */
  accountSid: string;
  /** The account's Auth Token. Never logged, never in error messages. */
  authToken: string;
  /**
   * The sender: a number, short code or alphanumeric ID hosted in this account. At least one of
   * `from` and `messagingServiceSid`; with both, `from` must be in the service's pool.
   */
  from?: string;
  /** `MG` + 32 hex: Twilio picks the sender from the service's pool. */
  messagingServiceSid?: string;
  /**
   * Regional hosts take region-specific credentials; tests point it at the fake.
   * @defaultValue 'https://api.twilio.com'
   */
  baseUrl?: string;
  /**
   * Sent as `StatusCallback` with every message, so delivery reports come to it. It is also the
   * URL Twilio signs, so it must be the public URL exactly as the verifier will see it.
   * @defaultValue undefined (no callbacks, unless the Messaging Service has one)
   */
  statusCallbackUrl?: string;
  /**
   * Adds the message's verification id to its `StatusCallback` (`?otp_ref=<id>`, see
   * {@link withCallbackReference}). The URL is signed, so the webhook can trust it and find the
   * verification even when a callback beats the worker's record of the message id.
   * @defaultValue false
   */
  referenceInCallback?: boolean;
  /**
   * Per-request timeout, covering the response body as well as the headers.
   * @defaultValue 10000
   */
  timeoutMs?: number;
  /**
   * Keep-alive connections to Twilio at most; the worker passes its concurrency.
   * @defaultValue 10
   */
  connections?: number;
  /**
   * For tests: requests go through this fetch instead of the provider's connection pool.
   * @defaultValue undefined (the pool)
   */
  fetch?: typeof fetch;
}

/** Twilio as an {@link SmsProvider}. */
export interface TwilioProvider extends SmsProvider {
  readonly name: typeof TWILIO;
  /**
   * Sends one SMS (`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`). Throws
   * {@link SmsError} on every failure it understands; an abort through `signal` rejects with
   * the signal's reason instead, since the caller chose to stop.
   */
  send(message: SmsMessage, options?: { signal?: AbortSignal }): Promise<SmsReceipt>;
  /** Closes the provider's connections once the requests in flight are answered. */
  close(): Promise<void>;
}

export const DEFAULT_TWILIO_BASE_URL = 'https://api.twilio.com';
const DEFAULT_TIMEOUT_MS = 10_000;
const checkMessage = Compile(MessageResourceSchema);

/** Builds the provider with a pool of keep-alive connections; {@link TwilioProvider.close} closes them. */
export function createTwilioProvider(options: TwilioProviderOptions): TwilioProvider {
  const { accountSid, authToken, from, messagingServiceSid, statusCallbackUrl } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const baseUrl = options.baseUrl ?? DEFAULT_TWILIO_BASE_URL;
  // Configuration mistakes surface at start-up, naming the option, never echoing a secret.
  if (!ACCOUNT_SID.test(accountSid ?? '')) {
    throw new TypeError(
      'Twilio provider: accountSid must be the Account SID, "AC" and 32 hex digits (an API key SID "SK…" is not one).',
    );
  }
  if (!authToken) throw new TypeError('Twilio provider: authToken is empty.');
  if (!from && !messagingServiceSid) {
    throw new TypeError(
      'Twilio provider: set from (a sender of this account) or messagingServiceSid, or both.',
    );
  }
  if (messagingServiceSid !== undefined && !MESSAGING_SERVICE_SID.test(messagingServiceSid)) {
    throw new TypeError('Twilio provider: messagingServiceSid must be "MG" and 32 hex digits.');
  }
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError(`Twilio provider: timeoutMs must be a positive number, got ${timeoutMs}.`);
  }
  let base: URL;
  try {
    base = new URL(baseUrl);
  } catch {
    throw new TypeError(`Twilio provider: baseUrl is not a URL: "${baseUrl}".`);
  }
  if (statusCallbackUrl !== undefined) checkStatusCallbackUrl(statusCallbackUrl);

  const { origin } = base;
  const basic = Buffer.from(`${accountSid}:${authToken}`).toString('base64');
  const path = `${base.pathname.replace(/\/+$/, '')}${messagesPath(accountSid)}`;
  // What error messages say instead of the path, which carries the Account SID.
  const where = `POST ${origin}/2010-04-01/Accounts/…/Messages.json`;

  // No retries here: they belong to the worker, which owns backoff, the attempt budget and
  // failover; a second layer would multiply duplicate SMS (Messages have no idempotency key).
  const http = createHttpClient({ origin, connections: options.connections, fetch: options.fetch });
  const headers = {
    // The 2010 API answers XML unless asked otherwise; `.json` in the path and this header ask.
    accept: 'application/json',
    authorization: `Basic ${basic}`,
    'content-type': 'application/x-www-form-urlencoded;charset=UTF-8',
  };

  const redactSecrets = (text: string): string =>
    [authToken, basic, accountSid].reduce((out, secret) => out.split(secret).join('[redacted]'), text);

  /** Twilio's own words may echo the request; credentials, the number and the text stay out. */
  function redact(text: string, message: SmsMessage): string {
    let out = redactSecrets(text);
    if (message.text.length >= 4) out = out.split(message.text).join('[the message text]');
    const digits = message.phone.replace(/^\+/, '');
    if (digits.length >= 4) out = out.split(digits).join('[the To number]');
    return out.replace(/\+\[the To number\]/g, '[the To number]');
  }

  async function post(form: URLSearchParams, signal: AbortSignal | undefined): Promise<HttpAnswer> {
    // The deadline covers the response body as well as the headers, so a stalled body cannot
    // hang a worker.
    const deadline = withDeadline(signal, timeoutMs);
    try {
      return await http.post(path, { headers, body: form.toString(), signal: deadline.signal });
    } catch (err) {
      if (signal?.aborted) throw signal.reason ?? err;
      if (deadline.expired) {
        throw smsError('transient', 'TWILIO_TIMEOUT', {
          message: `Twilio did not answer ${where} within ${timeoutMs} ms; the message may still have been created.`,
        });
      }
      // Only the socket-level error becomes the cause: fetch's wrappers may carry the request,
      // whose Authorization header a logger serializing causes could print.
      const root = innermostError(err);
      throw smsError('transient', 'TWILIO_NETWORK', {
        message: `Could not reach Twilio for ${where}: ${redactSecrets(describeNetworkError(root))}.`,
        cause: root,
      });
    } finally {
      deadline.done();
    }
  }

  function httpError(exchange: HttpAnswer, message: SmsMessage): SmsError {
    const body = parseErrorBody(exchange.text);
    const { scope, code, summary, destinationOnly } = classifyTwilioError(exchange.status, body.code);
    const retryAfterMs = parseRetryAfter(exchange.retryAfter);
    const statusLine = `${exchange.status} ${STATUS_CODES[exchange.status] ?? ''}`.trim();
    const twilioSaid =
      body.code === undefined
        ? 'no Twilio error code in the body'
        : `Twilio error ${body.code}${body.message === undefined ? '' : `: ${redact(body.message, message)}`}` +
          ` (https://www.twilio.com/docs/errors/${body.code})`;
    const retryHint = retryAfterMs === undefined ? '' : `; retry after ${Math.ceil(retryAfterMs / 1000)} s`;
    return smsError(scope, code, {
      status: exchange.status,
      ...(destinationOnly ? { destinationOnly } : {}),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      message: `${summary} (${statusLine})${retryHint}: ${twilioSaid}`,
    });
  }

  return {
    name: TWILIO,
    async send(message, callOptions) {
      const form = buildForm(message, {
        from,
        messagingServiceSid,
        ...(statusCallbackUrl === undefined
          ? {}
          : {
              statusCallbackUrl: options.referenceInCallback
                ? withCallbackReference(statusCallbackUrl, message.verificationId)
                : statusCallbackUrl,
            }),
      });
      const signal = callOptions?.signal;
      // Nothing goes out for a caller that already stopped.
      if (signal?.aborted) throw signal.reason;
      const exchange = await post(new URLSearchParams({ ...form }), signal);
      if (exchange.status < 200 || exchange.status > 299) throw httpError(exchange, message);

      const resource = parseJson(exchange.text);
      if (!checkMessage.Check(resource)) {
        // Transient like a timeout: the SMS may exist, but a duplicate OTP is harmless and a
        // lost one is not.
        throw smsError('transient', 'TWILIO_BAD_RESPONSE', {
          status: exchange.status,
          message: `Twilio answered ${exchange.status} to ${where} but the body is not a Message resource with a sid; the message may have been created.`,
        });
      }
      return { provider: TWILIO, providerMessageId: resource.sid };
    },

    close: () => http.close(),
  };
}

function smsError(
  scope: SmsErrorScope,
  code: TwilioErrorCode,
  init: {
    message: string;
    status?: number;
    retryAfterMs?: number;
    destinationOnly?: boolean;
    cause?: unknown;
  },
): SmsError {
  return new SmsError({ provider: TWILIO, scope, code, ...init });
}

function checkStatusCallbackUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`Twilio provider: statusCallbackUrl is not a URL: "${url}".`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new TypeError('Twilio provider: statusCallbackUrl must be an http(s) URL.');
  }
  // Twilio refuses these with 21609 on every send; better to hear it at start-up.
  if (parsed.hostname.includes('_')) {
    throw new TypeError('Twilio provider: statusCallbackUrl must not have an underscore in its host name.');
  }
  if (url.length > MAX_STATUS_CALLBACK_CHARS) {
    throw new TypeError(
      `Twilio provider: statusCallbackUrl is longer than ${MAX_STATUS_CALLBACK_CHARS} characters.`,
    );
  }
}

function buildForm(
  message: SmsMessage,
  sender: { from?: string; messagingServiceSid?: string; statusCallbackUrl?: string },
): SendForm {
  // Refused locally, as Twilio would refuse them for good (21211, 21602, 21617) after a round trip.
  if (!E164.test(message.phone)) throw invalidRequest('the phone must be E.164 (+ and up to 15 digits)');
  if (message.text.length === 0) throw invalidRequest('the text is empty');
  if (message.text.length > MAX_BODY_CHARS) {
    throw invalidRequest(`the text is longer than ${MAX_BODY_CHARS} characters`);
  }
  const form: SendForm = { To: message.phone, Body: message.text };
  if (sender.from) form.From = sender.from;
  if (sender.messagingServiceSid) form.MessagingServiceSid = sender.messagingServiceSid;
  if (sender.statusCallbackUrl) form.StatusCallback = sender.statusCallbackUrl;
  // The code's remaining life: an SMS that arrives after the code expired is worse than none.
  if (Number.isFinite(message.ttlSeconds) && message.ttlSeconds > 0) {
    const seconds = Math.min(
      VALIDITY_PERIOD.max,
      Math.max(VALIDITY_PERIOD.min, Math.ceil(message.ttlSeconds)),
    );
    form.ValidityPeriod = String(seconds);
  }
  return form;
}

function invalidRequest(reason: string): SmsError {
  return smsError('message', 'TWILIO_INVALID_REQUEST', {
    message: `Refused to send an SMS through Twilio: ${reason}.`,
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function parseErrorBody(text: string): { code?: number; message?: string } {
  const parsed = parseJson(text);
  if (typeof parsed !== 'object' || parsed === null) return {};
  const { code, message } = parsed as Partial<Record<keyof ErrorBody, unknown>>;
  return {
    ...(typeof code === 'number' && Number.isSafeInteger(code) ? { code } : {}),
    ...(typeof message === 'string' ? { message } : {}),
  };
}

/**
 * undici hides the useful part ("ECONNREFUSED", "other side closed") in `cause`, under
 * fetch's wrapper: the first error down the chain that names a system code, else the last.
 */
function innermostError(err: unknown): Error {
  if (!(err instanceof Error)) return new Error(String(err));
  let innermost: Error = err;
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    innermost = e;
    if (systemCode(e) !== undefined) return e;
  }
  return innermost;
}

function systemCode(err: Error): string | undefined {
  const code = (err as NodeJS.ErrnoException).code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) ? code : undefined;
}

function describeNetworkError(err: Error): string {
  const code = systemCode(err);
  return code === undefined ? err.message : `${code} (${err.message})`;
}
