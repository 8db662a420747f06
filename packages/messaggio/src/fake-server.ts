// A fake Messaggio over real HTTP, so the client, the worker and local development exercise the
// same wire format, sockets and failure modes the real service has (docs/messaggio-api.md).
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { type JsonAnswer, parseJsonOrUndefined, startFakeHttpServer } from '@otp/sms/testing';
import { createDeliveryReporter, type DeliveryReportOptions } from './fake-delivery-reports.js';
import { isValidPhone, validateSendBody } from './fake-validation.js';
import { formatMessaggioTimestamp, type ProblemBody, type SendResultEntry } from './wire-format.js';

export type { DeliveryReportOptions } from './fake-delivery-reports.js';

/** How the fake behaves. */
export interface FakeMessaggioOptions {
  /**
   * Accepted Messaggio-Login values.
   * @defaultValue ['test-login']
   */
  logins?: string[];
  /**
   * Approved sender codes; a send from any other is rejected. Empty/undefined = any sender accepted.
   * @defaultValue undefined (any sender)
   */
  senders?: string[];
  /** @defaultValue 0 (random free port) */
  port?: number;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /**
   * Delivery reports: when on, after accepting it POSTs 200, 100, then 70 (or 60 for phones
   * listed in undeliverable) to options.dlr_callback_url; retries each report until it gets HTTP
   * 200 (bounded: small interval, max tries), stops on close().
   * @defaultValue false
   */
  deliveryReports?: boolean | DeliveryReportOptions;
  /**
   * Called once per accepted SMS, e.g. so the standalone fake can print the code.
   * @defaultValue undefined
   */
  onAccepted?: (message: FakeSentMessage) => void;
}

/** One HTTP request the fake received, with what it did about it. */
export interface FakeRequestRecord {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The parsed JSON body, or undefined when the body was empty or not JSON. */
  body: unknown;
  rawBody: string;
  receivedAt: Date;
  response: { status: number; body: unknown } | 'dropped' | 'hung';
}

/** One accepted SMS. */
export interface FakeSentMessage {
  /** Digits, as sent. */
  phone: string;
  text: string;
  sender: string;
  externalId?: string;
  messageId: string;
  ttl?: number;
  dlrCallbackUrl?: string;
}

/** A misbehaviour for `/send`, for tests of the caller's error handling. */
export type FakeFailure =
  /** e.g. 500, 429 with Retry-After, 402; the body is `{title, detail}`. */
  | { kind: 'status'; status: number; title?: string; detail?: string; retryAfterSeconds?: number }
  /** Never answers (until close). */
  | { kind: 'hang' }
  /** Destroys the socket without answering. */
  | { kind: 'drop' }
  /** 200 with a per-recipient error for every recipient. */
  | { kind: 'reject-recipient'; title?: string; detail?: string }
  /** The sender is "not approved". */
  | { kind: 'reject-sender' };

/** A running fake Messaggio. */
export interface FakeMessaggio {
  /** e.g. http://127.0.0.1:PORT/api/v1 — what MESSAGGIO_BASE_URL should be. */
  readonly baseUrl: string;
  readonly port: number;
  /** Every request received, in order (including rejected ones). A request appears once the fake has decided its answer. */
  readonly requests: readonly FakeRequestRecord[];
  /** Only accepted sends, one entry per accepted recipient. */
  readonly sent: readonly FakeSentMessage[];
  /** Queue the next N /send answers' behaviour; after they are used up it behaves normally. */
  failNext(count: number, mode: FakeFailure): void;
  /** Set a behaviour for all sends until reset(). Queued failNext answers go first. */
  setMode(mode: FakeFailure | 'normal'): void;
  /** Added latency per request in ms. */
  setLatency(ms: number): void;
  /**
   * Resolves when `requests.length` (or `sent.length` with `{ acceptedOnly: true }`) reaches n;
   * rejects after timeoutMs (default 5000) with a clear message, or when the fake closes.
   */
  waitForRequests(n: number, options?: { timeoutMs?: number; acceptedOnly?: boolean }): Promise<void>;
  /** Clears requests, sent, queued failures, mode and latency. */
  reset(): void;
  /** Closes the server, destroys hung sockets, cancels DLR timers. Idempotent. */
  close(): Promise<void>;
}

