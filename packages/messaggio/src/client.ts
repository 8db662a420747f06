import { STATUS_CODES } from 'node:http';
import { createHttpClient, type HttpAnswer, withDeadline } from '@otp/sms';
import { Compile } from 'typebox/compile';
import { classifyStatus, MessaggioError, type MessaggioErrorCode, parseRetryAfter } from './errors.js';
import { type SendBody, type SendResultEntry, SendResultSchema } from './wire-format.js';

/** How to reach Messaggio. */
export interface MessaggioClientOptions {
  /** Base URL incl. /api/v1, e.g. https://msg.messaggio.com/api/v1 (trailing slash tolerated). */
  baseUrl: string;
  /** Project login sent as the `Messaggio-Login` header. Never logged, never in error messages. */
  login: string;
  /**
   * Per-request timeout, covering the response body as well as the headers.
   * @defaultValue 10000
   */
  timeoutMs?: number;
  /**
   * Keep-alive connections to Messaggio at most; the worker passes its concurrency.
   * @defaultValue 10
   */
  connections?: number;
  /**
   * For tests: requests go through this fetch instead of the client's connection pool.
   * @defaultValue undefined (the pool)
   */
  fetch?: typeof fetch;
}

/** One SMS to one phone. */
export interface SendSmsRequest {
  /** E.164 with or without '+'; the client sends digits only, as Messaggio wants. */
  phone: string;
  /** sms.from — the sender code for API. */
  sender: string;
  text: string;
  /** options.external_id — the verification id, comes back in DLRs. */
  externalId?: string;
  /** options.ttl, whole seconds. */
  ttlSeconds?: number;
  /** options.dlr_callback_url */
  dlrCallbackUrl?: string;
}

/** What Messaggio said when it accepted the SMS. */
export interface SendSmsResult {
  /** Keep it: delivery reports are keyed by it. */
  messageId: string;
  /** Messaggio's `accepted_at`, an opaque string such as `2026-08-14T10-51-42Z`. */
  acceptedAt: string;
  /** Digits as Messaggio echoed them. */
  phone: string;
}

