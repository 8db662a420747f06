// A fake Twilio over real HTTP, so the provider, the worker and local development exercise the
// same wire format, sockets and failure modes the real service has. Follows "What a faithful
// fake Twilio must do" in docs/twilio-api.md.
import { randomBytes } from 'node:crypto';
import { type JsonAnswer, startFakeHttpServer } from '@otp/sms/testing';
import {
  type CallbackMessage,
  createCallbackReporter,
  type FakeCallbackRecord,
  type FakeStatusCallbackOptions,
} from './fake-callbacks.js';
import {
  ACCOUNT_SID,
  API_VERSION,
  type ErrorBody,
  formatTwilioDate,
  MAX_BODY_CHARS,
  MAX_STATUS_CALLBACK_CHARS,
  MESSAGING_SERVICE_SID,
  type MessageStatus,
  VALIDITY_PERIOD,
} from './wire-format.js';

export type { FakeCallbackRecord, FakeStatusCallbackOptions } from './fake-callbacks.js';

/** The fake's account when none is given; `pnpm fake-twilio` prints it. */
export const FAKE_TWILIO_ACCOUNT_SID = `AC${'0'.repeat(32)}`;
export const FAKE_TWILIO_AUTH_TOKEN = 'fake-twilio-auth-token';

/** An account the fake accepts: its SID with its Auth Token, or one of its API keys. */
export interface FakeTwilioAccount {
  accountSid: string;
  authToken: string;
  /** `SK…` key SIDs with their secrets, also accepted as Basic credentials for this account. */
  apiKeys?: Array<{ sid: string; secret: string }>;
}

/** How the fake behaves. */
export interface FakeTwilioOptions {
  /** @defaultValue one account: {@link FAKE_TWILIO_ACCOUNT_SID} with {@link FAKE_TWILIO_AUTH_TOKEN} */
  accounts?: FakeTwilioAccount[];
  /**
   * `From` values this account owns; any other gets 21606.
   * @defaultValue undefined (any E.164 number or alphanumeric ID, except the magic numbers)
   */
  senders?: string[];
  /**
   * Messaging Service SIDs this account has; any other gets 21705.
   * @defaultValue undefined (any `MG` + 32 hex)
   */
  messagingServices?: string[];
  /**
   * The code for a `ValidityPeriod` out of range: the docs name both 21624 and 90007
   * (unconfirmed which one the 2010 API uses).
   * @defaultValue 21624
   */
  validityPeriodErrorCode?: 21624 | 90007;
  /** @defaultValue 0 (a free port) */
  port?: number;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /**
   * Signed status callbacks to each message's `StatusCallback`.
   * @defaultValue false
   */
  statusCallbacks?: boolean | FakeStatusCallbackOptions;
  /**
   * Called once per created message, e.g. so the standalone fake can print the code.
   * @defaultValue undefined
   */
  onAccepted?: (message: FakeTwilioMessage) => void;
}

/** One HTTP request the fake received, with what it did about it. */
export interface FakeTwilioRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  rawBody: string;
  /** The form, decoded (`%2B` is `+`, a bare `+` a space); empty unless the body was a form. */
  form: Record<string, string>;
  receivedAt: Date;
  response: { status: number; body: unknown } | 'dropped' | 'hung';
}

/** One created message, as the fake's Message resource holds it. */
export interface FakeTwilioMessage {
  sid: string;
  accountSid: string;
  to: string;
  /** null until a Messaging Service picks a sender. */
  from: string | null;
  messagingServiceSid: string | null;
  body: string;
  statusCallback?: string;
  validityPeriod?: number;
  /** The current status; moves on as callbacks go out. */
  status: MessageStatus;
  errorCode: number | null;
  numSegments: number;
  dateCreated: Date;
  dateUpdated: Date;
}

/** A misbehaviour for the next sends, for tests of the caller's error handling. */
export type FakeTwilioFailure =
  /**
   * An error answer in Twilio's shape. `code` defaults by status (401 → 20003, 404 → 20404,
   * 429 → 20429, 500 → 20500, 503 → 20503, else 20001). A 500 creates the message first, as a
   * real one may ("a message may exist"); `createsMessage` overrides that.
   */
  | {
      kind: 'status';
      status: number;
      code?: number;
      message?: string;
      retryAfterSeconds?: number;
      createsMessage?: boolean;
    }
  /** Never answers (until close). */
  | { kind: 'hang' }
  /** Destroys the socket without answering. */
  | { kind: 'drop' };

