// Twilio's status callbacks: verified with X-Twilio-Signature, mapped to the neutral delivery
// status. Framework-neutral, so the API mounts it without knowing anything of Twilio.
import type {
  DeliveryReport,
  DeliveryStatus,
  WebhookRequest as SmsWebhookRequest,
  WebhookHandler,
  WebhookOutcome,
} from '@otp/sms';
import { TWILIO } from './errors.js';
import { paramPairs, type TwilioParams, verifyTwilioSignature } from './signature.js';

/**
 * What each `MessageStatus` means for the service. Twilio adds statuses without notice, and a
 * callback's order is not guaranteed (the consumer applies a status only if it advances).
 */
const STATUS_MAP: Readonly<Record<string, DeliveryStatus>> = {
  // Not final: with Twilio, queued for a sender, or with the carrier.
  accepted: 'sent',
  scheduled: 'sent',
  queued: 'sent',
  sending: 'sent',
  sent: 'sent',
  delivered: 'delivered',
  // An RCS/WhatsApp read receipt comes after delivered.
  read: 'delivered',
  undelivered: 'undelivered',
  // Never left Twilio (queue overflow, suspended account, ValidityPeriod expired), or a
  // scheduled message was canceled: it will not arrive either way.
  failed: 'undelivered',
  canceled: 'undelivered',
};

/** The neutral status of a Twilio `MessageStatus`; inbound-only, deprecated and unknown ones are `unknown`. */
export function mapMessageStatus(messageStatus: string): DeliveryStatus {
  return Object.hasOwn(STATUS_MAP, messageStatus) ? (STATUS_MAP[messageStatus] as DeliveryStatus) : 'unknown';
}

export type TwilioSignatureErrorCode = 'TWILIO_SIGNATURE_MISSING' | 'TWILIO_SIGNATURE_INVALID';

/** A callback that does not carry Twilio's signature: answer 403 and change nothing. */
export class TwilioSignatureError extends Error {
  override readonly name = 'TwilioSignatureError' as const;
  readonly code: TwilioSignatureErrorCode;
  /** The HTTP status to answer with. */
  readonly statusCode = 403 as const;

  constructor(code: TwilioSignatureErrorCode) {
    super(
      code === 'TWILIO_SIGNATURE_MISSING'
        ? 'The request has no X-Twilio-Signature header.'
        : 'X-Twilio-Signature does not match the URL and parameters for this Auth Token.',
    );
    this.code = code;
  }
}

export interface StatusCallbackInput {
  authToken: string;
  /** The full public URL Twilio called, or several candidates (see {@link verifyTwilioSignature}). */
  url: string | readonly string[];
  /** The form parameters; the raw body is best. */
  params: TwilioParams;
  /** The `X-Twilio-Signature` header. */
  signature: string | undefined;
}

/**
 * Verifies a status callback and reads it. Throws {@link TwilioSignatureError} when the
 * signature is missing or wrong; returns undefined for a signed callback that names no message
 * or status (nothing to apply, but nothing for Twilio to re-send either).
 */
export function readStatusCallback(input: StatusCallbackInput): DeliveryReport | undefined {
  if (!input.signature) throw new TwilioSignatureError('TWILIO_SIGNATURE_MISSING');
  // Parsed once here, so a raw body is decoded the same way for the signature and the report.
  const pairs = paramPairs(input.params);
  if (!verifyTwilioSignature({ ...input, params: pairs }))
    throw new TwilioSignatureError('TWILIO_SIGNATURE_INVALID');
  const param = (name: string) => pairs.find(([key]) => key === name)?.[1];
  const messageSid = param('MessageSid') ?? param('SmsSid');
  const messageStatus = param('MessageStatus') ?? param('SmsStatus');
  if (!messageSid || !messageStatus) return undefined;
  const errorCode = param('ErrorCode');
  return {
    provider: TWILIO,
    providerMessageId: messageSid,
    status: mapMessageStatus(messageStatus),
    // For logs: `undelivered/30003` says more than either half.
    providerStatus: errorCode ? `${messageStatus}/${errorCode}` : messageStatus,
  };
}

