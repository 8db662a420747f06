import { randomUUID } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AppError,
  type CodeStore,
  codeDigestCandidates,
  DEBUG_TRANSPORT,
  ErrorCode,
  generateCode,
  maskPhone,
  type NormalizedPhone,
  normalizePhone,
  SEND_JOB_NAME,
  type SecretKeys,
  type SendJobData,
  type SendJobOptionsInput,
  type SendLimit,
  type StatusStore,
  sealJob,
  sendJobOptions,
  storedCodeDigest,
} from '@otp/core';
import type { Queue } from 'bullmq';
import type { FastifyBaseLogger } from 'fastify';
import type { FraudBlock, FraudGuard, FraudSendContext } from './fraud-guard.js';
import { REDIS_ERROR_CODES, whileRedisAnswers } from './redis-errors.js';
import { buildSendLimits, type SendLimitName, type SendLimitSettings } from './send-limits.js';

const LIMIT_ERRORS: Record<SendLimitName, { code: ErrorCode; message: (retryAfter: number) => string }> = {
  verify_lock: {
    code: ErrorCode.PHONE_VERIFY_LOCKED,
    message: (s) =>
      `Too many failed verifies for this number; no new code can be sent or checked for ${s} s.`,
  },
  phone_hour: {
    code: ErrorCode.PHONE_SEND_LIMIT,
    message: (s) => `Too many codes sent to this number this hour; try again in ${s} s.`,
  },
  phone_day: {
    code: ErrorCode.PHONE_SEND_LIMIT,
    message: (s) => `Too many codes sent to this number today; try again in ${s} s.`,
  },
  ip_hour: {
    code: ErrorCode.IP_SEND_LIMIT,
    message: (s) => `Too many codes requested from this address; try again in ${s} s.`,
  },
  country_day: {
    code: ErrorCode.COUNTRY_SEND_LIMIT,
    message: (s) => `The daily SMS limit for this country is reached; try again in ${s} s.`,
  },
  daily_budget: {
    code: ErrorCode.SMS_BUDGET_EXHAUSTED,
    message: (s) => `The daily SMS budget is spent; sending resumes in ${s} s.`,
  },
  fraud_block: {
    code: ErrorCode.FRAUD_SUSPECTED,
    message: (s) => `Codes to this number range are paused after suspicious traffic; try again in ${s} s.`,
  },
};