/** A running fake Twilio. */
export interface FakeTwilio {
  /** e.g. http://127.0.0.1:PORT — what TWILIO_BASE_URL should be. */
  readonly baseUrl: string;
  readonly port: number;
  /** Every request received, in order; one appears once the fake has decided its answer. */
  readonly requests: readonly FakeTwilioRequest[];
  /** Every created message, in order. */
  readonly messages: readonly FakeTwilioMessage[];
  /** Every status callback POSTed, with the answer it got. */
  readonly callbacks: readonly FakeCallbackRecord[];
  /** Queue the next N sends' behaviour; after they are used up it behaves normally. */
  failNext(count: number, failure: FakeTwilioFailure): void;
  /** A behaviour for all sends until reset(). Queued failNext answers go first. */
  setMode(mode: FakeTwilioFailure | 'normal'): void;
  /** Added latency per request in ms. */
  setLatency(ms: number): void;
  /**
   * Resolves once `requests.length` (or `messages.length` with `{ createdOnly: true }`) reaches
   * n; rejects after timeoutMs (default 5000) naming what it got, or when the fake closes.
   */
  waitForRequests(n: number, options?: { timeoutMs?: number; createdOnly?: boolean }): Promise<void>;
  /** Resolves once `callbacks.length` reaches n; rejects like {@link waitForRequests}. */
  waitForCallbacks(n: number, options?: { timeoutMs?: number }): Promise<void>;
  /** Clears requests, messages, callbacks, queued failures, mode and latency. */
  reset(): void;
  /** Closes the server, destroys hung sockets, stops callbacks. Idempotent. */
  close(): Promise<void>;
}

const E164_LOOSE = /^\+\d{1,15}$/;
const ALPHANUMERIC_ID = /^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$/;
const MESSAGES_PATH = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/;
const MESSAGE_PATH = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\/([^/]+)\.json$/;
const DEFAULT_CODES: Record<number, number> = { 401: 20003, 404: 20404, 429: 20429, 500: 20500, 503: 20503 };
/** The sender a Messaging Service "picks" from its pool. */
const SERVICE_POOL_NUMBER = '+15017122661';

/** Twilio's test credentials' magic numbers [TEST, as listed by MAGIC]. */
const MAGIC_TO: Record<string, number> = {
  '+15005550001': 21211,
  '+15005550002': 21612,
  '+15005550003': 21408,
  '+15005550004': 21610,
  '+15005550009': 21614,
};
const MAGIC_FROM: Record<string, number> = {
  '+15005550001': 21212,
  '+15005550007': 21606,
  '+15005550008': 21611,
};

const ERROR_MESSAGES: Record<number, string> = {
  20001: 'Fake Twilio was told to fail.',
  20003: 'Authenticate',
  20004: 'Method not allowed',
  20404: 'The requested resource was not found',
  20429: 'Too Many Requests',
  20500: 'Internal Server Error',
  20503: 'Service Unavailable',
  21211: "The 'To' number is not a valid phone number.",
  21212: "The 'From' number is not a valid phone number, shortcode, or alphanumeric sender ID.",
  21408: 'Permission to send an SMS has not been enabled for the region indicated by the To number.',
  21602: 'Message body is required.',
  21603: "A 'From' or 'MessagingServiceSid' parameter is required to send a message.",
  21604: "A 'To' phone number is required.",
  21606:
    "The 'From' phone number provided is not a valid message-capable Twilio phone number for this destination/account.",
  21609: "Invalid 'StatusCallback'.",
  21610: 'Attempt to send to unsubscribed recipient.',
  21611: "This 'From' number has exceeded the maximum number of queued messages.",
  21612: "The 'To' phone number is not currently reachable using the 'From' phone number via SMS.",
  21614: "'To' number is not a valid mobile number.",
  21617: 'The concatenated message body exceeds the 1600 character limit.',
  21624: "Invalid 'ValidityPeriod'.",
  90007: 'Invalid ValidityPeriod value.',
  21705: 'The Messaging Service Sid is invalid.',
};

type Answer = JsonAnswer;
type Outcome = Answer | 'dropped' | 'hung';

