import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTestRedis, deleteKeys, uniquePrefix } from '../../../../test/redis.js';
import { type CodeStore, createCodeStore, type SendLimit } from './code-store.js';

let redis: Redis;
const prefix = uniquePrefix('limits');
const HOUR = 3_600_000;
let n = 0;
const nextPhone = () => `+7701${String(2_000_000 + n++).slice(-7)}`;

beforeAll(() => {
  redis = connectTestRedis();
});
afterAll(async () => {
  await deleteKeys(redis, prefix);
  await redis.quit();
});

function store(failedVerifies?: { max: number; windowMs: number }): CodeStore {
  return createCodeStore({
    redis,
    keyPrefix: prefix,
    ttlSeconds: 600,
    maxAttempts: 5,
    resendCooldownSeconds: 0,
    failedVerifies,
  });
}

const sliding = (name: string, max: number, windowMs = HOUR): SendLimit => ({
  name,
  key: `${prefix}limit:${name}`,
  max,
  windowMs,
  kind: 'sliding',
});

describe('send limits in the issue script (real Redis)', () => {
  it('allows up to a sliding limit, refuses after it, allows again once the oldest send leaves the window', async () => {
    const s = store();
    const phone = nextPhone();
    const limit = sliding(`phone-hour-${phone}`, 3);
    const t0 = 1_800_000_000_000;
    for (let i = 0; i < 3; i++) {
      expect(
        await s.issue({ phone, digest: 'd', verificationId: `v${i}`, limits: [limit], now: t0 + i * 60_000 }),
      ).toEqual({
        ok: true,
      });
    }
    const refused = await s.issue({
      phone,
      digest: 'd',
      verificationId: 'v3',
      limits: [limit],
      now: t0 + 10 * 60_000,
    });
    // The first send leaves the window 50 minutes later.
    expect(refused).toEqual({ ok: false, reason: 'limit', limit: limit.name, retryAfterSeconds: 50 * 60 });
    expect(
      await s.issue({ phone, digest: 'd', verificationId: 'v4', limits: [limit], now: t0 + HOUR + 1 }),
    ).toEqual({
      ok: true,
    });
  });

  it('refuses on a fixed window until its key expires, with the key TTL as Retry-After', async () => {
    const s = store();
    const limit: SendLimit = {
      name: 'budget',
      key: `${prefix}limit:budget-${n}`,
      max: 2,
      windowMs: 1000,
      kind: 'fixed',
    };
    expect(await s.issue({ phone: nextPhone(), digest: 'd', verificationId: 'a', limits: [limit] })).toEqual({
      ok: true,
    });
    expect(await s.issue({ phone: nextPhone(), digest: 'd', verificationId: 'b', limits: [limit] })).toEqual({
      ok: true,
    });
    expect(await s.issue({ phone: nextPhone(), digest: 'd', verificationId: 'c', limits: [limit] })).toEqual({
      ok: false,
      reason: 'limit',
      limit: 'budget',
      retryAfterSeconds: 1,
    });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await s.issue({ phone: nextPhone(), digest: 'd', verificationId: 'd', limits: [limit] })).toEqual({
      ok: true,
    });
  });

  it('consumes nothing when any limit refuses, and reports the first full one', async () => {
    const s = store();
    const phone = nextPhone();
    const roomy = sliding(`roomy-${phone}`, 10);
    const full = sliding(`full-${phone}`, 1);
    expect((await s.issue({ phone, digest: 'first', verificationId: 'v1', limits: [roomy, full] })).ok).toBe(
      true,
    );
    const refused = await s.issue({ phone, digest: 'second', verificationId: 'v2', limits: [roomy, full] });
    expect(refused).toMatchObject({ ok: false, reason: 'limit', limit: full.name });
    expect(await redis.zcard(roomy.key)).toBe(1);
    // The refused send did not replace the live code.
    expect(await s.isLive({ phone, verificationId: 'v1' })).toMatchObject({ live: true });
  });

  it('checks the cooldown before the limits', async () => {
    const s = createCodeStore({
      redis,
      keyPrefix: prefix,
      ttlSeconds: 600,
      maxAttempts: 5,
      resendCooldownSeconds: 60,
    });
    const phone = nextPhone();
    const limit = sliding(`cool-${phone}`, 1);
    await s.issue({ phone, digest: 'd', verificationId: 'v1', limits: [limit] });
    expect(await s.issue({ phone, digest: 'd', verificationId: 'v2', limits: [limit] })).toMatchObject({
      reason: 'cooldown',
    });
  });
});

describe('failed verifies per phone, across codes', () => {
  it('stops guessing at the limit even after a new code, until the window passes', async () => {
    const s = store({ max: 3, windowMs: HOUR });
    const phone = nextPhone();
    const t0 = 1_800_000_000_000;
    await s.issue({ phone, digest: 'right-1', verificationId: 'v1' });
    expect(await s.verify({ phone, digest: 'wrong', now: t0 })).toMatchObject({ status: 'invalid' });
    expect(await s.verify({ phone, digest: 'wrong', now: t0 + 1 })).toMatchObject({ status: 'invalid' });
    // A fresh code does not reset the per-phone count.
    await s.issue({ phone, digest: 'right-2', verificationId: 'v2' });
    expect(await s.verify({ phone, digest: 'wrong', now: t0 + 2 })).toMatchObject({ status: 'invalid' });
    expect(await s.verify({ phone, digest: 'right-2', now: t0 + 3 })).toEqual({
      status: 'limited',
      retryAfterSeconds: 3600,
    });
    expect(await s.verify({ phone, digest: 'right-2', now: t0 + HOUR + 1 })).toEqual({
      status: 'verified',
      verificationId: 'v2',
    });
  });

  it('counts verifies of a number that never asked for a code the same way', async () => {
    const s = store({ max: 2, windowMs: HOUR });
    const phone = nextPhone();
    expect(await s.verify({ phone, digest: 'x' })).toEqual({ status: 'expired' });
    expect(await s.verify({ phone, digest: 'x' })).toEqual({ status: 'expired' });
    expect(await s.verify({ phone, digest: 'x' })).toMatchObject({ status: 'limited' });
  });

  it('is off with max 0', async () => {
    const s = store({ max: 0, windowMs: HOUR });
    const phone = nextPhone();
    for (let i = 0; i < 5; i++) expect(await s.verify({ phone, digest: 'x' })).toEqual({ status: 'expired' });
  });
});