/** A webhook request as any HTTP framework can hand it over. */
export interface WebhookRequest {
  /**
   * The URL Twilio called: absolute (`https://otp.example.com/webhooks/twilio?x=1`), or the
   * request's raw path and query (`/webhooks/twilio?x=1`, e.g. Fastify's `request.url`), which
   * the handler puts after its `publicBaseUrl`.
   */
  url: string;
  /** Header names in any case (Node's are lower case). */
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The raw form body (best), or the framework's parsed form. */
  body: TwilioParams;
}

export interface WebhookResult {
  /** 200 for anything Twilio signed (never make it re-send what will not change); 403 otherwise. */
  status: 200 | 403;
  /** The reports to apply: zero or one for Twilio. */
  reports: DeliveryReport[];
  /** Why nothing was applied, for the log line: a stable code. */
  code?: TwilioSignatureErrorCode | 'TWILIO_WEBHOOK_URL_UNKNOWN' | 'TWILIO_CALLBACK_INCOMPLETE';
}

/**
 * A provider's delivery-report endpoint, framework-neutral: the API mounts `handle` at `path`
 * with a parser for `contentType` that keeps the raw body, answers `status` (no body needed),
 * and applies `reports`.
 */
export interface DeliveryReportWebhook {
  /** The provider's name, as in `DeliveryReport.provider`. */
  readonly name: string;
  /** Where to mount it. */
  readonly path: string;
  /** The request body's media type. */
  readonly contentType: string;
  handle(request: WebhookRequest): WebhookResult;
}

export interface TwilioWebhookOptions {
  /** The account's primary Auth Token: the signing key. */
  authToken: string;
  /**
   * The service's public address (`PUBLIC_BASE_URL`), put in front of a relative request URL,
   * so the signature is checked against the URL Twilio called and not the one a proxy passed
   * on. Path prefixes a proxy strips belong in it too (`https://example.com/otp`).
   * @defaultValue undefined (the request URL must then be absolute)
   */
  publicBaseUrl?: string;
  /**
   * The `StatusCallback` the provider sends (`TWILIO_STATUS_CALLBACK_URL`); also tried, so a
   * proxy that rewrites the path cannot break verification.
   * @defaultValue undefined
   */
  statusCallbackUrl?: string;
}

export const TWILIO_WEBHOOK_PATH = '/webhooks/twilio';

/** The query parameter of a `StatusCallback` that carries our verification id. */
export const CALLBACK_REFERENCE_PARAM = 'otp_ref';

/**
 * The `StatusCallback` for one message: `url` with `otp_ref=<verificationId>` added to its query.
 * Twilio signs the URL with the parameters, so the webhook can trust the reference, and a
 * callback that arrives before the worker recorded the message id still finds its verification.
 */
export function withCallbackReference(url: string, verificationId: string): string {
  const hashAt = url.indexOf('#');
  const base = hashAt === -1 ? url : url.slice(0, hashAt);
  const separator = base.includes('?') ? (base.endsWith('?') || base.endsWith('&') ? '' : '&') : '?';
  return `${base}${separator}${CALLBACK_REFERENCE_PARAM}=${encodeURIComponent(verificationId)}`;
}

/** The `otp_ref` of a callback URL (absolute or path and query), if it has exactly one. */
function callbackReference(url: string): string | undefined {
  const queryAt = url.indexOf('?');
  if (queryAt === -1) return undefined;
  const values = new URLSearchParams(url.slice(queryAt + 1).split('#')[0]).getAll(CALLBACK_REFERENCE_PARAM);
  return values.length === 1 && values[0] ? values[0] : undefined;
}

/**
 * The `StatusCallback` derived from the service's public address when
 * `TWILIO_STATUS_CALLBACK_URL` is not set: `{PUBLIC_BASE_URL}/webhooks/twilio`.
 */
