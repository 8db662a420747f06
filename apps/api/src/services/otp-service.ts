import { randomUUID } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AppError,
  type CodeStore,
  codeDigestCandidates,
  DEBUG_TRANSPORT,
  DecryptError,
  ErrorCode,
  generateCode,
  maskPhone,
  type NormalizedPhone,
  normalizePhone,
  openStoredCode,
  SEND_JOB_NAME,
  type SecretKeys,
  type SendJobData,
  type SendJobOptionsInput,
  type SendLimit,
  type SmsLocale,
  type StatusStore,
  sealJob,
  sealStoredCode,
  sendJobOptions,
  storedCodeDigest,
  type VerificationRecord,
} from '@otp/core';
import type { Queue } from 'bullmq';
import type { FastifyBaseLogger } from 'fastify';
import { englishMessage, type MessageKey } from '../i18n/messages.js';
import { METADATA_LIMITS } from '../schemas/otp.js';
import type { FraudBlock, FraudGuard, FraudSendContext } from './fraud-guard.js';
import { REDIS_ERROR_CODES, whileRedisAnswers } from './redis-errors.js';
import { buildSendLimits, type SendLimitName, type SendLimitSettings } from './send-limits.js';

// The sentences live in the message catalog (i18n/messages.ts), so answers follow Accept-Language.
const LIMIT_ERRORS: Record<SendLimitName, { code: ErrorCode; message: MessageKey }> = {
  verify_lock: { code: ErrorCode.PHONE_VERIFY_LOCKED, message: 'PHONE_VERIFY_LOCKED' },
  phone_hour: { code: ErrorCode.PHONE_SEND_LIMIT, message: 'PHONE_SEND_LIMIT.hour' },
  phone_day: { code: ErrorCode.PHONE_SEND_LIMIT, message: 'PHONE_SEND_LIMIT.day' },
  ip_hour: { code: ErrorCode.IP_SEND_LIMIT, message: 'IP_SEND_LIMIT' },
  country_day: { code: ErrorCode.COUNTRY_SEND_LIMIT, message: 'COUNTRY_SEND_LIMIT' },
  daily_budget: { code: ErrorCode.SMS_BUDGET_EXHAUSTED, message: 'SMS_BUDGET_EXHAUSTED' },
  fraud_block: { code: ErrorCode.FRAUD_SUSPECTED, message: 'FRAUD_SUSPECTED' },
};

function tooMany(code: ErrorCode, messageKey: MessageKey, retryAfterSeconds: number): AppError {
  const details = { retry_after: retryAfterSeconds };
  return new AppError(code, 429, englishMessage(messageKey, details), {
    headers: { 'retry-after': String(retryAfterSeconds) },
    details,
    messageKey,
  });
}

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 (::ffff:127.0.0.1). */
export function isLoopback(ip: string): boolean {
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  return (isIPv4(v4) && v4.startsWith('127.')) || ip === '::1';
}

/** What send() can answer, besides what the route's hooks add. */
export const SEND_ERROR_CODES = [
  ErrorCode.PHONE_INVALID,
  ErrorCode.COUNTRY_NOT_ALLOWED,
  ErrorCode.PHONE_BLOCKED,
  ErrorCode.RESEND_TOO_SOON,
  ErrorCode.PHONE_VERIFY_LOCKED,
  ...Object.values(LIMIT_ERRORS).map((limit) => limit.code),
  ...REDIS_ERROR_CODES,
] as const;

/** What cancel() can answer, besides what the route's own lookup does. */
export const CANCEL_ERROR_CODES = [ErrorCode.VERIFICATION_NOT_CANCELABLE, ...REDIS_ERROR_CODES] as const;

/** What verify() can answer. */
export const VERIFY_ERROR_CODES = [
  ErrorCode.VALIDATION_ERROR,
  ErrorCode.PHONE_INVALID,
  ErrorCode.COUNTRY_NOT_ALLOWED,
  ErrorCode.OTP_INVALID,
  ErrorCode.OTP_EXPIRED,
  ErrorCode.OTP_ATTEMPTS_EXCEEDED,
  ErrorCode.VERIFY_LIMIT_EXCEEDED,
  ...REDIS_ERROR_CODES,
] as const;