function tooMany(code: ErrorCode, message: string, retryAfterSeconds: number): AppError {
  return new AppError(code, 429, message, {
    headers: { 'retry-after': String(retryAfterSeconds) },
    details: { retry_after: retryAfterSeconds },
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
  status?: Pick<StatusStore, 'queued' | 'verified'>;
  limits: SendLimitSettings;
  /** E.164 prefixes refused with 403 PHONE_BLOCKED. */
  blockedPrefixes: readonly string[];
  /** E.164 → fixed code; these get no SMS but otherwise behave like any number. */
  testNumbers: ReadonlyMap<string, string>;
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
  debugCode?: string;
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
}

/**
 * What a code's digest is made of. The purpose is bound into the HMAC, so a code issued for
 * one purpose simply does not match under another, with no new state in Redis; without a
 * purpose the digest is exactly what it was before purposes existed.
 */
function boundCode(code: string, purpose: string | undefined): string {
  return purpose === undefined ? code : `${code}|purpose:${purpose}`;
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
      throw new AppError(ErrorCode.PHONE_BLOCKED, 403, 'Codes cannot be sent to this number.');
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

  // The code is already issued (or spent) when a status is written: a failed write is
  // logged, never turned into the request's failure.
  async function recordStatus(log: FastifyBaseLogger, write: () => Promise<unknown> | undefined) {
    try {
      await write();
    } catch (err) {
      log.error({ err }, 'could not record verification status');
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

  return {
    async close() {
      stopUndo.abort();
      await Promise.allSettled([...undoing, fraud?.settle()]);
    },

    async send(phoneInput, ctx) {
      const purpose = checkPurpose(ctx.purpose);
      const { e164: phone, country } = normalize(phoneInput, ctx);
      refuseBlocked(phone);
      const verificationId = randomUUID();
      const testCode = options.testNumbers.get(phone);
      const code = testCode ?? generateCode(options.otpLength);
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

      const issued = await whileRedisAnswers(() =>
        store
          .issue({
            phone,
            digest: storedCodeDigest(keys, phone, boundCode(code, purpose)),
            verificationId,
            limits,
            now: at,
          })
          .catch((err: unknown) => {
            // No answer is not "no write": a stalled Redis may still run the issue later,
            // leaving a code, a cooldown and limit charges nobody received. Undo them all
            // by verification id, in the background, so the client's retry gets a code.
            undoInBackground({ phone, verificationId, limits }, ctx.log);
            throw err;
          }),
      );
      if (!issued.ok && issued.reason === 'undone') {
        throw new AppError(
          ErrorCode.SERVICE_UNAVAILABLE,
          503,
          'The service is temporarily unavailable; try again shortly.',
          {
            headers: { 'retry-after': '5' },
          },
        );
      }
      if (!issued.ok) {
        const refusal = issued.reason === 'cooldown' ? 'resend_cooldown' : issued.limit;
        if (refusal === 'fraud_block') inBackground(ctx.log, fraud?.afterRefused(fraudContext));
        ctx.log.info(
          { phone: maskPhone(phone), country, refusal, retryAfterSeconds: issued.retryAfterSeconds },
          'send refused by a limit',
        );
        if (issued.reason === 'cooldown') {
          throw tooMany(
            ErrorCode.RESEND_TOO_SOON,
            `A code was sent to this number recently; ask again in ${issued.retryAfterSeconds} s.`,
            issued.retryAfterSeconds,
          );
        }
        const limit = LIMIT_ERRORS[issued.limit as SendLimitName];
        throw tooMany(limit.code, limit.message(issued.retryAfterSeconds), issued.retryAfterSeconds);
      }

      const log = ctx.log.child({ verificationId, phone: maskPhone(phone), country });
      const answer: SendOutcome = {
        phone,
        verificationId,
        expiresIn: options.otpTtlSeconds,
        resendAfter: options.resendCooldownSeconds,
        ...(options.debugMode && (await debugCodeAllowed(log)) ? { debugCode: code } : {}),
      };
      if (testCode !== undefined) {
        // Reviewers and QA: a fixed code and no SMS, but every use is on record.
        log.warn({ apiKey: ctx.apiKeyName, ip: ctx.ip }, 'test number used: no SMS sent');
        return answer;
      }
      const data: SendJobData = {
        v: 2,
        verificationId,
        phoneMasked: maskPhone(phone),
        country,
        sealed: sealJob(keys, { verificationId, phone, code }),
        acceptedAt: Date.now(),
        requestId: ctx.requestId,
      };
      try {
        await whileRedisAnswers(() =>
          queue.add(SEND_JOB_NAME, data, sendJobOptions(options.jobOptions, verificationId)),
        );
      } catch (err) {
        // The code is stored but no SMS will carry it: take it back so the client's
        // retry is not refused by the cooldown for a code it never received.
        await store.revoke({ phone, verificationId, limits }).catch((revokeErr: unknown) => {
          log.warn(
            { err: revokeErr },
            'could not revoke code after enqueue failure; retrying in the background',
          );
          undoInBackground({ phone, verificationId, limits }, log);
        });
        throw err;
      }
      // The status record and the fraud guard's judgement of this send are independent
      // writes, issued together (one round trip's wait); neither can fail the send.
      await Promise.all([
        recordStatus(log, () =>
          options.status?.queued({
            verificationId,
            phone,
            country,
            expiresAt: data.acceptedAt + options.otpTtlSeconds * 1000,
            requestId: ctx.requestId,
            at: data.acceptedAt,
            ...(ctx.apiKeyName === undefined ? {} : { owner: ownerOf(ctx.apiKeyName) }),
          }),
        ),
        fraud
          ?.afterSend(fraudContext)
          .then((block) => {
            if (block) logBlock(log, block);
          })
          .catch((err: unknown) => log.error({ err }, 'fraud guard could not judge the send')),
      ]);
      log.info('code issued and send queued');
      return answer;
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
      const log = ctx.log.child({
        phone: maskPhone(phone),
        ...('verificationId' in result ? { verificationId: result.verificationId } : {}),
      });
      switch (result.status) {
        case 'limited':
          log.warn(
            { retryAfterSeconds: result.retryAfterSeconds, scope: result.scope },
            'verify refused: too many failures',
          );
          throw tooMany(
            ErrorCode.VERIFY_LIMIT_EXCEEDED,
            result.scope === 'caller'
              ? `Too many failed attempts from this address; try again in ${result.retryAfterSeconds} s.`
              : `Too many failed attempts for this number; try again in ${result.retryAfterSeconds} s.`,
            result.retryAfterSeconds,
          );
        case 'verified':
          await Promise.all([
            recordStatus(log, () => options.status?.verified({ verificationId: result.verificationId })),
            fraud
              ?.afterVerify({ phone, country, now: now() })
              .catch((err: unknown) => log.error({ err }, 'fraud guard could not count the verify')),
          ]);
          log.info('code verified');
          return { phone, verificationId: result.verificationId };
        case 'invalid':
          log.info({ attemptsLeft: result.attemptsLeft }, 'wrong code');
          throw new AppError(
            ErrorCode.OTP_INVALID,
            400,
            result.attemptsLeft > 0
              ? `Wrong code; ${result.attemptsLeft} attempt(s) left.`
              : 'Wrong code; no attempts left, ask for a new code.',
            { details: { attempts_left: result.attemptsLeft } },
          );
        case 'attempts_exceeded':
          log.warn('verify refused: attempts exceeded');
          throw new AppError(
            ErrorCode.OTP_ATTEMPTS_EXCEEDED,
            429,
            'Too many wrong codes; this code no longer works. Ask for a new code.',
          );
        default:
          throw new AppError(
            ErrorCode.OTP_EXPIRED,
            400,
            'No valid code for this number: it expired, was used, or was never sent.',
          );
      }
    },
  };
}
