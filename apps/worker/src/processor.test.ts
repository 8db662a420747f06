import { createCodeStore, createLogger, deriveKeys, maskPhone, sealCode, sealJob } from '@otp/core';
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
    keys: [keys],
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
      keys: [keys],
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

  it('reads v2 jobs: the phone sealed with the code, only a masked phone in the data', async () => {
    const transport = scriptedTransport(['ok']);
    const phone = '+77080000006';
    const { processor, job } = await setup(transport, phone);
    const base = job(0);
    const data = {
      v: 2,
      verificationId: base.data.verificationId,
      phoneMasked: maskPhone(phone),
      country: 'KZ',
      sealed: sealJob(keys, { verificationId: base.data.verificationId, phone, code: '654321' }),
      acceptedAt: Date.now(),
    };
    expect(JSON.stringify({ ...data, verificationId: '' })).not.toContain(phone);
    expect(await processor({ ...base, data })).toMatchObject({ outcome: 'sent' });
    expect(transport.calls[0]).toMatchObject({ phone, text: 'Code 654321' });
  });

  it('opens a job sealed before a secret rotation with OTP_SECRET_PREVIOUS', async () => {
    const transport = scriptedTransport(['ok']);
    const phone = '+77080000007';
    const { job } = await setup(transport, phone);
    const base = job(0);
    const newKeys = deriveKeys('processor-test-new-secret-0123456789abcdef');
    const processor = createSendProcessor({
      store: createCodeStore({
        redis,
        keyPrefix: prefix,
        ttlSeconds: 600,
        maxAttempts: 3,
        resendCooldownSeconds: 0,
      }),
      keys: [newKeys, keys],
      template: 'Code {code}',
      transport,
      logger: createLogger({ service: 'test', stream: new LogCapture() }),
    });
    const sealed = sealJob(keys, { verificationId: base.data.verificationId, phone, code: '111222' });
    expect(sealed.startsWith(`${keys.keyId}:`)).toBe(true);
    const data = { ...base.data, v: 2, phoneMasked: maskPhone(phone), sealed };
    const { phone: _p, sealedCode: _s, ...v2 } = data;
    expect(await processor({ ...base, data: v2 })).toMatchObject({ outcome: 'sent' });
    // The v1 job of an older API, sealed with the previous secret, opens too.
    expect(await processor(base)).toMatchObject({ outcome: 'sent' });
  });

  it('marks an undecryptable job failed for good instead of leaving it queued', async () => {
    const transport = scriptedTransport([]);
    const phone = '+77080000008';
    const { processor, job, events } = await setup(transport, phone);
    const base = job(0);
    const stranger = deriveKeys('a-secret-no-worker-knows-0123456789abcdef');
    const data = {
      v: 2,
      verificationId: base.data.verificationId,
      phoneMasked: maskPhone(phone),
      country: 'KZ',
      sealed: sealJob(stranger, { verificationId: base.data.verificationId, phone, code: '123456' }),
      acceptedAt: Date.now(),
    };
    await expect(processor({ ...base, data })).rejects.toBeInstanceOf(UnrecoverableError);
    expect(events).toMatchObject([{ type: 'failed', errorCode: 'JOB_DECRYPT_FAILED', permanent: true }]);
    expect(transport.calls).toHaveLength(0);
  });
});