/** The status record's owner for a caller with an API key: only that key reads it back. */
export function ownerOf(apiKeyName: string): string {
  return `key:${apiKeyName}`;
}

export interface OtpServiceOptions {
  store: CodeStore;
  queue: Pick<Queue, 'add'>;
  /** The queue of a phone's sends when there are several (QUEUE_SHARDS). @defaultValue always `queue` */
  queueFor?: (phone: string) => Pick<Queue, 'add'>;
  /** The current keys: every new digest and job is made with them. */
  keys: SecretKeys;
  /** Every key a code may have been stored with, current first. @defaultValue [keys] */
  keyRing?: readonly SecretKeys[];
  allowedCountries: readonly string[];
  otpLength: number;
  otpTtlSeconds: number;
  resendCooldownSeconds: number;
  jobOptions: SendJobOptionsInput;
  /** Put the code in the answer (OTP_DEBUG: no real SMS provider configured). */
  debugMode: boolean;
  /**
   * The transports live workers on the queue report (their heartbeats). In debug mode a
   * code is answered only while none of them is a real provider. @defaultValue none
   */
  liveTransports?: () => Promise<readonly string[]>;
  /** Records queued and verified for GET /verifications/:id. @defaultValue undefined (not recorded) */
  status?: Pick<StatusStore, 'queued' | 'verified' | 'canceled' | 'discard'>;
  limits: SendLimitSettings;
  /** E.164 prefixes refused with 403 PHONE_BLOCKED. */
  blockedPrefixes: readonly string[];
  /** E.164 → fixed code; these get no SMS but otherwise behave like any number. */
  testNumbers: ReadonlyMap<string, string>;
  /**
   * Same code on resend (OTP_RESEND_SAME_CODE): a send to a phone whose code is still live
   * (same purpose and caller, attempts left) sends that code again, keeping its attempts
   * and expiry, instead of replacing it. @defaultValue false
   */
  resendSameCode?: boolean;
  /** The `purpose` values a send may carry. @defaultValue none (a purpose is refused) */
  purposes?: readonly string[];
  /** The clock limits are measured with. @defaultValue Date.now */
  now?: () => number;
  /**
   * Loopback callers (127.0.0.0/8, ::1) skip the per-IP limit: on with debug mode, so local
   * development does not hit "try again in 3036 s" after ~20 sends. @defaultValue false
   */
  loopbackExemptFromIpLimit?: boolean;
  /** Counts sends and verifies per number range and blocks pumping. @defaultValue undefined (off) */
  fraud?: FraudGuard;
  /** Pauses between attempts to undo a timed-out issue. @defaultValue 0.25 s doubling to 8 s */
  undoRetryDelaysMs?: readonly number[];
}

export interface SendOutcome {
  phone: string;
  verificationId: string;
  expiresIn: number;
  resendAfter: number;
  /** The SMS carries the code already sent for this verification (same code on resend). */
  resent: boolean;
  debugCode?: string;
}

/**
 * A kept code must leave the user time to get the SMS and type it: with less life left than
 * this (a minute, or a quarter of OTP_TTL_SECONDS if that is shorter) a resend gets a new code.
 */
export function minRemainingForResendMs(ttlSeconds: number): number {
  return Math.min(60_000, (ttlSeconds * 1000) / 4);
}

export interface RequestContext {
  requestId: string;
  log: FastifyBaseLogger;
  /** The caller's address as limits count it (per-IP limits apply only to callers without an API key). */
  ip?: string;
  /** The caller's own address is loopback (127.0.0.0/8, ::1): local development. */
  loopback?: boolean;
  /** Set when the caller presented an API key. */
  apiKeyName?: string;
  /** The caller's API key is marked trusted: the fraud guard counts its sends but never blocks them. */
  apiKeyTrusted?: boolean;
  /**
   * The request's Idempotency-Key record to store in the same step that spends the code,
   * so a retry whose first answer was lost gets that 200 back.
   */
  verifiedRecord?: { key: string; ttlSeconds: number; value: (phone: string) => string };
  /** Told the phone's country as soon as it is known, even if the request then fails (metrics). */
  onCountry?: (country: string) => void;
  /** What the code is for (`login`, `signup`, …): a code issued for one verifies for no other. */
  purpose?: string;
  /** The SMS text's locale the request asked for; the worker picks its template. */
  locale?: SmsLocale;
  /** An Android SMS Retriever app hash to end the SMS with. */
  appHash?: string;
  /** The app hashes the caller's API key may send; undefined = any. */
  allowedAppHashes?: readonly string[];
  /** The send's metadata (already checked key by key by the route's schema). */
  metadata?: Record<string, string>;
}

