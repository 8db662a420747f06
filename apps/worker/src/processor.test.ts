import {
  createCodeStore,
  createLogger,
  deriveKeys,
  maskPhone,
  RETRY_UNTIL_EXPIRY_ATTEMPTS,
  sealCode,
  sealJob,
} from '@otp/core';
import { SmsError, type SmsErrorScope, type SmsMessage, type SmsProvider } from '@otp/sms';
import { DelayedError, UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTestRedis, deleteKeys, uniquePrefix } from '../../../test/redis.js';
import { LogCapture } from '../../api/test/helper.js';
import { type ChainLink, createSendProcessor, type SendJob } from './processor.js';
import { createSharedBreaker } from './providers/shared-breaker.js';
import type { SendEvent } from './send-events.js';

const keys = deriveKeys('processor-test-secret-0123456789abcdef');
let redis: Redis;
const prefix = uniquePrefix('processor');
const CODE = '516396';

beforeAll(() => {
  redis = connectTestRedis();
});
afterAll(async () => {
  await deleteKeys(redis, prefix);
  await redis.quit();
});

type Outcome = 'ok' | SmsErrorScope | Error;

/** A provider that answers from a script of outcomes and records what it was asked. */
function scripted(name: string, outcomes: Outcome[]): SmsProvider & { calls: SmsMessage[] } {
  const calls: SmsMessage[] = [];
  return {
    name,
    calls,
    async send(message) {
      calls.push(message);
      const next = outcomes.shift() ?? 'ok';
      if (next instanceof Error) throw next;
      if (next !== 'ok') {
        throw new SmsError({
          provider: name,
          scope: next,
          code: `${name.toUpperCase()}_${next.toUpperCase()}`,
          message: `${name} ${next} failure`,
        });
      }
      return { provider: name, providerMessageId: `${name}-${calls.length}` };
    },
  };
}

let phoneSeq = 0;
const store = () =>
  createCodeStore({ redis, keyPrefix: prefix, ttlSeconds: 600, maxAttempts: 3, resendCooldownSeconds: 0 });

async function setup(
  providers: SmsProvider[],
  options: { breakers?: boolean; failoverAfter?: number; secrets?: string[] } = {},
) {
  const phone = `+7708${String(1_000_000 + phoneSeq++).padStart(7, '0')}`;
  const verificationId = `ver-${phone}-${Math.random().toString(36).slice(2, 8)}`;
  await store().issue({ phone, digest: 'd', verificationId });
  const events: SendEvent[] = [];
  const logs = new LogCapture();
  const logger = createLogger({ service: 'test', stream: logs });
  const chain: ChainLink[] = providers.map((provider) => ({
    provider,
    secrets: options.secrets ?? [],
    ...(options.breakers
      ? {
          breaker: createSharedBreaker({
            provider: provider.name,
            redis,
            keyPrefix: `${prefix}${verificationId}:`,
            failureThreshold: 100,
            cooldownMs: 60_000,
            logger,
          }),
        }
      : {}),
  }));
  const processor = createSendProcessor({
    store: store(),
    keys: [keys],
    template: 'Ваш код подтверждения: {code}',
    chain,
    failoverAfter: options.failoverAfter ?? 2,
    logger,
    onEvent: (event) => {
      events.push(event);
    },
  });
  // One job across attempts, as BullMQ keeps it: progress survives, attemptsMade counts up.
  const state: { progress: unknown; delayedUntil?: number } = { progress: 0 };
  const job = (attemptsMade: number): SendJob => ({
    id: verificationId,
    attemptsMade,
    opts: { attempts: 5 },
    progress: state.progress,
    async updateProgress(progress) {
      state.progress = progress;
    },
    async moveToDelayed(timestamp) {
      state.delayedUntil = timestamp;
    },
    data: {
      v: 1,
      verificationId,
      phone,
      country: 'KZ',
      sealedCode: sealCode(keys.jobCipherKey, CODE, { verificationId, phone }),
      acceptedAt: Date.now(),
    },
  });
  const isLive = async () => (await store().isLive({ phone, verificationId })).live;
  return { processor, job, events, logs, state, chain, isLive, phone };
}

