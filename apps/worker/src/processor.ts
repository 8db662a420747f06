import {
  type CodeStore,
  DecryptError,
  type FailureCode,
  jobPhoneMasked,
  type Logger,
  openSendJob,
  pickTemplate,
  renderSms,
  type SecretKeys,
  SendJobData,
  type SendJobResult,
  type SmsTemplates,
} from '@otp/core';
import {
  errorScope,
  isSmsError,
  redactSecrets,
  SmsError,
  type SmsErrorScope,
  type SmsProvider,
} from '@otp/sms';
import { DelayedError, UnrecoverableError } from 'bullmq';
import { Compile } from 'typebox/compile';
import { baseDelayOf, retryFitsCodeLife } from './backoff.js';
import type { OutgoingSms } from './providers/outgoing-sms.js';
import type { BreakerGate, SharedBreaker } from './providers/shared-breaker.js';
import type { SendEvent, SendEventListener } from './send-events.js';

/** The parts of a BullMQ job the processor reads; real jobs satisfy it. */
export interface SendJob {
  id?: string;
  data: unknown;
  /** Attempts already made before this one. */
  attemptsMade: number;
  opts: { attempts?: number; backoff?: unknown };
  /** Where the job stands in the chain (see ChainProgress); BullMQ keeps it across attempts. */
  progress?: unknown;
  updateProgress?(progress: object): Promise<void>;
  moveToDelayed?(timestamp: number, token?: string): Promise<void>;
}

/** One provider in the chain, with its breaker. */
export interface ChainLink {
  provider: SmsProvider;
  /** Values its errors may echo (credentials, callback URL), redacted with the code and text. */
  secrets: readonly string[];
  /** Absent for the debug provider: there is nothing to protect. */
  breaker?: SharedBreaker;
}

export interface SendProcessorDeps {
  store: Pick<CodeStore, 'isLive' | 'revoke'>;
  /** OTP_SECRET's keys, then OTP_SECRET_PREVIOUS's while rotating (see deriveKeyRing). */
  keys: readonly SecretKeys[];
  /** SMS_TEMPLATE: the text when no locale's template applies. */
  template: string;
  /** Per-locale templates (SMS_TEMPLATE_RU/_KK/_EN, SMS_TEMPLATES). @defaultValue none */
  localeTemplates?: SmsTemplates['byLocale'];
  /** OTP_ORIGIN: ends the text with `@<origin> #<code>`. @defaultValue none */
  origin?: string;
  /** The providers in SMS_PROVIDERS order; `[debug]` in debug mode. */
  chain: readonly ChainLink[];
  /** Failed tries on one provider before the job moves on (SMS_FAILOVER_AFTER). @defaultValue 2 */
  failoverAfter?: number;
  /** Used once when the chain fails for good (OTP_DEBUG_FALLBACK); the code is then not revoked. */
  fallback?: SmsProvider;
  logger: Logger;
  /** SMS_RETRY_MAX_DELAY_MS, for the guard that stops retrying before the code expires. @defaultValue 60000 */
  retryMaxDelayMs?: number;
  /** Told of every step; a listener that throws is logged, never fails the send. */
  onEvent?: SendEventListener;
  /**
   * Aborted at the shutdown deadline: the call in flight is cancelled, not left to race the
   * retry another worker makes once this job's lock expires.
   */
  signal?: AbortSignal;
  /** @defaultValue Date.now */
  now?: () => number;
}

// Compiled once: the interpreting Value.Check walked the schema for every job.
const checkSendJobData = Compile(SendJobData);

/** What a job remembers between attempts: providers it gave up on and tries per provider. */
interface ChainProgress {
  gaveUp: string[];
  tries: Record<string, number>;
}

function readProgress(progress: unknown): ChainProgress {
  const chain = (progress as { chain?: Partial<ChainProgress> } | null | undefined)?.chain;
  return {
    gaveUp: Array.isArray(chain?.gaveUp) ? chain.gaveUp.filter((p) => typeof p === 'string') : [],
    tries: typeof chain?.tries === 'object' && chain.tries !== null ? { ...chain.tries } : {},
  };
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : err instanceof Error ? err.name : 'UNKNOWN';
}

