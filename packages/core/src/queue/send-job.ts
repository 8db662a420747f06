import type { JobsOptions } from 'bullmq';
import Type, { type Static } from 'typebox';
import { decrypt, encrypt } from '../crypto/cipher.js';

/** @defaultValue name of the BullMQ queue between the API and the workers. */
export const DEFAULT_SEND_QUEUE = 'otp-sms';
export const SEND_JOB_NAME = 'send-otp';
/** The custom backoff type the worker registers (exponential with jitter, honours Retry-After). */
export const SEND_BACKOFF_TYPE = 'otp-backoff';

/**
 * What the API puts on the queue. The code travels only sealed (AES-256-GCM), so neither
 * Redis nor Bull Board ever shows it. Versioned so a worker can refuse a job it does not
 * understand during a rolling deploy instead of misreading it.
 */
export const SendJobData = Type.Object(
  {
    v: Type.Literal(1),
    verificationId: Type.String({ minLength: 1, maxLength: 64 }),
    /** E.164. */
    phone: Type.String({ pattern: '^\\+[1-9]\\d{6,14}$' }),
    country: Type.String({ minLength: 2, maxLength: 2 }),
    sealedCode: Type.String({ minLength: 1 }),
    /** When the API accepted the request, ms since epoch: the start of delivery latency. */
    acceptedAt: Type.Integer(),
    /** The API's request id, so one verification can be followed across processes. */
    requestId: Type.Optional(Type.String({ maxLength: 128 })),
  },
  { additionalProperties: false },
);
export type SendJobData = Static<typeof SendJobData>;

/** What the processor returns; BullMQ stores it on the (soon removed) completed job. */
export interface SendJobResult {
  outcome: 'sent' | 'debug' | 'skipped';
  transport?: string;
  providerMessageId?: string;
  skippedBecause?: string;
}

const aad = (verificationId: string, phone: string) => `${verificationId}|${phone}`;

export function sealCode(key: Buffer, code: string, ctx: { verificationId: string; phone: string }): string {
  return encrypt(key, code, aad(ctx.verificationId, ctx.phone));
}

export function openCode(
  key: Buffer,
  data: Pick<SendJobData, 'sealedCode' | 'verificationId' | 'phone'>,
): string {
  return decrypt(key, data.sealedCode, aad(data.verificationId, data.phone));
}

/**
 * BullMQ's attempts when SMS_MAX_ATTEMPTS is not set: in effect unlimited, because then the
 * worker stops retrying on the code's life instead (shortly before it expires), not on a count.
 */
export const RETRY_UNTIL_EXPIRY_ATTEMPTS = 1_000_000;

export interface SendJobOptionsInput {
  /**
   * Delivery attempts in all, the first included (SMS_MAX_ATTEMPTS).
   * @defaultValue undefined: retry until shortly before the code expires
   */
  maxAttempts?: number;
  /** First retry delay; later ones double. */
  backoffDelayMs: number;
  /** How many failed jobs to keep for inspection. @defaultValue 5000 */
  failedToKeep?: number;
  /** How long to keep failed jobs, seconds. @defaultValue 7 days */
  failedMaxAgeSeconds?: number;
}

export function sendJobOptions(input: SendJobOptionsInput, verificationId: string): JobsOptions {
  return {
    // One job per verification: a retried enqueue cannot send twice.
    jobId: verificationId,
    attempts: input.maxAttempts ?? RETRY_UNTIL_EXPIRY_ATTEMPTS,
    backoff: { type: SEND_BACKOFF_TYPE, delay: input.backoffDelayMs },
    // A completed job holds nothing anyone needs; a failed one is what the 3 a.m.
    // debugger opens in Bull Board, so keep those, bounded in count and age.
    removeOnComplete: true,
    removeOnFail: { count: input.failedToKeep ?? 5000, age: input.failedMaxAgeSeconds ?? 7 * 24 * 3600 },
  };
}
