import type { DeliveryStatus } from '@otp/sms';
import { maskPhone } from '../phone/mask.js';
import type { RedisClient } from '../redis/client.js';
import { advanceScript, queuedScript } from './scripts.js';
import {
  interpretDeliveryReport,
  type StoredStatus,
  VERIFICATION_STATUSES,
  type VerificationStatus,
} from './verification-status.js';

export interface StatusStoreOptions {
  redis: RedisClient;
  /** Prepended to every key, as for the code store. @defaultValue 'otp:' */
  keyPrefix?: string;
  /**
   * How long a record (and its message-id index and report de-duplication keys) lives,
   * counted from its first write. Messaggio re-sends reports for up to 24 h.
   * @defaultValue 86400
   */
  ttlSeconds?: number;
  /** The clock, for tests. @defaultValue Date.now */
  now?: () => number;
  /**
   * Told of every write that moved a record on (outcome `applied`), and of every `queued`
   * write, after it landed; awaited. The outbound events hook in here, so every status
   * change, whoever wrote it (API, worker, provider webhook), is seen in one place. It must
   * not throw: a failure to announce a change is not the change's failure.
   * @defaultValue none
   */
  onChange?: (change: StatusChange) => Promise<void>;
}

/** One status change, as onChange is told of it. */
export interface StatusChange {
  verificationId: string;
  status: StoredStatus;
  /** The status before, when the record existed. */
  previous?: StoredStatus;
  /** When the change was written, ms since epoch. */
  at: number;
  /** When the code expires, ms since epoch; on `queued` only. */
  expiresAt?: number;
}

/** One verification as the status store keeps it. Never holds the code. */
export interface VerificationRecord {
  verificationId: string;
  /** `expired` when the code's lifetime passed before it was verified or failed for good. */
  status: VerificationStatus;
  /** Masked, `+7708***3414`: what answers and events show. */
  phone: string;
  /**
   * The E.164 number, which names the code's key: POST /verifications/:id/cancel needs it to
   * find the code. Never answered. Absent from records written before cancel existed.
   */
  phoneE164?: string;
  /** The send's `metadata`, as given. Absent when the send had none. */
  metadata?: Record<string, string>;
  country: string;
  /** The API request that issued the code, to find its log lines. */
  requestId?: string;
  /** Who may read the record (`key:<API key name>`); absent = anyone. */
  owner?: string;
  createdAt: Date;
  updatedAt: Date;
  /** When the code stops working. */
  expiresAt: Date;
  /** Delivery attempts started by the worker. */
  attempts: number;
  /** The provider that carried the SMS (`messaggio`, `twilio`, `debug`), once one accepted it. */
  provider?: string;
  /** That provider's message id. */
  providerMessageId?: string;
  /** A fixed description of `failureCode`; never a provider's own words. */
  failureReason?: string;
  /** Why the worker gave up, as a stable code (see FAILURE_CODES), e.g. `SMS_REJECTED`. */
  failureCode?: string;
  /** When each status was first reached; `expired` is the code's expiry once it has passed. */
  reachedAt: Partial<Record<VerificationStatus, Date>>;
}

/**
 * What a write did: `applied` moved the record on; `stale` found it already further along
 * (the write changed at most the attempt count or message id); `duplicate` is a delivery
 * report seen before; `missing` means no record to apply a report to.
 */
export type WriteOutcome = 'applied' | 'stale' | 'duplicate' | 'missing';

export interface WriteResult {
  outcome: WriteOutcome;
  /** The status before this write, if the record existed. */
  previous?: StoredStatus;
  /** The API request that issued the code, when the record has it. */
  requestId?: string;
}

export interface DeliveryReportInput {
  /** The provider that sent the report; message ids are only unique per provider. */
  provider: string;
  messageId: string;
  /** The report, already mapped into the neutral status by its provider. */
  status: DeliveryStatus;
  /** The provider's own status code; tells repeated reports apart. @defaultValue status */
  providerStatus?: string;
  /** Our verification id when the provider echoes it, used when the message id is not indexed yet. */
  verificationId?: string;
}

export type DeliveryReportResult =
  | { outcome: 'unknown_message' }
  | {
      outcome: Exclude<WriteOutcome, 'missing'>;
      verificationId: string;
      /** What the code meant: sent (pending), delivered or undelivered. */
      status: 'sent' | 'delivered' | 'undelivered';
      /** False when the provider sent a status it could not place. */
      knownCode: boolean;
      previous?: StoredStatus;
      /** The API request that issued the code, when the record has it. */
      requestId?: string;
    };