const FAILURE_BY_SCOPE: Record<SmsErrorScope, FailureCode> = {
  message: 'SMS_REJECTED',
  provider: 'SMS_PROVIDER_UNAVAILABLE',
  transient: 'SMS_DELIVERY_FAILED',
};

/**
 * The error as it may be logged and stored (BullMQ's failedReason and stack): the provider's
 * text with the code, the SMS text and the provider's secrets removed, and no `cause` (whose
 * title and detail are the provider's unredacted words).
 */
function redactedError(err: unknown, provider: string, secrets: readonly string[]): SmsError {
  const text = err instanceof Error ? err.message : String(err);
  return new SmsError({
    provider: isSmsError(err) ? err.provider : provider,
    scope: errorScope(err),
    code: errorCode(err),
    message: redactSecrets(text, secrets),
    ...(isSmsError(err) && err.status !== undefined ? { status: err.status } : {}),
    ...(isSmsError(err) && err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}),
  });
}

function logged(err: SmsError): Record<string, unknown> {
  const { provider, scope, code, status, retryAfterMs, message } = err;
  return { type: err.name, provider, scope, code, status, retryAfterMs, message };
}

type LogLevel = 'info' | 'warn' | 'error';
/** A job's lines, each carrying the job's fields. */
type JobLog = Record<LogLevel, (fields: Record<string, unknown> | string, message?: string) => void>;

/**
 * The job's fields put on each line it writes, instead of a pino child per job: a child
 * serializes its fields when made, a cost every job paid for lines that, at the default
 * level, a delivered SMS writes one of (and at `warn`, none).
 */
function jobLog(base: Logger, about: Record<string, unknown>): JobLog {
  const at =
    (level: LogLevel) =>
    (fields: Record<string, unknown> | string, message?: string): void => {
      if (!base.isLevelEnabled(level)) return;
      if (typeof fields === 'string') base[level](about, fields);
      else base[level]({ ...about, ...fields }, message);
    };
  return { info: at('info'), warn: at('warn'), error: at('error') };
}

/**
 * Delivers one send job: skip it if its code is no longer usable, decrypt, render, then walk
 * the provider chain. A job tries the first provider it has not given up on whose breaker lets
 * it; a transient failure retries (BullMQ's backoff) and after `failoverAfter` tries on one
 * provider moves to the next at once; a provider-scope failure moves on at once (or fails the
 * job when there is no next); a message-scope failure fails the job. When every remaining
 * provider's breaker is open the job waits for the earliest cool-down without using an attempt.
 */
