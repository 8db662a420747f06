// Delivery reports of the fake Messaggio: after accepting an SMS it POSTs 200, 100, then 70 or
// 60 to the message's dlr_callback_url, re-sending each report until it gets a 200, as the doc
// says the real service does for up to 24 hours (here: a few quick tries, so tests stay fast).
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type DeliveryReportPollBody,
  type DeliveryReportWebhookBody,
  DLR_STATUS,
  formatMessaggioTimestamp,
} from './wire-format.js';

/** How the fake sends delivery reports. */
export interface DeliveryReportOptions {
  /**
   * Pause before each report.
   * @defaultValue 100
   */
  delayMs?: number;
  /**
   * Send every report twice, as Messaggio may, so receivers must de-duplicate on (message_id, status).
   * @defaultValue false
   */
  duplicate?: boolean;
  /**
   * Send the reports in reverse (final status first), so receivers must not let a late 100
   * overwrite a 70.
   * @defaultValue false
   */
  outOfOrder?: boolean;
  /**
   * Phones (digits, `+` tolerated) whose final report is 60 (not delivered) instead of 70.
   * @defaultValue []
   */
  undeliverable?: string[];
  /**
   * `webhook`: the flat `{type: "status", status: 70, ...}` body; `poll`: the nested
   * `{status: {status: 70, channel, recipient}}` form of the status poll.
   * @defaultValue 'webhook'
   */
  shape?: 'webhook' | 'poll';
  /**
   * Pause before re-sending a report that did not get HTTP 200.
   * @defaultValue 100
   */
  retryDelayMs?: number;
  /**
   * Tries per report before the fake gives up on it and moves on to the next.
   * @defaultValue 10
   */
  maxAttempts?: number;
}

/** An accepted SMS, as far as delivery reports need it. */
export interface ReportableMessage {
  messageId: string;
  phone: string;
  externalId?: string;
  dlrCallbackUrl?: string;
}

export interface DeliveryReporter {
  /** Starts reporting on one accepted message; a no-op without a callback URL. */
  schedule(message: ReportableMessage): void;
  /** The furthest status reported so far in the logical order 200, 100, final. */
  statusOf(messageId: string): number | undefined;
  /** Forgets reported statuses (in-flight reports keep going). */
  reset(): void;
  /** Aborts pending reports and timers; resolves once every report loop has stopped. */
  close(): Promise<void>;
}

const ATTEMPT_TIMEOUT_MS = 2000;

export function createDeliveryReporter(
  option: boolean | DeliveryReportOptions | undefined,
  fetchImpl: typeof fetch = globalThis.fetch,
): DeliveryReporter {
  const enabled = option === true || (typeof option === 'object' && option !== null);
  const settings = typeof option === 'object' && option !== null ? option : {};
  const delayMs = settings.delayMs ?? 100;
  const retryDelayMs = settings.retryDelayMs ?? 100;
  const maxAttempts = Math.max(1, settings.maxAttempts ?? 10);
  const shape = settings.shape ?? 'webhook';
  const undeliverable = new Set((settings.undeliverable ?? []).map((phone) => phone.replace(/^\+/, '')));

  const closing = new AbortController();
  const running = new Set<Promise<void>>();
  const furthest = new Map<string, { status: number; rank: number }>();

  function body(
    message: ReportableMessage,
    status: number,
  ): DeliveryReportWebhookBody | DeliveryReportPollBody {
    const external = message.externalId === undefined ? {} : { external_id: message.externalId };
    const timestamp = formatMessaggioTimestamp(new Date());
    if (shape === 'poll') {
      return {
        message_id: message.messageId,
        ...external,
        status: { status, channel: 'sms', recipient: { phone: message.phone } },
        timestamp,
      };
    }
    return { type: 'status', message_id: message.messageId, ...external, channel: 'sms', status, timestamp };
  }

  /** POSTs one report until it gets a 200 or the tries run out. */
  async function deliver(url: string, payload: string): Promise<void> {
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (attempt > 1) await sleep(retryDelayMs, undefined, { signal: closing.signal });
      const attemptDeadline = new AbortController();
      const timer = setTimeout(() => attemptDeadline.abort(), ATTEMPT_TIMEOUT_MS);
      try {
        const response = await fetchImpl(url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: payload,
          signal: AbortSignal.any([closing.signal, attemptDeadline.signal]),
        });
        // Drain the body so the keep-alive socket goes back to the pool instead of leaking.
        await response.arrayBuffer();
        if (response.status === 200) return;
      } catch (err) {
        if (closing.signal.aborted) throw err;
        // A receiver that is down or slow is what the re-sends are for.
      } finally {
        clearTimeout(timer);
      }
    }
  }

  async function report(message: ReportableMessage, url: string): Promise<void> {
    const final = undeliverable.has(message.phone) ? DLR_STATUS.NOT_DELIVERED : DLR_STATUS.DELIVERED;
    const logical = [DLR_STATUS.ACCEPTED, DLR_STATUS.SENT_TO_OPERATOR, final];
    const ordered = settings.outOfOrder ? [...logical].reverse() : logical;
    const sequence = settings.duplicate ? ordered.flatMap((status) => [status, status]) : ordered;
    for (const status of sequence) {
      await sleep(delayMs, undefined, { signal: closing.signal });
      const rank = logical.indexOf(status);
      if (rank > (furthest.get(message.messageId)?.rank ?? -1))
        furthest.set(message.messageId, { status, rank });
      await deliver(url, JSON.stringify(body(message, status)));
    }
  }

  return {
    schedule(message) {
      const url = message.dlrCallbackUrl;
      if (!enabled || url === undefined || closing.signal.aborted) return;
      furthest.set(message.messageId, { status: DLR_STATUS.ACCEPTED, rank: 0 });
      const run = report(message, url)
        .catch(() => {
          // Only close() ends a loop early, and then nobody is waiting for the reports.
        })
        .finally(() => running.delete(run));
      running.add(run);
    },
    statusOf(messageId) {
      return furthest.get(messageId)?.status;
    },
    reset() {
      furthest.clear();
    },
    async close() {
      closing.abort();
      await Promise.all(running);
    },
  };
}