export function twilioStatusCallbackUrl(publicBaseUrl: string): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}${TWILIO_WEBHOOK_PATH}`;
}

/**
 * The `/webhooks/twilio` endpoint as a {@link DeliveryReportWebhook}. Mounted in Fastify, say:
 *
 * ```ts
 * app.addContentTypeParser(webhook.contentType, { parseAs: 'string' }, (_req, body, done) => done(null, body));
 * app.post(webhook.path, async (request, reply) => {
 *   const { status, reports, code } = webhook.handle({ url: request.url, headers: request.headers, body: request.body as string });
 *   if (code) request.log.info({ code }, 'delivery report not applied');
 *   await applyReports(reports); // the status store, keyed by provider:providerMessageId
 *   return reply.code(status).send();
 * });
 * ```
 */
export function createTwilioWebhookHandler(options: TwilioWebhookOptions): DeliveryReportWebhook {
  const { authToken, statusCallbackUrl } = options;
  if (!authToken) throw new TypeError('Twilio webhook: authToken is empty.');
  const publicBase = options.publicBaseUrl?.replace(/\/+$/, '');

  function candidates(requestUrl: string, reference: string | undefined): string[] {
    // The configured URL as the provider sent it: with the same reference, so every URL that
    // can verify carries it, and a reference added to a replayed callback cannot.
    const configured =
      statusCallbackUrl === undefined || reference === undefined
        ? statusCallbackUrl
        : withCallbackReference(statusCallbackUrl, reference);
    const urls = configured === undefined ? [] : [configured];
    if (/^https?:\/\//i.test(requestUrl)) urls.push(requestUrl);
    // String concatenation, not URL resolution: the query must stay encoded exactly as sent.
    else if (publicBase !== undefined)
      urls.push(`${publicBase}${requestUrl.startsWith('/') ? '' : '/'}${requestUrl}`);
    return urls;
  }

  return {
    name: TWILIO,
    path: TWILIO_WEBHOOK_PATH,
    contentType: 'application/x-www-form-urlencoded',
    handle(request) {
      const signature = header(request.headers, 'x-twilio-signature');
      if (!signature) return { status: 403, reports: [], code: 'TWILIO_SIGNATURE_MISSING' };
      const reference = callbackReference(request.url);
      const urls = candidates(request.url, reference);
      if (urls.length === 0) return { status: 403, reports: [], code: 'TWILIO_WEBHOOK_URL_UNKNOWN' };
      try {
        const report = readStatusCallback({ authToken, url: urls, params: request.body, signature });
        if (report === undefined) return { status: 200, reports: [], code: 'TWILIO_CALLBACK_INCOMPLETE' };
        return {
          status: 200,
          reports: [reference === undefined ? report : { ...report, verificationId: reference }],
        };
      } catch (err) {
        if (err instanceof TwilioSignatureError) return { status: 403, reports: [], code: err.code };
        throw err;
      }
    },
  };
}

function header(headers: WebhookRequest['headers'], name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) continue;
    const first = typeof value === 'string' ? value : value?.[0];
    if (first) return first;
  }
  return undefined;
}

/**
 * The `/webhooks/twilio` endpoint in the {@link WebhookHandler} contract the API mounts: a
 * missing or forged signature is refused with 403 and changes nothing; a signed callback is
 * acknowledged 200 with an empty TwiML `<Response/>`, with its report (if any) to apply.
 */
export function createTwilioWebhook(options: TwilioWebhookOptions): WebhookHandler {
  const webhook = createTwilioWebhookHandler(options);
  return {
    provider: webhook.name,
    handle(request: SmsWebhookRequest): WebhookOutcome {
      const result = webhook.handle({ url: request.url, headers: request.headers, body: request.body });
      if (result.status === 403) {
        return { kind: 'refused', status: 403, reason: result.code ?? 'TWILIO_SIGNATURE_INVALID' };
      }
      return {
        kind: 'reports',
        reports: result.reports,
        answer: { status: 200, contentType: 'text/xml', body: '<Response/>' },
      };
    },
  };
}