/**
 * What a code's digest is made of. The purpose is bound into the HMAC, so a code issued for
 * one purpose simply does not match under another, with no new state in Redis; without a
 * purpose the digest is exactly what it was before purposes existed.
 */
function boundCode(code: string, purpose: string | undefined): string {
  return purpose === undefined ? code : `${code}|purpose:${purpose}`;
}

/**
 * What a kept code must match to be sent again: the purpose (folded into its digest, so a
 * code for another purpose would not verify) and the caller (a code stays with the API key
 * whose verification it is, and GET /verifications/:id reads only the owner's records).
 */
function resendBinding(purpose: string | undefined, apiKeyName: string | undefined): string {
  return `${purpose ?? ''}|${apiKeyName === undefined ? '' : ownerOf(apiKeyName)}`;
}

export interface OtpService {
  /** Stops background undo retries and waits for those in flight (app close). */
  close(): Promise<void>;
  send(phoneInput: string | number, ctx: RequestContext): Promise<SendOutcome>;
  verify(
    phoneInput: string | number,
    codeInput: string | number,
    ctx: RequestContext,
  ): Promise<{ phone: string; verificationId: string }>;
  /**
   * Revokes the record's code if it is still live (then the record is `canceled`); a
   * verification already canceled is answered again as it is. Anything else is
   * 409 VERIFICATION_NOT_CANCELABLE. The caller has checked the record may be read.
   */
  cancel(record: VerificationRecord, ctx: Pick<RequestContext, 'log'>): Promise<void>;
}

