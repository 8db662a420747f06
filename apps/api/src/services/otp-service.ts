import { randomUUID } from 'node:crypto';
import {
  AppError,
  type CodeStore,
  codeDigest,
  ErrorCode,
  generateCode,
  maskPhone,
  type NormalizedPhone,
  normalizePhone,
  SEND_JOB_NAME,
  type SecretKeys,
  type SendJobData,
  type SendJobOptionsInput,
  sealCode,
  sendJobOptions,
} from '@otp/core';
import type { Queue } from 'bullmq';
import type { FastifyBaseLogger } from 'fastify';
import { whileRedisAnswers } from './redis-errors.js';

export interface OtpServiceOptions {
  store: CodeStore;
  queue: Pick<Queue, 'add'>;
  keys: SecretKeys;
  allowedCountries: readonly string[];
  otpLength: number;
  otpTtlSeconds: number;
  resendCooldownSeconds: number;
  jobOptions: SendJobOptionsInput;
  /** Put the code in the answer (no real SMS provider configured). */
  debugMode: boolean;
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
}

export interface OtpService {
  send(phoneInput: string | number, ctx: RequestContext): Promise<SendOutcome>;
  verify(
    phoneInput: string | number,
    codeInput: string | number,
    ctx: RequestContext,
  ): Promise<{ phone: string }>;
}

export function createOtpService(options: OtpServiceOptions): OtpService {
  const { store, queue, keys } = options;

  function normalize(input: string | number): NormalizedPhone {
    const result = normalizePhone(String(input), { allowedCountries: options.allowedCountries });
    if (result.ok) return result;
    if (result.code === 'COUNTRY_NOT_ALLOWED') {
      throw new AppError(ErrorCode.COUNTRY_NOT_ALLOWED, 403, result.reason);
    }
    throw new AppError(ErrorCode.PHONE_INVALID, 400, result.reason);
  }

  // A code sent as a JSON number has lost its leading zeros; put them back.
  function normalizeCode(input: string | number): string {
    const code = typeof input === 'number' ? String(input).padStart(options.otpLength, '0') : input.trim();
    if (!new RegExp(`^\\d{${options.otpLength}}$`).test(code)) {
      throw new AppError(ErrorCode.VALIDATION_ERROR, 400, `code must be ${options.otpLength} digits`);
    }
    return code;
  }

  return {
    async send(phoneInput, ctx) {
      const { e164: phone, country } = normalize(phoneInput);
      const verificationId = randomUUID();
      const code = generateCode(options.otpLength);

      const issued = await whileRedisAnswers(() =>
        store.issue({ phone, digest: codeDigest(keys.codeHmacKey, phone, code), verificationId }),
      );
      if (!issued.ok) {
        ctx.log.info(
          { phone: maskPhone(phone), country, retryAfterSeconds: issued.retryAfterSeconds },
          'send refused: resend cooldown',
        );
        throw new AppError(
          ErrorCode.RESEND_TOO_SOON,
          429,
          `A code was sent to this number recently; ask again in ${issued.retryAfterSeconds} s.`,
          {
            headers: { 'retry-after': String(issued.retryAfterSeconds) },
            details: { retry_after: issued.retryAfterSeconds },
          },
        );
      }

      const log = ctx.log.child({ verificationId, phone: maskPhone(phone), country });
      const data: SendJobData = {
        v: 1,
        verificationId,
        phone,
        country,
        sealedCode: sealCode(keys.jobCipherKey, code, { verificationId, phone }),
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
        await store.revoke({ phone, verificationId }).catch((revokeErr: unknown) => {
          log.error({ err: revokeErr }, 'could not revoke code after enqueue failure');
        });
        throw err;
      }
      log.info('code issued and send queued');
      return {
        phone,
        verificationId,
        expiresIn: options.otpTtlSeconds,
        resendAfter: options.resendCooldownSeconds,
        ...(options.debugMode ? { debugCode: code } : {}),
      };
    },

    async verify(phoneInput, codeInput, ctx) {
      const { e164: phone } = normalize(phoneInput);
      const code = normalizeCode(codeInput);
      const result = await whileRedisAnswers(() =>
        store.verify({ phone, digest: codeDigest(keys.codeHmacKey, phone, code) }),
      );
      const log = ctx.log.child({
        phone: maskPhone(phone),
        ...('verificationId' in result ? { verificationId: result.verificationId } : {}),
      });
      switch (result.status) {
        case 'verified':
          log.info('code verified');
          return { phone };
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