/** The Messaggio HTTP API, as far as an OTP service needs it. */
export interface MessaggioClient {
  /**
   * Sends one SMS. Throws {@link MessaggioError} on every failure; an abort through `signal`
   * rejects with the signal's reason instead, since the caller chose to stop.
   */
  send(req: SendSmsRequest, options?: { signal?: AbortSignal }): Promise<SendSmsResult>;
  /**
   * Reachability probe for diagnostics: POSTs /send with an empty JSON object {} and returns the
   * HTTP status and parsed {title, detail} (a 400/422 means "reachable and the login is
   * accepted", 403 means "login rejected"). Throws MessaggioError MESSAGGIO_TIMEOUT /
   * MESSAGGIO_NETWORK when it cannot connect.
   */
  probe(options?: { signal?: AbortSignal }): Promise<{ status: number; title?: string; detail?: string }>;
  /** Closes the client's connections once the requests in flight are answered. */
  close(): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const E164_DIGITS = /^\+?(\d+)$/;
const checkSendResult = Compile(SendResultSchema);

/** Builds a client with a pool of keep-alive connections; {@link MessaggioClient.close} closes them. */
export function createMessaggioClient(options: MessaggioClientOptions): MessaggioClient {
  const { login } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!login) throw new TypeError('Messaggio client: the project login is empty.');
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError(`Messaggio client: timeoutMs must be a positive number, got ${timeoutMs}.`);
  }
  let base: URL;
  try {
    base = new URL(options.baseUrl);
  } catch {
    throw new TypeError(`Messaggio client: baseUrl is not a URL: "${options.baseUrl}".`);
  }
  const { origin } = base;
  const prefix = base.pathname.replace(/\/+$/, '');
  // No retries here: they belong to the BullMQ worker, which owns backoff and the attempt
  // budget; a second layer would multiply duplicate SMS after timeouts.
  const http = createHttpClient({ origin, connections: options.connections, fetch: options.fetch });
  const headers = {
    accept: 'application/json',
    'content-type': 'application/json',
    'messaggio-login': login,
  };

  // Messaggio may echo what it was sent, and the login is a credential.
  const redact = (text: string | undefined): string | undefined =>
    text === undefined ? undefined : text.split(login).join('[redacted]');

  async function post(path: string, json: unknown, signal: AbortSignal | undefined): Promise<HttpAnswer> {
    // The deadline covers the response body as well as the headers, so a stalled body cannot
    // hang a worker.
    const deadline = withDeadline(signal, timeoutMs);
    try {
      return await http.post(`${prefix}/${path}`, {
        headers,
        body: JSON.stringify(json),
        signal: deadline.signal,
      });
    } catch (err) {
      if (signal?.aborted) throw signal.reason ?? err;
      if (deadline.expired) {
        throw new MessaggioError({
          code: 'MESSAGGIO_TIMEOUT',
          retryable: true,
          message: `Messaggio did not answer POST /${path} within ${timeoutMs} ms; the SMS may still have been sent.`,
          cause: err,
        });
      }
      throw new MessaggioError({
        code: 'MESSAGGIO_NETWORK',
        retryable: true,
        message: `Could not reach Messaggio at ${origin} for POST /${path}: ${describeNetworkError(err)}.`,
        cause: err,
      });
    } finally {
      deadline.done();
    }
  }

  function httpError(exchange: HttpAnswer): MessaggioError {
    const { code, retryable } = classifyStatus(exchange.status);
    const problem = parseProblem(exchange.text);
    const title = redact(problem.title);
    const detail = redact(problem.detail);
    const retryAfterMs = parseRetryAfter(exchange.retryAfter);
    const statusLine = `${exchange.status} ${STATUS_CODES[exchange.status] ?? ''}`.trim();
    const said = [title, detail].filter(Boolean).join(': ') || 'no title or detail in the body';
    const retryHint = retryAfterMs === undefined ? '' : `; retry after ${Math.ceil(retryAfterMs / 1000)} s`;
    return new MessaggioError({
      code,
      retryable,
      status: exchange.status,
      retryAfterMs,
      title,
      detail,
      message: `${HTTP_ERROR_SUMMARY[code]} (${statusLine})${retryHint}: ${said}`,
    });
  }

  return {
    async send(req, callOptions) {
      const body = buildSendBody(req);
      const exchange = await post('send', body, callOptions?.signal);
      if (exchange.status < 200 || exchange.status > 299) throw httpError(exchange);

      const result = readSendResult(exchange.text);
      if (typeof result === 'string') {
        // Retryable like any malformed 2xx (see classifyStatus): a duplicate OTP is harmless, a lost one is not.
        throw new MessaggioError({
          code: 'MESSAGGIO_BAD_RESPONSE',
          retryable: true,
          status: exchange.status,
          message: `Messaggio answered ${exchange.status} but the body is not a send result (${result}); the SMS may have been sent.`,
        });
      }
      const { entry } = result;
      if (entry.message_id === undefined) {
        const title = redact(entry.error?.title);
        const detail = redact(entry.error?.detail);
        const said = [title, detail].filter(Boolean).join(': ') || 'no reason given';
        throw new MessaggioError({
          code: 'MESSAGGIO_RECIPIENT_REJECTED',
          retryable: false,
          status: exchange.status,
          title,
          detail,
          message: `Messaggio rejected the recipient: ${said}`,
        });
      }
      return {
        messageId: entry.message_id,
        // Never observed missing; the local time keeps a delivered SMS from being reported as failed.
        acceptedAt: result.acceptedAt ?? new Date().toISOString(),
        phone: entry.recipient?.phone ?? body.recipients[0]?.phone ?? '',
      };
    },

    async probe(callOptions) {
      const exchange = await post('send', {}, callOptions?.signal);
      const { title, detail } = parseProblem(exchange.text);
      return {
        status: exchange.status,
        ...(title === undefined ? {} : { title: redact(title) }),
        ...(detail === undefined ? {} : { detail: redact(detail) }),
      };
    },

    close: () => http.close(),
  };
}