export interface StatusStore {
  /** The API queued the send. Creates the record (or completes a stub the worker wrote first). */
  queued(input: {
    verificationId: string;
    /** E.164; only its masked form is stored. */
    phone: string;
    country: string;
    /** When the code expires, ms since epoch. */
    expiresAt: number;
    requestId?: string;
    /** When the API accepted the request, ms since epoch. @defaultValue now */
    at?: number;
    /** Who may read the record back (the caller's API key); undefined = anyone. */
    owner?: string;
    /** The send's metadata, kept with the record and shown in answers and events. */
    metadata?: Record<string, string>;
  }): Promise<WriteResult>;
  /**
   * Forgets a record the API wrote beside an enqueue that then failed: the client never got
   * its verification id, and no SMS will be sent.
   */
  discard(verificationId: string): Promise<void>;
  /** The worker starts delivery attempt `attempt` (1-based). */
  sending(input: { verificationId: string; attempt: number }): Promise<WriteResult>;
  /**
   * A provider accepted the SMS; `provider:messageId` is indexed so its delivery reports find
   * the record.
   */
  sent(input: {
    verificationId: string;
    provider?: string;
    messageId?: string;
    attempt?: number;
  }): Promise<WriteResult>;
  /** The worker gave up. */
  failed(input: {
    verificationId: string;
    reason: string;
    code?: string;
    attempt?: number;
  }): Promise<WriteResult>;
  /** The right code was presented. */
  verified(input: { verificationId: string }): Promise<WriteResult>;
  /** The code was revoked by POST /verifications/:id/cancel. Never creates a record. */
  canceled(input: { verificationId: string }): Promise<WriteResult>;
  /** Applies one provider's delivery report, ignoring duplicates and reports that arrive late. */
  deliveryReport(input: DeliveryReportInput): Promise<DeliveryReportResult>;
  /** The record, or undefined when there is none (never issued, or older than 24 h). */
  get(verificationId: string): Promise<VerificationRecord | undefined>;
}

const MAX_REASON_LENGTH = 500;

/** The stored metadata; an unreadable value (never written by this code) reads as none. */
function parseMetadata(json: string): Record<string, string> {
  try {
    const value: unknown = JSON.parse(json);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return {};
    return Object.fromEntries(
      Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
    );
  } catch {
    return {};
  }
}