/**
 * Opens the first link's breaker as another worker would, then ends its cool-down: half-open,
 * with the probe's lease free.
 */
async function halfOpen(chain: ChainLink[], job: SendJob) {
  const breaker = chain[0]?.breaker;
  if (!breaker) throw new Error('no breaker');
  await breaker
    .run({ allowed: true, probe: true }, async () => {
      throw new SmsError({ provider: 'primary', scope: 'provider', code: 'X', message: 'down' });
    })
    .catch(() => undefined);
  const { verificationId } = job.data as { verificationId: string };
  await redis.del(`${prefix}${verificationId}:breaker:{primary}:open`);
  expect(await breaker.state()).toBe('half-open');
  return breaker;
}

describe('send processor: one provider', () => {
  it('reports sending then sent, naming the provider', async () => {
    const primary = scripted('primary', ['ok']);
    const { processor, job, events } = await setup([primary]);
    expect(await processor(job(0))).toMatchObject({
      outcome: 'sent',
      transport: 'primary',
      providerMessageId: 'primary-1',
    });
    expect(events.map((e) => e.type)).toEqual(['sending', 'sent']);
    expect(events[1]).toMatchObject({ provider: 'primary', providerMessageId: 'primary-1', attempt: 1 });
    expect(primary.calls[0]).toMatchObject({
      text: `Ваш код подтверждения: ${CODE}`,
      ttlSeconds: expect.any(Number),
    });
  });

  it('retries a transient error, and fails on the last attempt with SMS_DELIVERY_FAILED', async () => {
    const primary = scripted('primary', ['transient', 'transient']);
    const { processor, job, events, isLive } = await setup([primary]);
    await expect(processor(job(0))).rejects.toThrow('primary transient failure');
    await expect(processor(job(4))).rejects.toThrow('primary transient failure');
    expect(events.filter((e) => e.type !== 'sending')).toMatchObject([
      { type: 'retrying', provider: 'primary', scope: 'transient', attempt: 1 },
      {
        type: 'failed',
        provider: 'primary',
        failureCode: 'SMS_DELIVERY_FAILED',
        attempt: 5,
        permanent: false,
      },
    ]);
    // A code whose SMS never went out no longer verifies.
    expect(await isLive()).toBe(false);
  });

  it('fails a provider-scope error at once when no provider is left', async () => {
    const { processor, job, events } = await setup([scripted('primary', ['provider'])]);
    await expect(processor(job(0))).rejects.toBeInstanceOf(UnrecoverableError);
    expect(events.at(-1)).toMatchObject({
      type: 'failed',
      failureCode: 'SMS_PROVIDER_UNAVAILABLE',
      permanent: true,
    });
  });

  it('refuses a payload that breaks the contract, without retries', async () => {
    const { processor } = await setup([scripted('primary', [])]);
    await expect(processor({ id: 'x', attemptsMade: 0, opts: {}, data: { v: 2 } })).rejects.toBeInstanceOf(
      UnrecoverableError,
    );
  });

  it('keeps sending when a listener throws', async () => {
    const { job, logs } = await setup([scripted('primary', [])]);
    const processor = createSendProcessor({
      store: store(),
      keys: [keys],
      template: 'Code {code}',
      chain: [{ provider: scripted('primary', ['ok']), secrets: [] }],
      logger: createLogger({ service: 'test', stream: logs }),
      onEvent: () => {
        throw new Error('listener broke');
      },
    });
    expect(await processor(job(0))).toMatchObject({ outcome: 'sent' });
    expect(logs.text).toMatch(/send event listener failed/);
  });
});