const HTTP_ERROR_SUMMARY: Record<MessaggioErrorCode, string> = {
  MESSAGGIO_TIMEOUT: 'Messaggio did not answer in time',
  MESSAGGIO_NETWORK: 'Could not reach Messaggio',
  MESSAGGIO_RATE_LIMITED: 'Messaggio is rate limiting our sends',
  MESSAGGIO_SERVER_ERROR: 'Messaggio had a server error',
  MESSAGGIO_REQUEST_TIMEOUT: 'Messaggio timed out reading our request',
  MESSAGGIO_BAD_REQUEST: 'Messaggio rejected the request as invalid',
  MESSAGGIO_UNAUTHORIZED: 'Messaggio refused the request as unauthenticated',
  MESSAGGIO_NO_BALANCE: 'Messaggio refused to send because the account balance is used up',
  MESSAGGIO_FORBIDDEN: 'Messaggio rejected the login',
  MESSAGGIO_NOT_FOUND: 'Messaggio has no such endpoint; check that the base URL ends in /api/v1',
  MESSAGGIO_RECIPIENT_REJECTED: 'Messaggio rejected the recipient',
  MESSAGGIO_BAD_RESPONSE: 'Messaggio answered with a body that is not a send result',
  MESSAGGIO_HTTP_ERROR: 'Messaggio answered with an unexpected HTTP status',
};

function buildSendBody(req: SendSmsRequest): SendBody {
  const digits = E164_DIGITS.exec(req.phone)?.[1];
  // Refused locally: these are programming errors, and Messaggio would reject them permanently anyway.
  if (digits === undefined) {
    throw invalidRequest('the phone must be E.164 digits with an optional leading +');
  }
  if (req.ttlSeconds !== undefined && (!Number.isInteger(req.ttlSeconds) || req.ttlSeconds <= 0)) {
    throw invalidRequest(`ttlSeconds must be a positive whole number, got ${req.ttlSeconds}`);
  }
  const options: NonNullable<SendBody['options']> = {};
  if (req.ttlSeconds !== undefined) options.ttl = req.ttlSeconds;
  if (req.externalId !== undefined) options.external_id = req.externalId;
  if (req.dlrCallbackUrl !== undefined) options.dlr_callback_url = req.dlrCallbackUrl;
  return {
    recipients: [{ phone: digits }],
    channels: ['sms'],
    ...(Object.keys(options).length > 0 ? { options } : {}),
    sms: { from: req.sender, content: [{ type: 'text', text: req.text }] },
  };
}

function invalidRequest(reason: string): MessaggioError {
  return new MessaggioError({
    code: 'MESSAGGIO_BAD_REQUEST',
    retryable: false,
    message: `Refused to send an SMS through Messaggio: ${reason}.`,
  });
}

/** The first `messages[]` entry of a 2xx (we send one recipient), or why the body is not a send result. */
function readSendResult(text: string): { entry: SendResultEntry; acceptedAt?: string } | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text === '' ? 'empty body' : 'not JSON';
  }
  if (!checkSendResult.Check(parsed)) return 'no messages[] with entries';
  const entry = parsed.messages[0];
  if (entry === undefined || (entry.message_id === undefined && entry.error === undefined)) {
    return 'the entry has neither message_id nor error';
  }
  return { entry, acceptedAt: parsed.accepted_at };
}

function parseProblem(text: string): { title?: string; detail?: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null) return {};
  const { title, detail } = parsed as Record<string, unknown>;
  return {
    ...(typeof title === 'string' ? { title } : {}),
    ...(typeof detail === 'string' ? { detail } : {}),
  };
}

/** undici hides the useful part ("ECONNREFUSED", "other side closed") in `cause`. */
function describeNetworkError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // fetch's TypeError ("fetch failed") wraps the socket error: report the innermost error that
  // names a system code, else the innermost message.
  let innermost: Error = err;
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    innermost = e;
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return `${code} (${e.message})`;
  }
  return innermost.message;
}