interface Waiter {
  done: () => boolean;
  describe: () => string;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

function twilioError(status: number, code: number, message?: string): Answer {
  return {
    status,
    body: {
      code,
      message: message ?? ERROR_MESSAGES[code] ?? `Fake Twilio error ${code}.`,
      more_info: `https://www.twilio.com/docs/errors/${code}`,
      status,
    } satisfies ErrorBody,
  };
}

/** Segments as Twilio bills them: GSM-7 160/153 septets, else UCS-2 70/67 code units. */
export function countSegments(body: string): number {
  if (body.length === 0) return 0;
  const septets = gsm7Septets(body);
  if (septets !== undefined) return septets <= 160 ? 1 : Math.ceil(septets / 153);
  return body.length <= 70 ? 1 : Math.ceil(body.length / 67);
}

const GSM7_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM7_EXTENDED = '^{}\\[~]|€\f';

function gsm7Septets(body: string): number | undefined {
  let septets = 0;
  for (const char of body) {
    if (GSM7_BASIC.includes(char)) septets += 1;
    else if (GSM7_EXTENDED.includes(char)) septets += 2;
    else return undefined;
  }
  return septets;
}

function resource(message: FakeTwilioMessage): Record<string, unknown> {
  const uri = `/${API_VERSION}/Accounts/${message.accountSid}/Messages/${message.sid}`;
  return {
    sid: message.sid,
    account_sid: message.accountSid,
    status: message.status,
    to: message.to,
    from: message.from,
    body: message.body,
    num_segments: String(
      message.messagingServiceSid !== null && message.from === null ? 0 : message.numSegments,
    ),
    num_media: '0',
    direction: 'outbound-api',
    api_version: API_VERSION,
    error_code: message.errorCode,
    error_message: null,
    price: null,
    price_unit: 'USD',
    date_created: formatTwilioDate(message.dateCreated),
    date_sent: null,
    date_updated: formatTwilioDate(message.dateUpdated),
    messaging_service_sid: message.messagingServiceSid,
    uri: `${uri}.json`,
    subresource_uris: { media: `${uri}/Media.json` },
  };
}

/** Starts a fake Twilio and resolves once it listens. */
export async function createFakeTwilio(options: FakeTwilioOptions = {}): Promise<FakeTwilio> {
  const accounts = options.accounts ?? [
    { accountSid: FAKE_TWILIO_ACCOUNT_SID, authToken: FAKE_TWILIO_AUTH_TOKEN },
  ];
  for (const account of accounts) {
    if (!ACCOUNT_SID.test(account.accountSid)) {
      throw new TypeError(
        `Fake Twilio: "${account.accountSid}" is not an Account SID ("AC" and 32 hex digits).`,
      );
    }
  }
  const senders = options.senders === undefined ? undefined : new Set(options.senders);
  const services = options.messagingServices === undefined ? undefined : new Set(options.messagingServices);
  const host = options.host ?? '127.0.0.1';
  const reporter = createCallbackReporter(options.statusCallbacks);

  const requests: FakeTwilioRequest[] = [];
  const messages: FakeTwilioMessage[] = [];
  const failures: FakeTwilioFailure[] = [];
  const waiters = new Set<Waiter>();
  const closing = new AbortController();
  let mode: FakeTwilioFailure | 'normal' = 'normal';
  let latencyMs = 0;

  function notify(): void {
    for (const waiter of waiters) {
      if (waiter.done()) {
        clearTimeout(waiter.timer);
        waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }
  reporter.onRecord(notify);

  /** The account the Basic credentials belong to, if any. */
  function authenticate(headers: FakeTwilioRequest['headers']): FakeTwilioAccount | undefined {
    const value = headers.authorization;
    if (typeof value !== 'string' || !/^Basic /i.test(value)) return undefined;
    const decoded = Buffer.from(value.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    return accounts.find(
      (account) =>
        (account.accountSid === user && account.authToken === password) ||
        (account.apiKeys ?? []).some((key) => key.sid === user && key.secret === password),
    );
  }

  function create(account: FakeTwilioAccount, form: Record<string, string>, to: string): FakeTwilioMessage {
    const serviceOnly = form.From === undefined;
    const now = new Date();
    const message: FakeTwilioMessage = {
      sid: `SM${randomBytes(16).toString('hex')}`,
      accountSid: account.accountSid,
      to,
      from: form.From ?? null,
      messagingServiceSid: form.MessagingServiceSid ?? null,
      body: form.Body ?? '',
      status: serviceOnly ? 'accepted' : 'queued',
      errorCode: null,
      numSegments: countSegments(form.Body ?? ''),
      dateCreated: now,
      dateUpdated: now,
    };
    if (form.StatusCallback !== undefined) message.statusCallback = form.StatusCallback;
    if (form.ValidityPeriod !== undefined) message.validityPeriod = Number(form.ValidityPeriod);
    messages.push(message);
    options.onAccepted?.(message);
    const callbackMessage: CallbackMessage = {
      sid: message.sid,
      accountSid: account.accountSid,
      authToken: account.authToken,
      to,
      from: message.from ?? SERVICE_POOL_NUMBER,
      messagingServiceSid: message.messagingServiceSid,
      initialStatus: message.status,
      advance(status, errorCode) {
        if (message.from === null) message.from = SERVICE_POOL_NUMBER;
        message.status = status;
        message.errorCode = errorCode;
        message.dateUpdated = new Date();
      },
      ...(message.statusCallback === undefined ? {} : { statusCallback: message.statusCallback }),
    };
    reporter.schedule(callbackMessage);
    return message;
  }

  /** The checks of a send, in an order Twilio does not document; the first failure answers. */
  function validate(form: Record<string, string>): number | undefined {
    const { To: to, From: from, MessagingServiceSid: service, Body: body } = form;
    if (to === undefined || to === '') return 21604;
    if (!E164_LOOSE.test(to) || to === from) return 21211;
    if (!from && !service) return 21603;
    if (from) {
      const magic = MAGIC_FROM[from];
      if (magic !== undefined) return magic;
      if (!E164_LOOSE.test(from) && !ALPHANUMERIC_ID.test(from)) return 21212;
      if (senders !== undefined && !senders.has(from)) return 21606;
    }
    if (service !== undefined) {
      if (!MESSAGING_SERVICE_SID.test(service) || (services !== undefined && !services.has(service)))
        return 21705;
    }
    if (body === undefined || body === '') return 21602;
    if (body.length > MAX_BODY_CHARS) return 21617;
    if (form.StatusCallback !== undefined && !validCallback(form.StatusCallback)) return 21609;
    if (form.ValidityPeriod !== undefined) {
      const seconds = Number(form.ValidityPeriod);
      if (
        !/^\d+$/.test(form.ValidityPeriod) ||
        seconds < VALIDITY_PERIOD.min ||
        seconds > VALIDITY_PERIOD.max
      ) {
        return options.validityPeriodErrorCode ?? 21624;
      }
    }
    return MAGIC_TO[to];
  }

  function answerSend(record: Omit<FakeTwilioRequest, 'response'>, account: FakeTwilioAccount): Outcome {
    const failure = failures.shift() ?? (mode === 'normal' ? undefined : mode);
    // Infrastructure trouble strikes before the request is looked at, as at a load balancer.
    if (failure?.kind === 'hang') return 'hung';
    if (failure?.kind === 'drop') return 'dropped';
    const code = validate(record.form);
    if (failure?.kind === 'status') {
      const failCode = failure.code ?? DEFAULT_CODES[failure.status] ?? 20001;
      // "A message may exist" after a 500: the caller cannot know, and must cope with a duplicate.
      if ((failure.createsMessage ?? failure.status === 500) && code === undefined) {
        create(account, record.form, record.form.To ?? '');
      }
      const answer = twilioError(failure.status, failCode, failure.message);
      if (failure.retryAfterSeconds !== undefined) {
        answer.headers = { 'Retry-After': String(failure.retryAfterSeconds) };
      }
      return answer;
    }
    // Like Twilio's, the 21211 and 21614 messages quote the number.
    if (code === 21211 || code === 21614) {
      const quoted = record.form.To ?? '';
      return twilioError(
        400,
        code,
        code === 21211
          ? `The 'To' number ${quoted} is not a valid phone number.`
          : `'To' number ${quoted} is not a valid mobile number.`,
      );
    }
    if (code !== undefined) return twilioError(400, code);
    const message = create(account, record.form, record.form.To ?? '');
    return { status: 201, body: resource(message) };
  }

  function route(record: Omit<FakeTwilioRequest, 'response'>): Outcome {
    const list = MESSAGES_PATH.exec(record.path);
    const one = MESSAGE_PATH.exec(record.path);
    if (!list && !one) return twilioError(404, 20404);
    const pathSid = decodeURIComponent((list ?? one)?.[1] ?? '');
    const account = authenticate(record.headers);
    // A path SID other than the authenticated account's: Twilio's answer is unconfirmed; a 401
    // keeps a client from ever reading another account's messages.
    if (account === undefined || account.accountSid !== pathSid) return twilioError(401, 20003);
    if (list) {
      if (record.method !== 'POST') return { ...twilioError(405, 20004), headers: { Allow: 'POST' } };
      return answerSend(record, account);
    }
    if (record.method !== 'GET') return { ...twilioError(405, 20004), headers: { Allow: 'GET' } };
    const sid = decodeURIComponent(one?.[2] ?? '');
    const message = messages.find((candidate) => candidate.sid === sid && candidate.accountSid === pathSid);
    return message === undefined ? twilioError(404, 20404) : { status: 200, body: resource(message) };
  }

  const http = await startFakeHttpServer({
    host,
    port: options.port,
    latencyMs: () => latencyMs,
    closing: closing.signal,
    tooLarge: (message) => twilioError(413, 20001, message),
    answer(request) {
      // Only form bodies are read: a JSON body has no To, as error 21604 lists [ERR 21604].
      const isForm = /^application\/x-www-form-urlencoded\b/i.test(request.headers['content-type'] ?? '');
      const record = {
        ...request,
        form: isForm ? Object.fromEntries(new URLSearchParams(request.rawBody)) : {},
      };
      const outcome = route(record);
      requests.push({
        ...record,
        response: typeof outcome === 'string' ? outcome : { status: outcome.status, body: outcome.body },
      });
      return outcome;
    },
    answered: notify,
  });
  const { port, urlHost } = http;

  function waitFor(done: () => boolean, describe: () => string, timeoutMs: number): Promise<void> {
    if (done()) return Promise.resolve();
    if (closing.signal.aborted) return Promise.reject(new Error('Fake Twilio is closed.'));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        done,
        describe,
        resolve,
        reject,
        timer: setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`Fake Twilio: waited ${timeoutMs} ms for ${describe()}.`));
        }, timeoutMs),
      };
      waiters.add(waiter);
    });
  }

  let closed: Promise<void> | undefined;

  return {
    baseUrl: `http://${urlHost}:${port}`,
    port,
    get requests() {
      return requests;
    },
    get messages() {
      return messages;
    },
    get callbacks() {
      return reporter.callbacks;
    },
    failNext(count, failure) {
      for (let i = 0; i < count; i++) failures.push(failure);
    },
    setMode(next) {
      mode = next;
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    waitForRequests(n, waitOptions = {}) {
      const createdOnly = waitOptions.createdOnly ?? false;
      return waitFor(
        () => (createdOnly ? messages.length : requests.length) >= n,
        () =>
          `${n} ${createdOnly ? 'created messages' : 'requests'}, got ${requests.length} requests and ${messages.length} messages`,
        waitOptions.timeoutMs ?? 5000,
      );
    },
    waitForCallbacks(n, waitOptions = {}) {
      return waitFor(
        () => reporter.callbacks.length >= n,
        () => `${n} status callbacks, got ${reporter.callbacks.length}`,
        waitOptions.timeoutMs ?? 5000,
      );
    },
    reset() {
      requests.length = 0;
      messages.length = 0;
      failures.length = 0;
      mode = 'normal';
      latencyMs = 0;
      reporter.reset();
    },
    close() {
      closed ??= (async () => {
        closing.abort();
        for (const waiter of waiters) {
          clearTimeout(waiter.timer);
          waiter.reject(new Error(`Fake Twilio closed while waiting for ${waiter.describe()}.`));
        }
        waiters.clear();
        await Promise.all([http.close(), reporter.close()]);
      })();
      return closed;
    },
  };
}

function validCallback(url: string): boolean {
  if (url.length > MAX_STATUS_CALLBACK_CHARS) return false;
  try {
    const parsed = new URL(url);
    return (parsed.protocol === 'http:' || parsed.protocol === 'https:') && !parsed.hostname.includes('_');
  } catch {
    return false;
  }
}