describe('send processor: the chain', () => {
  it('fails over after SMS_FAILOVER_AFTER transient tries, in the same attempt', async () => {
    const primary = scripted('primary', ['transient', 'transient']);
    const backup = scripted('backup', ['ok']);
    const { processor, job, events, state } = await setup([primary, backup]);
    await expect(processor(job(0))).rejects.toThrow('primary transient failure');
    expect(state.progress).toEqual({ chain: { gaveUp: [], tries: { primary: 1 } } });
    expect(await processor(job(1))).toMatchObject({ outcome: 'sent', transport: 'backup' });
    expect(primary.calls).toHaveLength(2);
    expect(backup.calls).toHaveLength(1);
    expect(events.filter((e) => e.type === 'retrying')).toMatchObject([
      { provider: 'primary', attempt: 1 },
      { provider: 'primary', attempt: 2, next: 'backup' },
    ]);
    // The next attempt starts where this one left off: the backup.
    expect(state.progress).toEqual({ chain: { gaveUp: ['primary'], tries: { primary: 2 } } });
  });

  it('fails over at once on a provider-scope error', async () => {
    const primary = scripted('primary', ['provider']);
    const backup = scripted('backup', ['ok']);
    const { processor, job } = await setup([primary, backup]);
    expect(await processor(job(0))).toMatchObject({ outcome: 'sent', transport: 'backup' });
    expect(primary.calls).toHaveLength(1);
  });

  it('fails a message-scope error without failing over', async () => {
    const primary = scripted('primary', ['message']);
    const backup = scripted('backup', ['ok']);
    const { processor, job, events, isLive } = await setup([primary, backup]);
    await expect(processor(job(0))).rejects.toBeInstanceOf(UnrecoverableError);
    expect(backup.calls).toHaveLength(0);
    expect(events.at(-1)).toMatchObject({ type: 'failed', provider: 'primary', failureCode: 'SMS_REJECTED' });
    expect(await isLive()).toBe(false);
  });

  it('keeps the code when a resend (a job id of its own) fails for good: an earlier SMS may have carried it', async () => {
    const primary = scripted('primary', ['message']);
    const { processor, job, isLive } = await setup([primary]);
    await expect(processor({ ...job(0), id: 'another-send-id' })).rejects.toBeInstanceOf(UnrecoverableError);
    expect(await isLive()).toBe(true);
  });

  it('skips a provider whose breaker is open without using an attempt, and waits when all are open', async () => {
    const primary = scripted('primary', ['ok']);
    const backup = scripted('backup', ['ok']);
    const { processor, job, chain, state } = await setup([primary, backup], { breakers: true });
    // Another worker opened primary's breaker.
    await chain[0]?.breaker
      ?.run({ allowed: true, probe: true }, async () => {
        throw new SmsError({ provider: 'primary', scope: 'provider', code: 'X', message: 'down' });
      })
      .catch(() => undefined);
    expect(await chain[0]?.breaker?.state()).toBe('open');
    expect(await processor(job(0))).toMatchObject({ transport: 'backup' });
    expect(primary.calls).toHaveLength(0);

    await chain[1]?.breaker
      ?.run({ allowed: true, probe: true }, async () => {
        throw new SmsError({ provider: 'backup', scope: 'transient', code: 'X', message: 'down' });
      })
      .catch(() => undefined);
    await expect(processor(job(0), 'lock-token')).rejects.toBeInstanceOf(DelayedError);
    expect(state.delayedUntil).toBeGreaterThan(Date.now() + 50_000);
    expect(backup.calls).toHaveLength(1);
  });

  it('a job whose code is gone hands back the half-open probe it was given beside the liveness check', async () => {
    const primary = scripted('primary', ['ok']);
    const { processor, job, chain, phone } = await setup([primary], { breakers: true });
    const breaker = await halfOpen(chain, job(0));
    await store().revoke({
      phone,
      verificationId: (job(0).data as { verificationId: string }).verificationId,
    });
    expect(await processor(job(0))).toMatchObject({ outcome: 'skipped' });
    expect(primary.calls).toHaveLength(0);
    // Nobody holds the lease: the next job may probe at once, not after the lease expires.
    expect(await breaker.acquire()).toEqual({ allowed: true, probe: true });
  });

  it('hands back the probe when the liveness check itself fails, and fails the try with that error', async () => {
    const primary = scripted('primary', ['ok']);
    const { job, chain } = await setup([primary], { breakers: true });
    const breaker = await halfOpen(chain, job(0));
    const failing = createSendProcessor({
      store: {
        isLive: () => Promise.reject(new Error('liveness check failed')),
        revoke: () => Promise.resolve(true),
      },
      keys: [keys],
      template: 'Ваш код подтверждения: {code}',
      chain,
      logger: createLogger({ service: 'test', stream: new LogCapture() }),
    });
    await expect(failing(job(0))).rejects.toThrow('liveness check failed');
    expect(primary.calls).toHaveLength(0);
    expect(await breaker.acquire()).toEqual({ allowed: true, probe: true });
  });
});

