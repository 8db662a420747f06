import type { JobsOptions } from 'bullmq';
import Type, { type Static } from 'typebox';
import { DecryptError, decrypt, encrypt } from '../crypto/cipher.js';
import type { SecretKeys } from '../crypto/keys.js';
import { APP_HASH_PATTERN } from '../otp/template.js';
import { maskPhone } from '../phone/mask.js';

/** @defaultValue name of the BullMQ queue between the API and the workers. */
export const DEFAULT_SEND_QUEUE = 'otp-sms';
export const SEND_JOB_NAME = 'send-otp';
/** The custom backoff type the worker registers (exponential with jitter, honours Retry-After). */
export const SEND_BACKOFF_TYPE = 'otp-backoff';

/**
 * What the API puts on the queue. The code travels only sealed (AES-256-GCM), so neither
 * Redis nor Bull Board ever shows it. Versioned so a worker can refuse a job it does not
 * understand during a rolling deploy instead of misreading it.
 *
 * v1 (older APIs): the phone in clear, the code sealed. Still read, so jobs queued before
 * an upgrade are sent.
 */
export const SendJobDataV1 = Type.Object(
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

/**
 * v2: the phone is sealed with the code (Bull Board shows only `phoneMasked`), and the
 * sealed value names the key that sealed it (`<key id>:v1.<iv>.<ciphertext>.<tag>`), so a
 * worker opens jobs queued before a secret rotation with OTP_SECRET_PREVIOUS.
 */
export const SendJobDataV2 = Type.Object(
  {
    v: Type.Literal(2),
    verificationId: Type.String({ minLength: 1, maxLength: 64 }),
    /** `+7708***3414`: enough to recognise a job, not enough to text anyone. */
    phoneMasked: Type.String({ maxLength: 32 }),
    country: Type.String({ minLength: 2, maxLength: 2 }),
    sealed: Type.String({ minLength: 1 }),
    acceptedAt: Type.Integer(),
    requestId: Type.Optional(Type.String({ maxLength: 128 })),
    /**
     * The SMS text's locale the send asked for (issue 12); the worker picks its template.
     * Not secret. Only present when asked for, so jobs without it stay readable by workers
     * that predate it (upgrade workers before APIs whose clients send it).
     */
    locale: Type.Optional(Type.Union([Type.Literal('ru'), Type.Literal('kk'), Type.Literal('en')])),
    /** An Android SMS Retriever app hash that ends the text (issue 12). Not secret. */
    appHash: Type.Optional(Type.String({ pattern: APP_HASH_PATTERN })),
  },
  { additionalProperties: false },
);

export type SendJobDataV1 = Static<typeof SendJobDataV1>;
export type SendJobDataV2 = Static<typeof SendJobDataV2>;
export const SendJobData = Type.Union([SendJobDataV1, SendJobDataV2]);
export type SendJobData = Static<typeof SendJobData>;

/** What the processor returns; BullMQ stores it on the (soon removed) completed job. */
export interface SendJobResult {
  outcome: 'sent' | 'debug' | 'skipped';
  transport?: string;
  providerMessageId?: string;
  skippedBecause?: string;
}

const aad = (verificationId: string, phone: string) => `${verificationId}|${phone}`;
const aadV2 = (verificationId: string) => `${verificationId}|v2`;

/** v1 sealing of the code alone; kept for tests of jobs queued by older APIs. */
export function sealCode(key: Buffer, code: string, ctx: { verificationId: string; phone: string }): string {
  return encrypt(key, code, aad(ctx.verificationId, ctx.phone));
}

export function openCode(
  key: Buffer,
  data: Pick<SendJobDataV1, 'sealedCode' | 'verificationId' | 'phone'>,
): string {
  return decrypt(key, data.sealedCode, aad(data.verificationId, data.phone));
}

/**
 * BullMQ's attempts when SMS_MAX_ATTEMPTS is not set: in effect unlimited, because then the
 * worker stops retrying on the code's life instead (shortly before it expires), not on a count.
 */
export const RETRY_UNTIL_EXPIRY_ATTEMPTS = 1_000_000;
/** Seals phone and code for a v2 job with the current key, naming it. */
export function sealJob(
  keys: SecretKeys,
  input: { verificationId: string; phone: string; code: string },
): string {
  const plaintext = JSON.stringify({ p: input.phone, c: input.code });
  return `${keys.keyId}:${encrypt(keys.jobCipherKey, plaintext, aadV2(input.verificationId))}`;
}

/** Tries the key the value names first, then the rest of the ring. */
function openWithRing(ring: readonly SecretKeys[], sealed: string, aadText: string): string {
  const colon = sealed.indexOf(':');
  const keyId = colon > 0 ? sealed.slice(0, colon) : undefined;
  const body = colon > 0 ? sealed.slice(colon + 1) : sealed;
  const ordered = [...ring].sort((a, b) => Number(b.keyId === keyId) - Number(a.keyId === keyId));
  let lastError: unknown = new DecryptError('No key to open the job with.');
  for (const keys of ordered) {
    try {
      return decrypt(keys.jobCipherKey, body, aadText);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

/**
 * The phone and code of a send job of either version. Throws DecryptError when no key in
 * the ring opens it (a secret that is neither OTP_SECRET nor OTP_SECRET_PREVIOUS, or
 * tampered data): the job can never be sent.
 */
export function openSendJob(ring: readonly SecretKeys[], data: SendJobData): { phone: string; code: string } {
  if (data.v === 1) {
    return {
      phone: data.phone,
      code: openWithRing(ring, data.sealedCode, aad(data.verificationId, data.phone)),
    };
  }
  const opened = JSON.parse(openWithRing(ring, data.sealed, aadV2(data.verificationId))) as {
    p?: unknown;
    c?: unknown;
  };
  if (typeof opened.p !== 'string' || typeof opened.c !== 'string') {
    throw new DecryptError('Sealed job has an unknown shape.');
  }
  return { phone: opened.p, code: opened.c };
}

/** The phone as logs and Bull Board may show it. */
export function jobPhoneMasked(data: SendJobData): string {
  return data.v === 1 ? maskPhone(data.phone) : data.phoneMasked;
}

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

/**
 * `sendId` names one send: the verification id for a code's first SMS, a send's own id for a
 * resend of a kept code (a job whose id differs from its verification id is a resend).
 */
export function sendJobOptions(
  input: SendJobOptionsInput,
  verificationId: string,
  sendId: string = verificationId,
): JobsOptions {
  return {
    // One job per send: a retried enqueue cannot send twice.
    jobId: sendId,
    attempts: input.maxAttempts ?? RETRY_UNTIL_EXPIRY_ATTEMPTS,
    backoff: { type: SEND_BACKOFF_TYPE, delay: input.backoffDelayMs },
    // A completed job holds nothing anyone needs; a failed one is what the 3 a.m.
    // debugger opens in Bull Board, so keep those, bounded in count and age.
    removeOnComplete: true,
    removeOnFail: { count: input.failedToKeep ?? 5000, age: input.failedMaxAgeSeconds ?? 7 * 24 * 3600 },
  };
}
