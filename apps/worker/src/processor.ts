import {
  type CodeStore,
  DecryptError,
  jobPhoneMasked,
  type Logger,
  openSendJob,
  renderTemplate,
  type SecretKeys,
  SendJobData,
  type SendJobResult,
} from '@otp/core';
import { UnrecoverableError } from 'bullmq';
import Value from 'typebox/value';
import type { SendEvent, SendEventListener } from './send-events.js';
import type { SmsTransport } from './transports/sms-transport.js';

/** The parts of a BullMQ job the processor reads; real jobs satisfy it. */
export interface SendJob {
  id?: string;
  data: unknown;
  /** Attempts already made before this one. */
  attemptsMade: number;
  opts: { attempts?: number };
}

export interface SendProcessorDeps {
  store: Pick<CodeStore, 'isLive'>;
  /** OTP_SECRET's keys, then OTP_SECRET_PREVIOUS's while rotating (see deriveKeyRing). */
  keys: readonly SecretKeys[];
  template: string;
  /** Messaggio, or the debug transport in debug mode. */
  transport: SmsTransport;
  /** Used once when the transport fails for good (OTP_DEBUG_FALLBACK). */
  fallback?: SmsTransport;
  logger: Logger;
  /** Told of every step; a listener that throws is logged, never fails the send. */
  onEvent?: SendEventListener;
}

/** Whether retrying can help: only errors that say so explicitly are permanent. */
function isPermanent(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { retryable?: unknown }).retryable === false;
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : err instanceof Error ? err.name : 'UNKNOWN';
}

function describe(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  const { code, status, retryable, retryAfterMs, title, detail } = err as Error & Record<string, unknown>;
  return { type: err.name, message: err.message, code, status, retryable, retryAfterMs, title, detail };
}

/**
 * Delivers one send job: skip it if its code is no longer usable, decrypt, render, send.
 * Throwing hands the retry decision to BullMQ; UnrecoverableError stops retries at once.
 */
export function createSendProcessor(deps: SendProcessorDeps) {
  const baseLog = deps.logger.child({ component: 'processor' });
  // `log` is the job's logger, so even this line carries the verification and request ids.
  async function emit(log: Logger, event: SendEvent): Promise<void> {
    try {
      await deps.onEvent?.(event);
    } catch (err) {
      log.error({ err, event: event.type }, 'send event listener failed');
    }
  }

  return async function processSendJob(job: SendJob): Promise<SendJobResult> {
    if (!Value.Check(SendJobData, job.data)) {
      // A job from a newer or broken producer: retrying cannot make it readable.
      baseLog.error({ jobId: job.id }, 'send job has an unknown shape; dropping it');
      throw new UnrecoverableError('send job payload does not match the contract (v1)');
    }
    const data = job.data;
    const attempt = job.attemptsMade + 1;
    const maxAttempts = job.opts.attempts ?? 1;
    const log = baseLog.child({
      verificationId: data.verificationId,
      requestId: data.requestId,
      jobId: job.id,
      phone: jobPhoneMasked(data),
      attempt,
    });

    // The phone (v2) travels sealed with the code: open the job first.
    let phone: string;
    let code: string;
    try {
      ({ phone, code } = openSendJob(deps.keys, data));
    } catch (err) {
      if (err instanceof DecryptError) {
        log.error(
          { err: describe(err) },
          'cannot decrypt the job; check OTP_SECRET (and OTP_SECRET_PREVIOUS while rotating) match the API',
        );
        // Its status must not stay `queued` forever: it failed, for good.
        await emit(log, {
          type: 'failed',
          verificationId: data.verificationId,
          country: data.country,
          attempt,
          transport: deps.transport.name,
          errorCode: err.code,
          reason: 'the job could not be decrypted',
          permanent: true,
        });
        throw new UnrecoverableError(err.message);
      }
      throw err;
    }

    const live = await deps.store.isLive({ phone, verificationId: data.verificationId });
    if (!live.live) {
      // Expired, spent, replaced by a newer code, or dead after wrong guesses: an SMS now
      // would carry a code that cannot work.
      log.info({ reason: live.reason }, 'skipped: code is no longer usable');
      await emit(log, {
        type: 'skipped',
        verificationId: data.verificationId,
        country: data.country,
        reason: live.reason,
      });
      return { outcome: 'skipped', skippedBecause: live.reason };
    }

    const message = {
      phone,
      text: renderTemplate(deps.template, code),
      code,
      verificationId: data.verificationId,
      requestId: data.requestId,
      ttlSeconds: Math.max(1, Math.floor(live.ttlMs / 1000)),
    };
    const ids = { verificationId: data.verificationId, country: data.country, attempt };
    const transport = deps.transport.name;
    await emit(log, { type: 'sending', ...ids });
    try {
      const receipt = await deps.transport.send(message);
      const latencyMs = Date.now() - data.acceptedAt;
      log.info(
        { transport, providerMessageId: receipt.providerMessageId, latencyMs },
        'sms handed to provider',
      );
      await emit(log, {
        type: 'sent',
        ...ids,
        transport,
        providerMessageId: receipt.providerMessageId,
        latencyMs,
      });
      return {
        outcome: transport === 'messaggio' ? 'sent' : 'debug',
        transport,
        providerMessageId: receipt.providerMessageId,
      };
    } catch (err) {
      const permanent = isPermanent(err);
      const lastAttempt = permanent || attempt >= maxAttempts;
      if (!lastAttempt) {
        log.warn({ err: describe(err), maxAttempts }, 'send failed; will retry');
        await emit(log, { type: 'retrying', ...ids, transport, errorCode: errorCode(err) });
        throw err;
      }
      log.error({ err: describe(err), maxAttempts, permanent }, 'send failed for good');
      await emit(log, {
        type: 'failed',
        ...ids,
        transport,
        errorCode: errorCode(err),
        reason: err instanceof Error ? err.message : String(err),
        permanent,
      });
      if (deps.fallback) {
        await deps.fallback.send(message);
      }
      // The job still fails, with its reason, so the failure shows in Bull Board and metrics.
      if (permanent) throw new UnrecoverableError(err instanceof Error ? err.message : String(err));
      throw err;
    }
  };
}
