// Status callbacks of the fake Twilio: signed form POSTs to each message's StatusCallback,
// following Twilio's transitions (docs/twilio-api.md "Status callbacks"), with switches for
// the ways real callbacks misbehave: out of order, duplicated, dropped, extra parameters, a
// signature over the URL without its port.
import { setTimeout as sleep } from 'node:timers/promises';
import { computeTwilioSignature } from './signature.js';
import { API_VERSION, type MessageStatus } from './wire-format.js';

/** How the fake sends status callbacks. */
export interface FakeStatusCallbackOptions {
  /**
   * Pause before each callback.
   * @defaultValue 20
   */
  delayMs?: number;
  /**
   * `To` numbers whose message ends `undelivered` with `ErrorCode` 30003 (handset unreachable).
   * @defaultValue []
   */
  undeliverable?: string[];
  /**
   * `To` numbers whose message ends `failed` with `ErrorCode` 30008 (unknown error), without `sent`.
   * @defaultValue []
   */
  failing?: string[];
  /**
   * Final status first: "no guarantee that the status callback requests always arrive in order".
   * @defaultValue false
   */
  outOfOrder?: boolean;
  /**
   * Every callback twice (Twilio's behaviour is not documented either way).
   * @defaultValue false
   */
  duplicate?: boolean;
  /**
   * Statuses never posted ("callbacks may never arrive").
   * @defaultValue []
   */
  drop?: MessageStatus[];
  /**
   * Parameters added to every callback, and signed: Twilio adds some without notice.
   * @defaultValue {}
   */
  extraParams?: Record<string, string>;
  /**
   * Which URL the signature covers: the StatusCallback as configured (what Twilio does for SMS),
   * the same without its port, or with the scheme's default port spelled out when it has none.
   * The POST always goes to the configured URL.
   * @defaultValue 'as-configured'
   */
  signedUrl?: 'as-configured' | 'without-port' | 'with-default-port';
  /**
   * Add `RawDlrDoneDate` (YYMMDDhhmm, UTC) to `delivered`/`undelivered`.
   * @defaultValue true
   */
  rawDlrDoneDate?: boolean;
  /**
   * Re-sends of a callback that got no 2xx (Twilio's policy is unconfirmed, so none by default).
   * @defaultValue 0
   */
  retries?: number;
}

/** One callback POST the fake made, with the answer it got. */
export interface FakeCallbackRecord {
  /** Where it was POSTed (the message's StatusCallback). */
  url: string;
  /** The URL the signature covers. */
  signedUrl: string;
  params: Record<string, string>;
  signature: string;
  /** The receiver's HTTP status, or `error` when it could not be reached in time. */
  answer: number | 'error';
  sentAt: Date;
}

/** What the reporter needs of an accepted message. */
export interface CallbackMessage {
  sid: string;
  accountSid: string;
  authToken: string;
  to: string;
  from: string;
  messagingServiceSid: string | null;
  initialStatus: MessageStatus;
  statusCallback?: string;
  /** Called as the message moves on, in the logical order whatever the callback order. */
  advance(status: MessageStatus, errorCode: number | null): void;
}

export interface CallbackReporter {
  schedule(message: CallbackMessage): void;
  readonly callbacks: readonly FakeCallbackRecord[];
  onRecord(listener: () => void): void;
  reset(): void;
  close(): Promise<void>;
}

const ATTEMPT_TIMEOUT_MS = 2000;
const ERROR_CODES: Partial<Record<MessageStatus, number>> = { undelivered: 30003, failed: 30008 };

/** `YYMMDDhhmm` in UTC: the carrier's DLR done date, minute precision, no time zone. */
function rawDlrDoneDate(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    two(date.getUTCFullYear() % 100) +
    two(date.getUTCMonth() + 1) +
    two(date.getUTCDate()) +
    two(date.getUTCHours()) +
    two(date.getUTCMinutes())
  );
}