export function createSendProcessor(deps: SendProcessorDeps) {
  const baseLog = deps.logger.child({ component: 'processor' });
  const templates: SmsTemplates = { default: deps.template, byLocale: deps.localeTemplates ?? {} };
  const failoverAfter = deps.failoverAfter ?? 2;
  const now = deps.now ?? Date.now;
  // `log` is the job's logger, so even this line carries the verification and request ids.
  async function emit(log: JobLog, event: SendEvent): Promise<void> {
    try {
      await deps.onEvent?.(event);
    } catch (err) {
      log.error({ err, event: event.type }, 'send event listener failed');
    }
  }

  const background = new Set<Promise<void>>();
  function inBackground(work: Promise<void>): void {
    background.add(work);
    void work.finally(() => background.delete(work));
  }

  async function processSendJob(job: SendJob, token?: string): Promise<SendJobResult> {
    if (!checkSendJobData.Check(job.data)) {
      // A job from a newer or broken producer: retrying cannot make it readable.
      baseLog.error({ jobId: job.id }, 'send job has an unknown shape; dropping it');
      throw new UnrecoverableError('send job payload does not match the contract (v1)');
    }
    const data = job.data;
    const attempt = job.attemptsMade + 1;
    const maxAttempts = job.opts.attempts ?? 1;
    const log = jobLog(baseLog, {
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
          { err: { type: err.name, code: err.code, message: err.message } },
          'cannot decrypt the job; check OTP_SECRET (and OTP_SECRET_PREVIOUS while rotating) match the API',
        );
        // Its status must not stay `queued` forever: it failed, for good.
        await emit(log, {
          type: 'failed',
          verificationId: data.verificationId,
          country: data.country,
          attempt,
          provider: deps.chain[0]?.provider.name ?? 'none',
          errorCode: err.code,
          scope: 'message',
          failureCode: 'SMS_JOB_UNREADABLE',
          permanent: true,
        });
        throw new UnrecoverableError(err.message);
      }
      throw err;
    }

    const progress = readProgress(job.progress);
    const pending = deps.chain.filter((link) => !progress.gaveUp.includes(link.provider.name));
    // The liveness check and the first provider's breaker gate are independent: asked
    // together, one round trip. A gate the job will not use (its code is gone, or the
    // check failed) is handed back, so a half-open probe's lease is not held for nothing.
    const [checked, gated] = await Promise.allSettled([
      deps.store.isLive({ phone, verificationId: data.verificationId }),
      pending[0]?.breaker?.acquire(),
    ]);
    const firstGate = gated.status === 'fulfilled' ? gated.value : undefined;
    if (checked.status === 'rejected' || !checked.value.live) {
      if (firstGate) {
        await pending[0]?.breaker
          ?.release(firstGate)
          .catch((err: unknown) => log.warn({ err }, 'could not hand back the breaker gate'));
      }
      if (checked.status === 'rejected') throw checked.reason;
    }
    const live = checked.value;
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

    const expiresAt = now() + live.ttlMs;

    const message: OutgoingSms = {
      phone,
      text: renderSms({
        template: pickTemplate(templates, {
          ...('locale' in data && data.locale !== undefined ? { locale: data.locale } : {}),
          country: data.country,
        }),
        code,
        ...(deps.origin === undefined ? {} : { origin: deps.origin }),
        ...('appHash' in data && data.appHash !== undefined ? { appHash: data.appHash } : {}),
      }),
      code,
      verificationId: data.verificationId,
      ...(data.requestId === undefined ? {} : { requestId: data.requestId }),
      ttlSeconds: Math.max(1, Math.floor(live.ttlMs / 1000)),
    };
    const ids = { verificationId: data.verificationId, country: data.country, attempt };
    const saveProgress = async () => {
      try {
        await job.updateProgress?.({ chain: progress });
      } catch (err) {
        log.warn({ err }, 'could not record the chain progress; the next attempt starts over');
      }
    };

    /** Gives up for good: log, record, fall back or revoke, and hand BullMQ the redacted error. */
    /**
     * `permanent`: no retry could ever help (the message or the provider is at fault).
     * `outOfTime`: one could, but it would land after the code expired.
     */
    async function failForGood(
      err: SmsError,
      provider: string,
      permanent: boolean,
      outOfTime = false,
    ): Promise<never> {
      const failureCode = FAILURE_BY_SCOPE[err.scope];
      log.error(
        { err: logged(err), provider, maxAttempts, permanent, outOfTime, failureCode },
        'send failed for good',
      );
      await emit(log, {
        type: 'failed',
        ...ids,
        provider,
        errorCode: err.code,
        scope: err.scope,
        failureCode,
        permanent,
      });
      if (deps.fallback) {
        await deps.fallback.send(message);
      } else if (job.id !== undefined && job.id !== data.verificationId) {
        // A resend of a kept code (its job id is the send's own): an earlier SMS may already
        // have brought this code to the user, so it stays; it still expires on its own.
        log.info('code kept: a resend failed, an earlier SMS may have carried it');
      } else {
        // A code that never reached the phone must not verify: whoever knows it did not get it by SMS.
        await deps.store.revoke({ phone, verificationId: data.verificationId });
        log.info('code revoked: its SMS was never sent');
      }
      // The job still fails, with its (redacted) reason, so the failure shows in Bull Board and metrics.
      // UnrecoverableError also when out of time: BullMQ would otherwise spend the attempts left.
      throw permanent || outOfTime ? new UnrecoverableError(err.message) : err;
    }

    let waitMs: number | undefined;
    for (let i = 0; i < pending.length; i++) {
      const link = pending[i] as ChainLink;
      const provider = link.provider.name;
      const next = pending[i + 1]?.provider.name;
      if (i === 0 && gated.status === 'rejected') throw gated.reason;
      const gate: BreakerGate = (i === 0 ? firstGate : await link.breaker?.acquire()) ?? {
        allowed: true,
        probe: false,
      };
      if (!gate.allowed) {
        log.info(
          { provider, breaker: gate.state, retryInMs: gate.retryInMs },
          'provider skipped: circuit breaker open',
        );
        waitMs = Math.min(waitMs ?? gate.retryInMs, gate.retryInMs);
        continue;
      }
      // The 'sending' record goes out beside the provider call, not before it: the status
      // store moves a record forward only, so a 'sent' that overtook it still stands.
      const sending = emit(log, { type: 'sending', ...ids, provider });
      try {
        const send = (signal?: AbortSignal) => link.provider.send(message, signal ? { signal } : {});
        const receipt = await (link.breaker
          ? link.breaker.run(gate, send, deps.signal)
          : send(deps.signal)
        ).finally(() => sending);
        const latencyMs = now() - data.acceptedAt;
        log.info(
          {
            provider,
            providerMessageId: receipt.providerMessageId,
            latencyMs,
            probe: gate.probe || undefined,
          },
          'sms handed to provider',
        );
        // Not awaited: the job completes while the record is written. Both go out on the
        // worker's one connection, the record first, so Redis has it before the job's
        // completion (whoever sees the job completed reads `sent`); settle() awaits it.
        inBackground(
          emit(log, {
            type: 'sent',
            ...ids,
            provider,
            providerMessageId: receipt.providerMessageId,
            latencyMs,
          }),
        );
        return {
          outcome: provider === 'debug' ? 'debug' : 'sent',
          transport: provider,
          ...(receipt.providerMessageId === undefined
            ? {}
            : { providerMessageId: receipt.providerMessageId }),
        };
      } catch (raw) {
        const err = redactedError(raw, provider, [code, message.text, ...link.secrets]);
        if (deps.signal?.aborted) {
          // Shutdown: the lock expires and another worker retries; this try is nobody's failure.
          log.warn({ provider }, 'send aborted at the shutdown deadline');
          throw err;
        }
        if (err.scope === 'message') return failForGood(err, provider, true);
        const tries = (progress.tries[provider] ?? 0) + 1;
        progress.tries[provider] = tries;
        const failOver = next !== undefined && (err.scope === 'provider' || tries >= failoverAfter);
        if (err.scope === 'provider' && next === undefined) return failForGood(err, provider, true);
        if (failOver) {
          progress.gaveUp.push(provider);
          log.warn(
            { err: logged(err), provider, next, tries },
            'send failed; failing over to the next provider',
          );
          await emit(log, {
            type: 'retrying',
            ...ids,
            provider,
            errorCode: err.code,
            scope: err.scope,
            next,
          });
          await saveProgress();
          continue;
        }
        // Retries follow the code's life: none that could only land after it is useless.
        const outOfTime = !retryFitsCodeLife({
          attemptsMade: attempt,
          baseDelayMs: baseDelayOf(job.opts.backoff),
          maxDelayMs: deps.retryMaxDelayMs ?? 60_000,
          retryAfterMs: err.retryAfterMs,
          codeRemainingMs: expiresAt - now(),
          codeLifeMs: expiresAt - data.acceptedAt,
        });
        if (attempt >= maxAttempts || outOfTime) return failForGood(err, provider, false, outOfTime);
        log.warn({ err: logged(err), provider, tries, maxAttempts }, 'send failed; will retry');
        await emit(log, { type: 'retrying', ...ids, provider, errorCode: err.code, scope: err.scope });
        await saveProgress();
        throw err;
      }
    }

    // Every provider left is behind an open breaker: wait for the first cool-down to end,
    // without spending an attempt (the breaker already knows these providers are down).
    const delayMs = Math.max(50, waitMs ?? 1000);
    log.warn({ delayMs }, 'every provider left is behind an open circuit breaker; waiting');
    if (job.moveToDelayed && token !== undefined) {
      await job.moveToDelayed(now() + delayMs, token);
      throw new DelayedError();
    }
    throw new SmsError({
      provider: 'chain',
      scope: 'transient',
      code: 'ALL_BREAKERS_OPEN',
      message: 'Every provider left is behind an open circuit breaker.',
      retryAfterMs: delayMs,
    });
  }

  return Object.assign(processSendJob, {
    /** Waits for the records written after their jobs completed (shutdown). */
    async settle(): Promise<void> {
      await Promise.all([...background]);
    },
  });
}
