import { createLogger } from '@otp/core';
import { SmsError, type SmsErrorScope } from '@otp/sms';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTestRedis, deleteKeys, uniquePrefix } from '../../../../test/redis.js';
import { LogCapture } from '../../../api/test/helper.js';
import { createSharedBreaker } from './shared-breaker.js';

let redis: Redis;
const prefix = uniquePrefix('breaker');
beforeAll(() => {
  redis = connectTestRedis();
});
afterAll(async () => {
  await deleteKeys(redis, prefix);
  await redis.quit();
});

let n = 0;
function pair(cooldownMs = 60_000, failureThreshold = 2) {
  const logs = new LogCapture();
  const keyPrefix = `${prefix}${n++}:`;
  const make = () =>
    createSharedBreaker({
      provider: 'acme',
      redis,
      keyPrefix,
      failureThreshold,
      cooldownMs,
      logger: createLogger({ service: 'test', stream: logs }),
    });
  // Two workers: two breakers on one Redis state.
  return { a: make(), b: make(), logs, keyPrefix };
}
const fail = (scope: SmsErrorScope) => async () => {
  throw new SmsError({ provider: 'acme', scope, code: `ACME_${scope}`, message: scope });
};

async function call(breaker: ReturnType<typeof pair>['a'], outcome: SmsErrorScope | 'ok') {
  const gate = await breaker.acquire();
  if (!gate.allowed) return 'skipped';
  return breaker.run(gate, outcome === 'ok' ? async () => 'ok' : fail(outcome)).catch(() => 'failed');
}

describe('shared circuit breaker (real Redis)', () => {
  it('opens for every worker after the threshold, and logs the transition once', async () => {
    const { a, b, logs } = await pair();
    expect(await call(a, 'transient')).toBe('failed');
    expect(await a.state()).toBe('closed');
    expect(await call(a, 'transient')).toBe('failed');
    expect(await b.state()).toBe('open');
    expect(await call(b, 'ok')).toBe('skipped');
    expect(logs.lines.filter((l) => l.includes('circuit breaker opened'))).toHaveLength(1);
  });

  it('does not count per-message errors', async () => {
    const { a } = await pair();
    for (let i = 0; i < 5; i++) expect(await call(a, 'message')).toBe('failed');
    expect(await a.state()).toBe('closed');
  });

  it('does not count a provider-scope error for one destination only (a blocked country)', async () => {
    const { a, b } = await pair();
    const blocked = async () => {
      throw new SmsError({
        provider: 'acme',
        scope: 'provider',
        code: 'ACME_GEO',
        message: 'this country is not enabled',
        destinationOnly: true,
      });
    };
    for (let i = 0; i < 5; i++) {
      const gate = await a.acquire();
      if (!gate.allowed) throw new Error('skipped');
      await expect(a.run(gate, blocked)).rejects.toMatchObject({ code: 'ACME_GEO' });
    }
    expect(await b.state()).toBe('closed');
    expect(await call(b, 'ok')).toBe('ok');
  });

  it('opens at once on a provider-scope error', async () => {
    const { a, b } = await pair();
    await call(a, 'provider');
    expect(await b.state()).toBe('open');
  });

  it('lets one probe at a time through once the cool-down ends; its success closes it for all', async () => {
    const { a, b, logs, keyPrefix } = await pair(200);
    await call(a, 'provider');
    await expect.poll(() => a.state(), { timeout: 5000, interval: 20 }).toBe('half-open');
    const [gateA, gateB] = await Promise.all([a.acquire(), b.acquire()]);
    const gates = [gateA, gateB];
    expect(gates.filter((g) => g.allowed)).toHaveLength(1);
    expect(gates.filter((g) => !g.allowed)).toMatchObject([{ state: 'half-open' }]);
    const prober = gateA.allowed ? a : b;
    const gate = gateA.allowed ? gateA : gateB;
    if (!gate.allowed) throw new Error('no probe');
    expect(gate.probe).toBe(true);
    await prober.run(gate, async () => 'ok');
    expect(await a.state()).toBe('closed');
    expect(await call(b, 'ok')).toBe('ok');
    expect(logs.text).toMatch(/circuit breaker closed/);
    expect(await redis.exists(`${keyPrefix}breaker:{acme}:probe`)).toBe(0);
  });

  it('a probe gate handed back unused frees the lease at once for another worker', async () => {
    const { a, b } = await pair(200);
    await call(a, 'provider');
    await expect.poll(() => a.state(), { timeout: 5000, interval: 20 }).toBe('half-open');
    const gate = await a.acquire();
    expect(gate).toEqual({ allowed: true, probe: true });
    expect(await b.acquire()).toMatchObject({ allowed: false, state: 'half-open' });
    await a.release(gate);
    expect(await b.acquire()).toEqual({ allowed: true, probe: true });
    // A closed breaker's gate holds nothing: handing it back changes nothing.
    await b.release({ allowed: true, probe: false });
    expect(await a.state()).toBe('half-open');
  });

  it('opens again for another cool-down when the probe fails', async () => {
    const { a, b } = await pair(200);
    await call(a, 'provider');
    await expect.poll(() => a.state(), { timeout: 5000, interval: 20 }).toBe('half-open');
    expect(await call(b, 'transient')).toBe('failed');
    expect(await a.state()).toBe('open');
  });
});

describe('shared circuit breaker and the caller’s abort', () => {
  it('does not count a call the caller aborted', async () => {
    const { a } = await pair(60_000, 2);
    const controller = new AbortController();
    const gate = await a.acquire();
    if (!gate.allowed) throw new Error('closed breaker refused');
    const aborted = a.run(
      gate,
      async () => {
        // The shutdown deadline passes while the call is in flight.
        controller.abort(new Error('shutdown'));
        throw new SmsError({
          provider: 'acme',
          scope: 'transient',
          code: 'ACME_ABORTED',
          message: 'aborted',
        });
      },
      controller.signal,
    );
    await expect(aborted).rejects.toThrow('aborted');
    // One real failure after it is the first in a row, not the second.
    expect(await call(a, 'transient')).toBe('failed');
    expect(await a.state()).toBe('closed');
  });
});