function signedUrlFor(url: string, mode: FakeStatusCallbackOptions['signedUrl']): string {
  if (mode === undefined || mode === 'as-configured') return url;
  const parsed = new URL(url);
  const authority = /^([a-z][a-z0-9+.-]*:\/\/)(?:[^@/?#]*@)?([^/?#]*)(.*)$/is.exec(url);
  const [, scheme = '', , rest = ''] = authority ?? [];
  const host = parsed.hostname.includes(':') ? `[${parsed.hostname}]` : parsed.hostname;
  if (mode === 'without-port') return `${scheme}${host}${rest}`;
  const port = parsed.port || (parsed.protocol === 'https:' ? '443' : '80');
  return `${scheme}${host}:${port}${rest}`;
}

export function createCallbackReporter(
  option: boolean | FakeStatusCallbackOptions | undefined,
  fetchImpl: typeof fetch = globalThis.fetch,
): CallbackReporter {
  const enabled = option === true || (typeof option === 'object' && option !== null);
  const settings = typeof option === 'object' && option !== null ? option : {};
  const delayMs = settings.delayMs ?? 20;
  const retries = Math.max(0, settings.retries ?? 0);
  const undeliverable = new Set(settings.undeliverable ?? []);
  const failing = new Set(settings.failing ?? []);
  const dropped = new Set(settings.drop ?? []);

  const closing = new AbortController();
  const running = new Set<Promise<void>>();
  const callbacks: FakeCallbackRecord[] = [];
  const listeners: Array<() => void> = [];

  /** The statuses after the initial one, which gets no callback [CB-STATUS]. */
  function transitions(message: CallbackMessage): MessageStatus[] {
    const afterQueue: MessageStatus[] = failing.has(message.to)
      ? ['failed']
      : ['sent', undeliverable.has(message.to) ? 'undelivered' : 'delivered'];
    return message.initialStatus === 'queued' ? afterQueue : ['queued', ...afterQueue];
  }

  function params(message: CallbackMessage, status: MessageStatus): Record<string, string> {
    const now = new Date();
    const errorCode = ERROR_CODES[status];
    return {
      SmsSid: message.sid,
      SmsStatus: status,
      MessageStatus: status,
      To: message.to,
      ...(message.messagingServiceSid === null ? {} : { MessagingServiceSid: message.messagingServiceSid }),
      MessageSid: message.sid,
      AccountSid: message.accountSid,
      From: message.from,
      ApiVersion: API_VERSION,
      ...(errorCode === undefined ? {} : { ErrorCode: String(errorCode) }),
      ...((status === 'delivered' || status === 'undelivered') && settings.rawDlrDoneDate !== false
        ? { RawDlrDoneDate: rawDlrDoneDate(now) }
        : {}),
      ...settings.extraParams,
    };
  }

  async function post(message: CallbackMessage, url: string, body: Record<string, string>): Promise<void> {
    const signedUrl = signedUrlFor(url, settings.signedUrl);
    const signature = computeTwilioSignature(message.authToken, signedUrl, body);
    for (let attempt = 0; attempt <= retries; attempt++) {
      const attemptDeadline = new AbortController();
      const timer = setTimeout(() => attemptDeadline.abort(), ATTEMPT_TIMEOUT_MS);
      let answer: number | 'error' = 'error';
      try {
        const response = await fetchImpl(url, {
          method: 'POST',
          headers: {
            'Content-Type': 'application/x-www-form-urlencoded',
            'X-Twilio-Signature': signature,
            'X-Home-Region': 'us1',
            'User-Agent': 'TwilioProxy/1.1',
          },
          body: new URLSearchParams(body).toString(),
          signal: AbortSignal.any([closing.signal, attemptDeadline.signal]),
        });
        // Drain the body so the keep-alive socket goes back to the pool instead of leaking.
        await response.arrayBuffer();
        answer = response.status;
      } catch (err) {
        if (closing.signal.aborted) throw err;
        // A receiver that is down or slow: recorded as `error`.
      } finally {
        clearTimeout(timer);
      }
      callbacks.push({ url, signedUrl, params: body, signature, answer, sentAt: new Date() });
      for (const listener of listeners) listener();
      if (typeof answer === 'number' && answer >= 200 && answer <= 299) return;
      if (attempt < retries) await sleep(delayMs, undefined, { signal: closing.signal });
    }
  }

  async function report(message: CallbackMessage, url: string): Promise<void> {
    const logical = transitions(message);
    const ordered = settings.outOfOrder ? [...logical].reverse() : logical;
    const sequence = settings.duplicate ? ordered.flatMap((status) => [status, status]) : ordered;
    const reached = new Set<MessageStatus>();
    for (const status of sequence) {
      await sleep(delayMs, undefined, { signal: closing.signal });
      if (!reached.has(status)) {
        reached.add(status);
        // The resource moves in the logical order, whatever order the callbacks go in.
        const furthest = logical.filter((candidate) => reached.has(candidate)).at(-1) ?? status;
        message.advance(furthest, ERROR_CODES[furthest] ?? null);
      }
      if (dropped.has(status)) continue;
      await post(message, url, params(message, status));
    }
  }

  return {
    schedule(message) {
      const url = message.statusCallback;
      if (!enabled || url === undefined || closing.signal.aborted) return;
      const run = report(message, url)
        .catch(() => {
          // Only close() ends a loop early, and then nobody is waiting for the callbacks.
        })
        .finally(() => running.delete(run));
      running.add(run);
    },
    get callbacks() {
      return callbacks;
    },
    onRecord(listener) {
      listeners.push(listener);
    },
    reset() {
      callbacks.length = 0;
    },
    async close() {
      closing.abort();
      await Promise.all(running);
    },
  };
}