export function createOtpService(options: OtpServiceOptions): OtpService {
  const { store, queue, keys, fraud } = options;
  const now = options.now ?? Date.now;

  // A refused send's count runs off the response path (the attack's path stays cheap);
  // the guard's settle() awaits it.
  function inBackground(log: FastifyBaseLogger, work: Promise<unknown> | undefined): void {
    work?.catch((err: unknown) => log.error({ err }, 'fraud guard bookkeeping failed'));
  }

  function logBlock(log: FastifyBaseLogger, block: FraudBlock): void {
    log.warn(
      {
        range: block.range,
        country: block.country,
        mode: block.mode,
        offence: block.level,
        blockSeconds: Math.round((block.expiresAt - block.blockedAt) / 1000),
        recentSends: block.recentSends,
        baselineSends: block.baselineSends,
        sampleSends: block.sampleSends,
        sampleVerified: block.sampleVerified,
      },
      block.mode === 'enforce'
        ? 'fraud guard: number range blocked (many codes, few verified)'
        : 'fraud guard (record_only): number range would be blocked (many codes, few verified)',
    );
  }

  /** The address the per-IP limit counts, or undefined when it does not apply to this caller. */
  function ipToLimit(ctx: RequestContext): string | undefined {
    if (ctx.apiKeyName !== undefined) return undefined;
    if (options.loopbackExemptFromIpLimit && ctx.loopback === true) return undefined;
    return ctx.ip;
  }

  function normalize(input: string | number, ctx: RequestContext): NormalizedPhone {
    const result = normalizePhone(String(input), { allowedCountries: options.allowedCountries });
    if (result.ok || result.code === 'COUNTRY_NOT_ALLOWED') ctx.onCountry?.(result.country);
    if (result.ok) return result;
    if (result.code === 'COUNTRY_NOT_ALLOWED') {
      throw new AppError(ErrorCode.COUNTRY_NOT_ALLOWED, 403, result.reason);
    }
    throw new AppError(ErrorCode.PHONE_INVALID, 400, result.reason);
  }

  function refuseBlocked(phone: string): void {
    if (options.blockedPrefixes.some((prefix) => phone.startsWith(prefix))) {
      throw new AppError(ErrorCode.PHONE_BLOCKED, 403, englishMessage('PHONE_BLOCKED'));
    }
  }

  // A code sent as a JSON number has lost its leading zeros; put them back.
  function normalizeCode(input: string | number): string {
    const code = typeof input === 'number' ? String(input).padStart(options.otpLength, '0') : input.trim();
    if (!new RegExp(`^\\d{${options.otpLength}}$`).test(code)) {
      throw new AppError(ErrorCode.VALIDATION_ERROR, 400, `code must be ${options.otpLength} digits`);
    }
    return code;
  }

  // The code is already spent when its status is written: a failed write is logged, never
  // turned into the request's failure.
  async function recordStatus(
    log: FastifyBaseLogger,
    about: Record<string, unknown>,
    write: () => Promise<unknown> | undefined,
  ) {
    try {
      await write();
    } catch (err) {
      log.error({ ...about, err }, 'could not record verification status');
    }
  }

  // Undo of issues whose answer never came back: retried until Redis answers, stopped on close.
  const undoing = new Set<Promise<void>>();
  const stopUndo = new AbortController();
  const undoDelays = options.undoRetryDelaysMs ?? [250, 500, 1000, 2000, 4000, 8000];
  function undoInBackground(
    input: { phone: string; verificationId: string; limits: readonly SendLimit[] },
    log: FastifyBaseLogger,
  ): void {
    const run = (async () => {
      for (const delayMs of [0, ...undoDelays]) {
        if (delayMs > 0) {
          try {
            await sleep(delayMs, undefined, { signal: stopUndo.signal });
          } catch {
            break;
          }
        }
        if (stopUndo.signal.aborted) break;
        try {
          const undone = await store.revoke(input);
          log.warn(
            { verificationId: input.verificationId, undone },
            'issue undone after Redis did not answer in time',
          );
          return;
        } catch (err) {
          log.warn(
            { err, verificationId: input.verificationId },
            'undo of a timed-out issue failed; retrying',
          );
        }
      }
      log.error({ verificationId: input.verificationId }, 'gave up undoing a timed-out issue');
    })();
    undoing.add(run);
    void run.finally(() => undoing.delete(run));
  }

  // Debug mode answers the code only while no live worker on the queue sends real SMS: a
  // debug API beside a real worker would hand anyone the code of a real phone.
  async function debugCodeAllowed(log: FastifyBaseLogger): Promise<boolean> {
    if (!options.liveTransports) return true;
    try {
      const real = (await options.liveTransports()).filter((name) => name !== DEBUG_TRANSPORT);
      if (real.length === 0) return true;
      log.error(
        { transports: [...new Set(real)] },
        'debug mode, but a live worker on this queue sends real SMS: debug_code left out; unset OTP_DEBUG or use another QUEUE_NAME',
      );
    } catch (err) {
      log.error({ err }, 'could not read worker heartbeats: debug_code left out');
    }
    return false;
  }

  function checkPurpose(purpose: string | undefined): string | undefined {
    if (purpose === undefined || options.purposes?.includes(purpose)) return purpose;
    throw new AppError(
      ErrorCode.VALIDATION_ERROR,
      400,
      `Unknown purpose; use one of: ${(options.purposes ?? []).join(', ') || '(none configured)'}.`,
    );
  }

  // The schema holds the keys, their number and each value's length; this, the total.
  function checkMetadata(metadata: Record<string, string> | undefined): Record<string, string> | undefined {
    if (metadata === undefined || Object.keys(metadata).length === 0) return undefined;
    const bytes = Buffer.byteLength(JSON.stringify(metadata));
    if (bytes > METADATA_LIMITS.maxBytes) {
      throw new AppError(
        ErrorCode.VALIDATION_ERROR,
        400,
        `metadata is too large: ${bytes} bytes as JSON, at most ${METADATA_LIMITS.maxBytes}`,
      );
    }
    return metadata;
  }

  function notCancelable(status: string, why: string): AppError {
    return new AppError(
      ErrorCode.VERIFICATION_NOT_CANCELABLE,
      409,
      `This verification cannot be canceled: ${why}.`,
      { details: { status } },
    );
  }

  return {
    async close() {
      stopUndo.abort();
      await Promise.allSettled([...undoing, fraud?.settle()]);
    },

    async send(phoneInput, ctx) {
      const purpose = checkPurpose(ctx.purpose);
      if (ctx.appHash !== undefined && ctx.allowedAppHashes && !ctx.allowedAppHashes.includes(ctx.appHash)) {
        throw new AppError(
          ErrorCode.VALIDATION_ERROR,
          400,
          "app_hash is not one of this API key's app hashes.",
        );
      }
      const metadata = checkMetadata(ctx.metadata);
      const { e164: phone, country } = normalize(phoneInput, ctx);
      refuseBlocked(phone);
      // Each send has its own id (job id, limit charges, undo); a fresh code's verification
      // is named by it, a kept code's keeps the verification id it was issued with.
      let sendId = randomUUID();
      const testCode = options.testNumbers.get(phone);
      const fresh = testCode ?? generateCode(options.otpLength);
      const binding = resendBinding(purpose, ctx.apiKeyName);
      const at = now();
      const fraudContext: FraudSendContext = {
        phone,
        country,
        now: at,
        isTestNumber: testCode !== undefined,
        trusted: ctx.apiKeyTrusted === true,
      };
      const limits = [
        ...buildSendLimits(options.limits, {
          phone,
          country,
          ip: ipToLimit(ctx),
          isTestNumber: testCode !== undefined,
          now: at,
        }),
        ...(fraud?.limits(fraudContext) ?? []),
      ];

      const issue = (id: string, reuse: boolean) =>
        whileRedisAnswers(() =>
          store
            .issue({
              phone,
              digest: storedCodeDigest(keys, phone, boundCode(fresh, purpose)),
              verificationId: id,
              limits,
              ...(options.resendSameCode
                ? {
                    reuse: {
                      sealedCode: sealStoredCode(keys, fresh, { verificationId: id, phone, binding }),
                      binding,
                      keyIds: (options.keyRing ?? [keys]).map((ring) => ring.keyId),
                      minRemainingMs: minRemainingForResendMs(options.otpTtlSeconds),
                      reuse,
                    },
                  }
                : {}),
              now: at,
            })
            .catch((err: unknown) => {
              // No answer is not "no write": a stalled Redis may still run the issue later,
              // leaving a code, a cooldown and limit charges nobody received. Undo them all
              // by this send's id, in the background, so the client's retry gets a code.
              undoInBackground({ phone, verificationId: id, limits }, ctx.log);
              throw err;
            }),
        );

      let issued = await issue(sendId, true);
      let kept: { verificationId: string; code: string; ttlMs: number } | undefined;
      if (issued.ok && issued.kept) {
        const { verificationId: keptId, sealedCode, ttlMs } = issued.kept;
        try {
          const code = openStoredCode(options.keyRing ?? [keys], sealedCode, {
            verificationId: keptId,
            phone,
            binding,
          });
          kept = { verificationId: keptId, code, ttlMs };
        } catch (err) {
          if (!(err instanceof DecryptError)) throw err;
          // A kept code no key opens (tampered in Redis): give this send back and store a
          // new code instead, so the user still gets one that works.
          ctx.log.error(
            { err: { type: err.name, message: err.message } },
            'kept code cannot be opened; issuing a new one',
          );
          await whileRedisAnswers(() => store.revoke({ phone, verificationId: sendId, limits }));
          sendId = randomUUID();
          issued = await issue(sendId, false);
        }
      }
      const verificationId = kept?.verificationId ?? sendId;
      const code = kept?.code ?? fresh;
      if (!issued.ok && issued.reason === 'undone') {
        throw new AppError(ErrorCode.SERVICE_UNAVAILABLE, 503, englishMessage('SERVICE_UNAVAILABLE'), {
          headers: { 'retry-after': '5' },
        });
      }
      if (!issued.ok) {
        const refusal = issued.reason === 'cooldown' ? 'resend_cooldown' : issued.limit;
        if (refusal === 'fraud_block') inBackground(ctx.log, fraud?.afterRefused(fraudContext));
        ctx.log.info(
          { phone: maskPhone(phone), country, refusal, retryAfterSeconds: issued.retryAfterSeconds },
          'send refused by a limit',
        );
        if (issued.reason === 'cooldown') {
          throw tooMany(ErrorCode.RESEND_TOO_SOON, 'RESEND_TOO_SOON', issued.retryAfterSeconds);
        }
        const limit = LIMIT_ERRORS[issued.limit as SendLimitName];
        throw tooMany(limit.code, limit.message, issued.retryAfterSeconds);
      }

      // Bound to each line instead of a child logger: a child per request costs more than
      // the lines it serves at the default level.
      const about = { verificationId, phone: maskPhone(phone), country };
      const answer: SendOutcome = {
        phone,
        verificationId,
        expiresIn: kept ? Math.max(1, Math.floor(kept.ttlMs / 1000)) : options.otpTtlSeconds,
        resendAfter: options.resendCooldownSeconds,
        resent: kept !== undefined,
        ...(options.debugMode && (await debugCodeAllowed(ctx.log)) ? { debugCode: code } : {}),
      };
      if (testCode !== undefined) {
        // Reviewers and QA: a fixed code and no SMS, but every use is on record.
        ctx.log.warn({ ...about, apiKey: ctx.apiKeyName, ip: ctx.ip }, 'test number used: no SMS sent');
        return answer;
      }
      const acceptedAt = Date.now();
      const data: SendJobData = {
        v: 2,
        verificationId,
        phoneMasked: about.phone,
        country,
        sealed: sealJob(keys, { verificationId, phone, code }),
        acceptedAt,
        requestId: ctx.requestId,
        // Only when asked for: jobs without them stay readable by older workers.
        ...(ctx.locale === undefined ? {} : { locale: ctx.locale }),
        ...(ctx.appHash === undefined ? {} : { appHash: ctx.appHash }),
      };
      // The enqueue and the status record go out together (one round trip on the shared,
      // auto-pipelined connection): the record does not depend on the job, and a worker
      // that picks the job up first writes a stub the record completes. A resend writes no
      // record: the verification's (owner, request, expiry, metadata, and its expiry event,
      // scheduled once on `queued`) stays, and this send's SMS can only move it forward.
      const status = kept ? undefined : options.status;
      // The fraud guard's judgement of this send is a third independent write beside them;
      // it can never fail the send.
      const judged = fraud
        ?.afterSend(fraudContext)
        .then((block) => {
          if (block) logBlock(ctx.log, block);
        })
        .catch((err: unknown) => ctx.log.error({ ...about, err }, 'fraud guard could not judge the send'));
      const [enqueued, recorded] = await Promise.allSettled([
        // One job per send: a resend's job id is its own send id (the worker tells a resend
        // by it), while the job data names the verification whose code it carries.
        whileRedisAnswers(() =>
          (options.queueFor?.(phone) ?? queue).add(
            SEND_JOB_NAME,
            data,
            sendJobOptions(options.jobOptions, verificationId, sendId),
          ),
        ),
        status?.queued({
          verificationId,
          phone,
          country,
          expiresAt: acceptedAt + options.otpTtlSeconds * 1000,
          requestId: ctx.requestId,
          at: acceptedAt,
          ...(ctx.apiKeyName === undefined ? {} : { owner: ownerOf(ctx.apiKeyName) }),
          ...(metadata === undefined ? {} : { metadata }),
        }),
        judged,
      ]);
      if (enqueued.status === 'rejected') {
        // The code is stored but no SMS will carry it: take it back so the client's
        // retry is not refused by the cooldown for a code it never received, and drop the
        // record of a verification the client never learns about.
        if (recorded.status === 'fulfilled') {
          await status?.discard(verificationId).catch((err: unknown) => {
            ctx.log.warn({ ...about, err }, 'could not discard the status record of a failed enqueue');
          });
        }
        // Undone by send id: a resend's undo gives back its own charges and keeps the code,
        // which an earlier SMS may already have brought to the user.
        await store.revoke({ phone, verificationId: sendId, limits }).catch((revokeErr: unknown) => {
          ctx.log.warn(
            { ...about, err: revokeErr },
            'could not revoke code after enqueue failure; retrying in the background',
          );
          undoInBackground({ phone, verificationId: sendId, limits }, ctx.log);
        });
        throw enqueued.reason;
      }
      // The code is already issued when a status is written: a failed write is logged,
      // never turned into the request's failure.
      if (recorded.status === 'rejected') {
        ctx.log.error({ ...about, err: recorded.reason }, 'could not record verification status');
      }
      ctx.log.info(about, kept ? 'code kept and resend queued' : 'code issued and send queued');
      return answer;
    },

    async cancel(record, ctx) {
      const { verificationId } = record;
      if (record.status === 'canceled') return;
      if (record.status === 'verified') throw notCancelable(record.status, 'its code was already used');
      if (record.status === 'expired') throw notCancelable(record.status, 'its code has expired');
      // Records written before cancel existed do not name the number, so not its code either.
      if (record.phoneE164 === undefined) throw notCancelable(record.status, 'its code cannot be found');
      const phone = record.phoneE164;
      // The code store decides: a verify that spent the code first wins, and a newer code
      // for the same number is never touched.
      const outcome = await whileRedisAnswers(() => store.cancel({ phone, verificationId }));
      if (outcome === 'gone') throw notCancelable(record.status, 'its code was already used or has expired');
      if (outcome === 'replaced') {
        throw notCancelable(record.status, 'a newer code for this number replaced its code');
      }
      // 'canceled', or 'already' (a cancel whose status write failed): record it now. This
      // write is the answer, so its failure is the request's (the retry finds 'already').
      await whileRedisAnswers(async () => {
        await options.status?.canceled({ verificationId });
      });
      ctx.log.info({ verificationId, phone: maskPhone(phone) }, 'code canceled');
    },

    async verify(phoneInput, codeInput, ctx) {
      const purpose = checkPurpose(ctx.purpose);
      const { e164: phone, country } = normalize(phoneInput, ctx);
      const code = normalizeCode(codeInput);
      const result = await whileRedisAnswers(() =>
        store.verify({
          phone,
          digest: codeDigestCandidates(options.keyRing ?? [keys], phone, boundCode(code, purpose)),
          // An API key is one client; otherwise the caller's address is.
          client: ctx.apiKeyName === undefined ? `ip:${ctx.ip ?? 'unknown'}` : `key:${ctx.apiKeyName}`,
          // OTP_VERIFIES_PER_IP_PER_HOUR is for anonymous callers: a key's backend verifies
          // for all its users, and the key has its own quota.
          limitClient: ctx.apiKeyName === undefined,
          ...(ctx.verifiedRecord
            ? {
                onVerified: {
                  key: ctx.verifiedRecord.key,
                  value: ctx.verifiedRecord.value(phone),
                  ttlSeconds: ctx.verifiedRecord.ttlSeconds,
                },
              }
            : {}),
          now: now(),
        }),
      );
      // Fields bound to each line rather than a child logger (see send).
      const about = {
        phone: maskPhone(phone),
        ...('verificationId' in result ? { verificationId: result.verificationId } : {}),
      };
      const log = ctx.log;
      switch (result.status) {
        case 'limited':
          log.warn(
            { ...about, retryAfterSeconds: result.retryAfterSeconds, scope: result.scope },
            'verify refused: too many failures',
          );
          throw tooMany(
            ErrorCode.VERIFY_LIMIT_EXCEEDED,
            result.scope === 'caller' ? 'VERIFY_LIMIT_EXCEEDED.caller' : 'VERIFY_LIMIT_EXCEEDED.phone',
            result.retryAfterSeconds,
          );
        case 'verified':
          await Promise.all([
            recordStatus(log, about, () =>
              options.status?.verified({ verificationId: result.verificationId }),
            ),
            fraud
              ?.afterVerify({ phone, country, now: now() })
              .catch((err: unknown) =>
                log.error({ ...about, err }, 'fraud guard could not count the verify'),
              ),
          ]);
          log.info(about, 'code verified');
          return { phone, verificationId: result.verificationId };
        case 'invalid':
          log.info({ ...about, attemptsLeft: result.attemptsLeft }, 'wrong code');
          throw new AppError(
            ErrorCode.OTP_INVALID,
            400,
            englishMessage('OTP_INVALID', { attempts_left: result.attemptsLeft }),
            { details: { attempts_left: result.attemptsLeft } },
          );
        case 'attempts_exceeded':
          log.warn(about, 'verify refused: attempts exceeded');
          throw new AppError(ErrorCode.OTP_ATTEMPTS_EXCEEDED, 429, englishMessage('OTP_ATTEMPTS_EXCEEDED'));
        default:
          throw new AppError(ErrorCode.OTP_EXPIRED, 400, englishMessage('OTP_EXPIRED'));
      }
    },
  };
}