describe('send processor: a provider that echoes the request', () => {
  const CALLBACK = 'https://otp.example.com/webhooks/messaggio/whsec-0123456789abcdef';
  const hostile = () =>
    new SmsError({
      provider: 'primary',
      scope: 'message',
      code: 'PRIMARY_BAD_REQUEST',
      message: `rejected {"text":"Ваш код подтверждения: ${CODE}","dlr_callback_url":"${CALLBACK}","login":"project-login-1"} code=${CODE}`,
    });

  it('keeps the code, the text, the callback and the login out of the error, the logs and the events', async () => {
    const { processor, job, logs, events } = await setup([scripted('primary', [hostile()])], {
      secrets: [CALLBACK, 'project-login-1'],
    });
    const err = (await processor(job(0)).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(UnrecoverableError);
    for (const text of [err.message, err.stack ?? '', logs.text, JSON.stringify(events)]) {
      expect(text).not.toContain(CODE);
      expect(text).not.toContain('подтверждения');
      expect(text).not.toContain('whsec-0123456789abcdef');
      expect(text).not.toContain('project-login-1');
    }
    expect(err.message).toContain('[redacted]');
    expect(logs.text).toContain('send failed for good');
  });
});

describe('send processor retry budget', () => {
  const transient = () =>
    new SmsError({
      provider: 'primary',
      scope: 'transient',
      code: 'PRIMARY_SERVER_ERROR',
      message: 'down',
      status: 500,
    });

  async function budgetSetup(phone: string) {
    // A 30 s code, retried with a 2 s base delay: attempt n waits at most 2·2^(n−1) s.
    const store = createCodeStore({
      redis,
      keyPrefix: prefix,
      ttlSeconds: 30,
      maxAttempts: 3,
      resendCooldownSeconds: 0,
    });
    const verificationId = `ver-${phone}`;
    await store.issue({ phone, digest: 'd', verificationId });
    const events: SendEvent[] = [];
    const processor = createSendProcessor({
      store,
      keys: [keys],
      template: 'Code {code}',
      chain: [{ provider: scripted('primary', Array.from({ length: 10 }, transient)), secrets: [] }],
      // Failover is not what this tests: one provider, never given up on.
      failoverAfter: 100,
      retryMaxDelayMs: 60_000,
      logger: createLogger({ service: 'test', stream: new LogCapture() }),
      onEvent: (event) => {
        events.push(event);
      },
    });
    const job = (attemptsMade: number) => ({
      id: verificationId,
      attemptsMade,
      // SMS_MAX_ATTEMPTS unset: no count, only the code's life.
      opts: { attempts: RETRY_UNTIL_EXPIRY_ATTEMPTS, backoff: { type: 'otp-backoff', delay: 2000 } },
      data: {
        v: 1,
        verificationId,
        phone,
        country: 'KZ',
        sealedCode: sealCode(keys.jobCipherKey, '123456', { verificationId, phone }),
        acceptedAt: Date.now(),
      },
    });
    return { processor, job, events };
  }

  it('keeps retrying while a retry can land in the code’s life, then fails for good', async () => {
    const { processor, job, events } = await budgetSetup('+77080000011');
    // Attempt 4 failing: the next retry is at most 16 s away, 30 s − 16 s leaves ≥ 3 s.
    await expect(processor(job(3))).rejects.toThrow('down');
    expect(events.at(-1)).toMatchObject({ type: 'retrying', attempt: 4 });
    // Attempt 5 failing: up to 32 s away, past the code's expiry: stop, whatever attempts are left.
    await expect(processor(job(4))).rejects.toBeInstanceOf(UnrecoverableError);
    expect(events.at(-1)).toMatchObject({ type: 'failed', attempt: 5, permanent: false });
  });
});

describe('send processor: sealed jobs and secret rotation', () => {
  it('reads v2 jobs: the phone sealed with the code, only a masked phone in the data', async () => {
    const primary = scripted('primary', ['ok']);
    const { processor, job, phone } = await setup([primary]);
    const base = job(0);
    const verificationId = String(base.id);
    const data = {
      v: 2,
      verificationId,
      phoneMasked: maskPhone(phone),
      country: 'KZ',
      sealed: sealJob(keys, { verificationId, phone, code: '654321' }),
      acceptedAt: Date.now(),
    };
    expect(JSON.stringify({ ...data, verificationId: '' })).not.toContain(phone);
    expect(await processor({ ...base, data })).toMatchObject({ outcome: 'sent' });
    expect(primary.calls[0]).toMatchObject({ phone, text: 'Ваш код подтверждения: 654321' });
  });

  it('opens a job sealed before a secret rotation with OTP_SECRET_PREVIOUS', async () => {
    const primary = scripted('primary', ['ok', 'ok']);
    const { job, phone } = await setup([primary]);
    const base = job(0);
    const verificationId = String(base.id);
    const newKeys = deriveKeys('processor-test-new-secret-0123456789abcdef');
    const processor = createSendProcessor({
      store: store(),
      keys: [newKeys, keys],
      template: 'Code {code}',
      chain: [{ provider: primary, secrets: [] }],
      logger: createLogger({ service: 'test', stream: new LogCapture() }),
    });
    const sealed = sealJob(keys, { verificationId, phone, code: '111222' });
    expect(sealed.startsWith(`${keys.keyId}:`)).toBe(true);
    const v2 = {
      v: 2,
      verificationId,
      phoneMasked: maskPhone(phone),
      country: 'KZ',
      sealed,
      acceptedAt: Date.now(),
    };
    expect(await processor({ ...base, data: v2 })).toMatchObject({ outcome: 'sent' });
    // The v1 job of an older API, sealed with the previous secret, opens too.
    expect(await processor(base)).toMatchObject({ outcome: 'sent' });
  });

  it('marks an undecryptable job failed for good instead of leaving it queued', async () => {
    const primary = scripted('primary', []);
    const { processor, job, events, phone } = await setup([primary]);
    const base = job(0);
    const verificationId = String(base.id);
    const stranger = deriveKeys('a-secret-no-worker-knows-0123456789abcdef');
    const data = {
      v: 2,
      verificationId,
      phoneMasked: maskPhone(phone),
      country: 'KZ',
      sealed: sealJob(stranger, { verificationId, phone, code: '123456' }),
      acceptedAt: Date.now(),
    };
    await expect(processor({ ...base, data })).rejects.toBeInstanceOf(UnrecoverableError);
    expect(events).toMatchObject([{ type: 'failed', errorCode: 'JOB_DECRYPT_FAILED', permanent: true }]);
    expect(primary.calls).toHaveLength(0);
  });
});
