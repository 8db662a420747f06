import { createCodeStore, createLogger, deriveKeys, RETRY_UNTIL_EXPIRY_ATTEMPTS, sealCode } from '@otp/core';
import { MessaggioError } from '@otp/messaggio';
import { UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTestRedis, deleteKeys, uniquePrefix } from '../../../test/redis.js';
import { LogCapture } from '../../api/test/helper.js';
import { createSendProcessor } from './processor.js';
import type { SendEvent } from './send-events.js';
import type { SmsMessage, SmsTransport } from './transports/sms-transport.js';

const keys = deriveKeys('processor-test-secret-0123456789abcdef');
let redis: Redis;
const prefix = uniquePrefix('processor');

beforeAll(() => {
  redis = connectTestRedis();
});
afterAll(async () => {
  await deleteKeys(redis, prefix);
  await redis.quit();
});

/** A transport that answers from a script of outcomes and records what it was asked. */
function scriptedTransport(outcomes: Array<'ok' | Error>): SmsTransport & { calls: SmsMessage[] } {
  const calls: SmsMessage[] = [];
  return {
    name: 'messaggio',
    calls,
    async send(message) {
      calls.push(message);
      const next = outcomes.shift() ?? 'ok';
      if (next instanceof Error) throw next;
      return { providerMessageId: `msg-${calls.length}` };
    },
  };
}

async function setup(transport: SmsTransport, phone: string) {
  const store = createCodeStore({
    redis,
    keyPrefix: prefix,
    ttlSeconds: 600,
    maxAttempts: 3,
    resendCooldownSeconds: 0,
  });
  const verificationId = `ver-${phone}`;
  await store.issue({ phone, digest: 'd', verificationId });
  const events: SendEvent[] = [];
  const logs = new LogCapture();
  const processor = createSendProcessor({
    store,
    cipherKey: keys.jobCipherKey,
    template: 'Code {code}',
    transport,
    logger: createLogger({ service: 'test', stream: logs }),
    onEvent: (event) => {
      events.push(event);
    },
  });
  const job = (attemptsMade: number) => ({
    id: verificationId,
    attemptsMade,
    opts: { attempts: 3 },
    data: {
      v: 1,
      verificationId,
      phone,
      country: 'KZ',
      sealedCode: sealCode(keys.jobCipherKey, '123456', { verificationId, phone }),
      acceptedAt: Date.now(),
    },
  });
  return { processor, job, events, logs };
}

describe('send processor events', () => {
  it('reports sending then sent, with the provider id', async () => {
    const transport = scriptedTransport(['ok']);
    const { processor, job, events } = await setup(transport, '+77080000001');
    expect(await processor(job(0))).toMatchObject({ outcome: 'sent', providerMessageId: 'msg-1' });
    expect(events.map((e) => e.type)).toEqual(['sending', 'sent']);
    expect(events[1]).toMatchObject({ providerMessageId: 'msg-1', attempt: 1, country: 'KZ' });
    expect(transport.calls[0]).toMatchObject({ text: 'Code 123456', ttlSeconds: expect.any(Number) });
  });

  it('reports retrying for a transient error before the last attempt, failed on the last', async () => {
    const transient = () =>
      new MessaggioError({ code: 'MESSAGGIO_SERVER_ERROR', message: 'boom', retryable: true, status: 500 });
    const transport = scriptedTransport([transient(), transient()]);
    const { processor, job, events } = await setup(transport, '+77080000002');
    await expect(processor(job(0))).rejects.toThrow('boom');
    await expect(processor(job(2))).rejects.toThrow('boom');
    expect(events.filter((e) => e.type !== 'sending')).toMatchObject([
      { type: 'retrying', errorCode: 'MESSAGGIO_SERVER_ERROR', attempt: 1 },
      { type: 'failed', errorCode: 'MESSAGGIO_SERVER_ERROR', attempt: 3, permanent: false },
    ]);
  });

  it('turns a permanent error into UnrecoverableError and reports it failed at once', async () => {
    const transport = scriptedTransport([
      new MessaggioError({
        code: 'MESSAGGIO_FORBIDDEN',
        message: 'login rejected',
        retryable: false,
        status: 403,
      }),
    ]);
    const { processor, job, events } = await setup(transport, '+77080000003');
    await expect(processor(job(0))).rejects.toBeInstanceOf(UnrecoverableError);
    expect(events.at(-1)).toMatchObject({
      type: 'failed',
      permanent: true,
      errorCode: 'MESSAGGIO_FORBIDDEN',
      attempt: 1,
    });
  });

  it('keeps sending when a listener throws', async () => {
    const transport = scriptedTransport(['ok']);
    const { job, logs } = await setup(transport, '+77080000004');
    const processor = createSendProcessor({
      store: createCodeStore({
        redis,
        keyPrefix: prefix,
        ttlSeconds: 600,
        maxAttempts: 3,
        resendCooldownSeconds: 0,
      }),
      cipherKey: keys.jobCipherKey,
      template: 'Code {code}',
      transport,
      logger: createLogger({ service: 'test', stream: logs }),
      onEvent: () => {
        throw new Error('listener broke');
      },
    });
    expect(await processor(job(0))).toMatchObject({ outcome: 'sent' });
    expect(logs.text).toMatch(/send event listener failed/);
  });

  it('refuses a payload that breaks the contract, without retries', async () => {
    const { processor } = await setup(scriptedTransport([]), '+77080000005');
    await expect(processor({ id: 'x', attemptsMade: 0, opts: {}, data: { v: 2 } })).rejects.toBeInstanceOf(
      UnrecoverableError,
    );
  });
});

describe('send processor retry budget', () => {
  const transient = () =>
    new MessaggioError({ code: 'MESSAGGIO_SERVER_ERROR', message: 'down', retryable: true, status: 500 });

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
      cipherKey: keys.jobCipherKey,
      template: 'Code {code}',
      transport: scriptedTransport(Array.from({ length: 10 }, transient)),
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