const SEND_PATH = '/api/v1/send';
const STATUSES_PATH = '/api/v1/statuses';

type Answer = JsonAnswer;
type Outcome = Answer | 'dropped' | 'hung';

interface Waiter {
  n: number;
  acceptedOnly: boolean;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

const problem = (status: number, title: string, detail: string): Answer => ({
  status,
  body: { title, detail } satisfies ProblemBody,
});

/** Starts a fake Messaggio and resolves once it listens. */
export async function createFakeMessaggio(options: FakeMessaggioOptions = {}): Promise<FakeMessaggio> {
  const logins = new Set(options.logins ?? ['test-login']);
  const senders = options.senders && options.senders.length > 0 ? new Set(options.senders) : undefined;
  const host = options.host ?? '127.0.0.1';
  const reporter = createDeliveryReporter(options.deliveryReports);

  const requests: FakeRequestRecord[] = [];
  const sent: FakeSentMessage[] = [];
  const failures: FakeFailure[] = [];
  const waiters = new Set<Waiter>();
  const closing = new AbortController();
  let mode: FakeFailure | 'normal' = 'normal';
  let latencyMs = 0;

  function notify(): void {
    for (const waiter of waiters) {
      if ((waiter.acceptedOnly ? sent.length : requests.length) >= waiter.n) {
        clearTimeout(waiter.timer);
        waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  function answerSend(record: Omit<FakeRequestRecord, 'response'>): Outcome {
    const failure = failures.shift() ?? (mode === 'normal' ? undefined : mode);
    // Infrastructure trouble strikes before the request is even looked at, as it would at a
    // load balancer; the semantic rejections below need a valid request first.
    if (failure?.kind === 'hang') return 'hung';
    if (failure?.kind === 'drop') return 'dropped';
    if (failure?.kind === 'status') {
      const answer = problem(
        failure.status,
        failure.title ?? STATUS_CODES[failure.status] ?? 'Error',
        failure.detail ?? `Fake Messaggio was told to answer ${failure.status}.`,
      );
      if (failure.retryAfterSeconds !== undefined) {
        answer.headers = { 'Retry-After': String(failure.retryAfterSeconds) };
      }
      return answer;
    }

    const login = record.headers['messaggio-login'];
    if (typeof login !== 'string' || login === '') {
      return problem(403, 'Forbidden', 'The Messaggio-Login header is missing.');
    }
    // The detail never echoes the value: it is a credential, and a fake should not teach otherwise.
    if (!logins.has(login))
      return problem(403, 'Forbidden', 'The Messaggio-Login header is not a known project login.');

    const validation = validateSendBody(record.rawBody);
    if (!validation.ok) return { status: validation.status, body: validation.problem };
    const { send } = validation;

    // The doc only says senders must be approved first, not how a refusal looks; a 400 naming the
    // sender is the most plausible reading and is permanent for the client either way.
    if (failure?.kind === 'reject-sender' || (senders && !senders.has(send.sender))) {
      return problem(
        400,
        `Sender "${send.sender}" is not approved`,
        `The sender code "${send.sender}" is not approved for this project; approve it in the Messaggio dashboard.`,
      );
    }

    const messages: SendResultEntry[] = send.recipients.map(({ phone }) => {
      const recipient = { phone: typeof phone === 'string' ? phone : String(phone) };
      if (failure?.kind === 'reject-recipient') {
        return {
          recipient,
          error: {
            title: failure.title ?? 'Recipient rejected',
            detail: failure.detail ?? 'Fake Messaggio was told to reject this recipient.',
          },
        };
      }
      if (!isValidPhone(phone)) {
        return {
          recipient,
          error: {
            title: 'Invalid phone number',
            detail: 'The phone must be 10 to 15 digits, country code first, without a leading +.',
          },
        };
      }
      const message: FakeSentMessage = {
        phone,
        text: send.text,
        sender: send.sender,
        messageId: randomUUID(),
      };
      if (send.externalId !== undefined) message.externalId = send.externalId;
      if (send.ttl !== undefined) message.ttl = send.ttl;
      if (send.dlrCallbackUrl !== undefined) message.dlrCallbackUrl = send.dlrCallbackUrl;
      sent.push(message);
      options.onAccepted?.(message);
      reporter.schedule(message);
      return { recipient, message_id: message.messageId };
    });
    return { status: 200, body: { accepted_at: formatMessaggioTimestamp(new Date()), messages } };
  }

  // The doc's one source gives no body for the status poll, so this is a guess kept deliberately
  // small: {"message_ids": [...]} in, the nested status form out, unknown ids left out.
  function answerStatuses(record: Omit<FakeRequestRecord, 'response'>): Outcome {
    const login = record.headers['messaggio-login'];
    if (typeof login !== 'string' || !logins.has(login)) {
      return problem(403, 'Forbidden', 'The Messaggio-Login header is missing or not a known project login.');
    }
    const ids = (record.body as { message_ids?: unknown } | undefined)?.message_ids;
    if (!Array.isArray(ids) || ids.length === 0 || !ids.every((id) => typeof id === 'string')) {
      return problem(422, 'Validation Failed', 'message_ids must be a non-empty array of strings.');
    }
    const statuses = ids.flatMap((id) => {
      const message = sent.find((candidate) => candidate.messageId === id);
      if (!message) return [];
      return [
        {
          message_id: id,
          ...(message.externalId === undefined ? {} : { external_id: message.externalId }),
          status: {
            status: reporter.statusOf(id) ?? 200,
            channel: 'sms',
            recipient: { phone: message.phone },
          },
        },
      ];
    });
    return { status: 200, body: { statuses } };
  }

  function route(record: Omit<FakeRequestRecord, 'response'>): Outcome {
    if (record.path === SEND_PATH || record.path === STATUSES_PATH) {
      if (record.method !== 'POST') {
        return {
          ...problem(405, 'Method Not Allowed', `Use POST ${record.path}.`),
          headers: { Allow: 'POST' },
        };
      }
      return record.path === SEND_PATH ? answerSend(record) : answerStatuses(record);
    }
    return problem(404, 'Not Found', `No route for ${record.method} ${record.path}.`);
  }

  const http = await startFakeHttpServer({
    host,
    port: options.port,
    latencyMs: () => latencyMs,
    closing: closing.signal,
    tooLarge: (detail) => ({ status: 413, body: { title: 'Payload Too Large', detail } }),
    answer(request) {
      const record = { ...request, body: parseJsonOrUndefined(request.rawBody) };
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

  let closed: Promise<void> | undefined;

  return {
    baseUrl: `http://${urlHost}:${port}/api/v1`,
    port,
    get requests() {
      return requests;
    },
    get sent() {
      return sent;
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
      const acceptedOnly = waitOptions.acceptedOnly ?? false;
      const timeoutMs = waitOptions.timeoutMs ?? 5000;
      if ((acceptedOnly ? sent.length : requests.length) >= n) return Promise.resolve();
      if (closing.signal.aborted) return Promise.reject(new Error('Fake Messaggio is closed.'));
      return new Promise<void>((resolve, reject) => {
        const waiter: Waiter = {
          n,
          acceptedOnly,
          resolve,
          reject,
          timer: setTimeout(() => {
            waiters.delete(waiter);
            reject(
              new Error(
                `Fake Messaggio: waited ${timeoutMs} ms for ${n} ${acceptedOnly ? 'accepted sends' : 'requests'}, ` +
                  `got ${acceptedOnly ? sent.length : requests.length} (${requests.length} requests, ${sent.length} accepted).`,
              ),
            );
          }, timeoutMs),
        };
        waiters.add(waiter);
      });
    },
    reset() {
      requests.length = 0;
      sent.length = 0;
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
          waiter.reject(new Error('Fake Messaggio closed before the awaited requests arrived.'));
        }
        waiters.clear();
        await Promise.all([http.close(), reporter.close()]);
      })();
      return closed;
    },
  };
}