/** Verification status records in Redis hashes, moved forward only by atomic Lua writes. */
export function createStatusStore(options: StatusStoreOptions): StatusStore {
  const { redis } = options;
  const prefix = options.keyPrefix ?? 'otp:';
  const ttlSeconds = options.ttlSeconds ?? 86_400;
  const now = options.now ?? Date.now;
  const { onChange } = options;
  // The {verificationId} hash tag keeps a record and its report de-duplication keys in one
  // Redis Cluster slot, which the advance script needs. The message index is looked up by
  // message id alone, so it is tagged by that instead and written by its own command.
  const recordKey = (verificationId: string) => `${prefix}status:{${verificationId}}`;
  const dedupeKey = (verificationId: string, provider: string, messageId: string, code: string) =>
    `${prefix}status-dlr:{${verificationId}}:${provider}:${messageId}:${code}`;
  // Keyed by provider too: two providers may hand out the same id.
  const messageKey = (provider: string, messageId: string) =>
    `${prefix}status-msg:{${provider}:${messageId}}`;

  async function advance(
    verificationId: string,
    target: StoredStatus,
    extra: {
      attempt?: number;
      messageId?: string;
      reason?: string;
      code?: string;
      dedupe?: string;
      mustExist?: boolean;
      provider?: string;
    } = {},
  ): Promise<WriteResult> {
    const at = now();
    const [outcome, previous, requestId] = (await advanceScript.run(
      redis,
      [recordKey(verificationId), extra.dedupe ?? recordKey(verificationId)],
      [
        target,
        at,
        ttlSeconds,
        extra.attempt ?? '',
        extra.messageId ?? '',
        (extra.reason ?? '').slice(0, MAX_REASON_LENGTH),
        extra.code ?? '',
        extra.dedupe === undefined ? 0 : ttlSeconds,
        extra.mustExist ? '1' : '0',
        extra.provider ?? '',
      ],
    )) as [WriteOutcome, string, string];
    if (outcome === 'applied' && onChange) {
      await onChange({
        verificationId,
        status: target,
        ...(previous === '' ? {} : { previous: previous as StoredStatus }),
        at,
      });
    }
    return {
      outcome,
      ...(previous === '' ? {} : { previous: previous as StoredStatus }),
      ...(requestId === '' ? {} : { requestId }),
    };
  }

  return {
    async queued({ verificationId, phone, country, expiresAt, requestId, at, owner, metadata }) {
      const time = now();
      const [outcome, previous] = (await queuedScript.run(
        redis,
        [recordKey(verificationId)],
        [
          time,
          ttlSeconds,
          maskPhone(phone),
          country,
          expiresAt,
          requestId ?? '',
          at ?? time,
          owner ?? '',
          phone,
          metadata === undefined ? '' : JSON.stringify(metadata),
        ],
      )) as ['applied' | 'stale', string];
      // Also after 'stale' (a worker stub filled in): the record exists from here on.
      await onChange?.({
        verificationId,
        status: 'queued',
        ...(previous === '' ? {} : { previous: previous as StoredStatus }),
        at: time,
        expiresAt,
      });
      return previous === '' ? { outcome } : { outcome, previous: previous as StoredStatus };
    },

    async discard(verificationId) {
      await redis.del(recordKey(verificationId));
    },

    sending({ verificationId, attempt }) {
      return advance(verificationId, 'sending', { attempt });
    },

    async sent({ verificationId, provider = 'unknown', messageId, attempt }) {
      if (messageId === undefined) return advance(verificationId, 'sent', { attempt, provider });
      // Both go out on one connection without waiting for each other: one round trip. The
      // index is written first so a report that races the record update still finds it.
      const [, result] = await Promise.all([
        redis.set(messageKey(provider, messageId), verificationId, 'EX', ttlSeconds),
        advance(verificationId, 'sent', { attempt, messageId, provider }),
      ]);
      return result;
    },

    failed({ verificationId, reason, code, attempt }) {
      return advance(verificationId, 'failed', { reason, code, attempt });
    },

    verified({ verificationId }) {
      return advance(verificationId, 'verified');
    },

    canceled({ verificationId }) {
      return advance(verificationId, 'canceled', { mustExist: true });
    },

    async deliveryReport({ provider, messageId, status, providerStatus, verificationId: echoed }) {
      const meaning = interpretDeliveryReport(status);
      const indexed = await redis.get(messageKey(provider, messageId));
      // A report can beat the worker's own record of the send; a provider that echoes our
      // reference (the verification id) still finds a record that exists.
      const verificationId = indexed ?? echoed;
      if (!verificationId) return { outcome: 'unknown_message' };
      // A report never creates a record: one that outlived its record (24 h) has nothing to update.
      const result = await advance(verificationId, meaning.status, {
        messageId,
        provider,
        dedupe: dedupeKey(verificationId, provider, messageId, providerStatus ?? status),
        mustExist: true,
      });
      if (result.outcome === 'missing') return { outcome: 'unknown_message' };
      return {
        outcome: result.outcome,
        verificationId,
        status: meaning.status,
        knownCode: meaning.known,
        ...(result.previous === undefined ? {} : { previous: result.previous }),
        ...(result.requestId === undefined ? {} : { requestId: result.requestId }),
      };
    },

    async get(verificationId) {
      const fields = await redis.hgetall(recordKey(verificationId));
      // No phone: only a worker stub, the API's own write never landed; nothing to show.
      if (fields.status === undefined || fields.phone === undefined) return undefined;
      const stored = fields.status as StoredStatus;
      const expiresAt = Number(fields.expires_at);
      const expired =
        stored !== 'verified' && stored !== 'failed' && stored !== 'canceled' && now() >= expiresAt;
      const reachedAt: VerificationRecord['reachedAt'] = {};
      for (const status of VERIFICATION_STATUSES) {
        const at = fields[`t:${status}`];
        if (at !== undefined) reachedAt[status] = new Date(Number(at));
      }
      if (expired) reachedAt.expired = new Date(expiresAt);
      return {
        verificationId,
        status: expired ? 'expired' : stored,
        phone: fields.phone,
        ...(fields.e164 ? { phoneE164: fields.e164 } : {}),
        ...(fields.metadata ? { metadata: parseMetadata(fields.metadata) } : {}),
        country: fields.country ?? '',
        ...(fields.request_id ? { requestId: fields.request_id } : {}),
        ...(fields.owner ? { owner: fields.owner } : {}),
        createdAt: new Date(Number(fields.created_at)),
        updatedAt: new Date(Number(fields.updated_at ?? fields.created_at)),
        expiresAt: new Date(expiresAt),
        attempts: Number(fields.attempts ?? 0),
        ...(fields.provider ? { provider: fields.provider } : {}),
        ...(fields.message_id ? { providerMessageId: fields.message_id } : {}),
        ...(fields.failure_reason ? { failureReason: fields.failure_reason } : {}),
        ...(fields.failure_code ? { failureCode: fields.failure_code } : {}),
        reachedAt,
      };
    },
  };
}
