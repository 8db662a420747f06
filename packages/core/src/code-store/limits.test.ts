import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTestRedis, deleteKeys, uniquePrefix } from '../../../../test/redis.js';
import { type CodeStore, createCodeStore, failedVerifiesKey, type SendLimit } from './code-store.js';

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

function store(failedVerifies?: {
  max: number;
  windowMs: number;
  phoneCeiling?: number;
  perClient?: number;
}): CodeStore {
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
      scope: 'client',
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

describe('failed verifies per (phone, client), with a per-phone ceiling and a per-client limit', () => {
  it('locks out only the failing client: a right code from another client still verifies', async () => {
    const s = store({ max: 3, windowMs: HOUR, phoneCeiling: 100 });
    const phone = nextPhone();
    await s.issue({ phone, digest: 'right', verificationId: 'v1' });
    // The attacker guesses from its own address until it is locked out...
    for (let i = 0; i < 3; i++) {
      expect(await s.verify({ phone, digest: `wrong-${i}`, client: 'ip:198.51.100.1' })).toMatchObject({
        status: 'invalid',
      });
    }
    expect(await s.verify({ phone, digest: 'right', client: 'ip:198.51.100.1' })).toMatchObject({
      status: 'limited',
      scope: 'client',
    });
    // ...while the real user's right code, from another client, verifies.
    expect(await s.verify({ phone, digest: 'right', client: 'ip:203.0.113.5' })).toEqual({
      status: 'verified',
      verificationId: 'v1',
    });
  });

  it('also locks a number that never asked for a code only for the failing client', async () => {
    const s = store({ max: 2, windowMs: HOUR, phoneCeiling: 100 });
    const phone = nextPhone();
    for (let i = 0; i < 2; i++) await s.verify({ phone, digest: 'x', client: 'ip:a' });
    expect(await s.verify({ phone, digest: 'x', client: 'ip:a' })).toMatchObject({ status: 'limited' });
    await s.issue({ phone, digest: 'right', verificationId: 'v1' });
    expect(await s.verify({ phone, digest: 'right', client: 'ip:b' })).toMatchObject({ status: 'verified' });
  });

  it('bounds the total per phone across clients with the ceiling', async () => {
    const s = store({ max: 3, windowMs: HOUR, phoneCeiling: 5 });
    const phone = nextPhone();
    await s.issue({ phone, digest: 'right', verificationId: 'v1' });
    for (const client of ['a', 'b', 'c', 'd', 'e']) {
      // Each client guesses once: per-code attempts (5) and the ceiling (5) both fill.
      await s.verify({ phone, digest: 'wrong', client });
    }
    expect(await s.verify({ phone, digest: 'right', client: 'fresh' })).toMatchObject({
      status: 'limited',
      scope: 'phone',
    });
  });

  it('counts wrong attempts per code across all clients: guesses per code never rise', async () => {
    const s = store({ max: 3, windowMs: HOUR, phoneCeiling: 100 });
    const phone = nextPhone();
    await s.issue({ phone, digest: 'right', verificationId: 'v1' });
    for (let i = 0; i < 5; i++) await s.verify({ phone, digest: 'wrong', client: `client-${i}` });
    expect(await s.verify({ phone, digest: 'right', client: 'another' })).toEqual({
      status: 'attempts_exceeded',
      verificationId: 'v1',
    });
  });

  it('limits failed verifies per client across phones', async () => {
    const s = store({ max: 10, windowMs: HOUR, phoneCeiling: 100, perClient: 3 });
    for (let i = 0; i < 3; i++) await s.verify({ phone: nextPhone(), digest: 'x', client: 'key:scraper' });
    const phone = nextPhone();
    await s.issue({ phone, digest: 'right', verificationId: 'v1' });
    expect(await s.verify({ phone, digest: 'right', client: 'key:scraper' })).toMatchObject({
      status: 'limited',
      scope: 'caller',
    });
    expect(await s.verify({ phone, digest: 'right', client: 'key:other' })).toMatchObject({
      status: 'verified',
    });
  });

  it('refuses a send while the ceiling is full (a check-only limit), taking nothing', async () => {
    const s = store({ max: 3, windowMs: HOUR, phoneCeiling: 2 });
    const phone = nextPhone();
    const lock: SendLimit = {
      name: 'verify_lock',
      key: failedVerifiesKey(prefix, phone),
      max: 2,
      windowMs: HOUR,
      kind: 'check',
    };
    expect(await s.issue({ phone, digest: 'd1', verificationId: 'v1', limits: [lock] })).toEqual({
      ok: true,
    });
    await s.verify({ phone, digest: 'wrong', client: 'a' });
    await s.verify({ phone, digest: 'wrong', client: 'b' });
    expect(await s.issue({ phone, digest: 'd2', verificationId: 'v2', limits: [lock] })).toMatchObject({
      ok: false,
      reason: 'limit',
      limit: 'verify_lock',
    });
    // The check counted nothing.
    expect(await redis.zcard(failedVerifiesKey(prefix, phone))).toBe(2);
  });
});

describe('undo of an issue by verification id (revoke)', () => {
  const fixed = (name: string, max: number): SendLimit => ({
    name,
    key: `${prefix}limit:${name}`,
    max,
    windowMs: HOUR,
    kind: 'fixed',
  });

  it('is idempotent: a second undo gives nothing back twice', async () => {
    const s = store();
    const phone = nextPhone();
    const budget = fixed(`budget-${phone}`, 100);
    const hour = sliding(`hour-${phone}`, 5);
    await s.issue({ phone, digest: 'd', verificationId: 'v1', limits: [hour, budget] });
    await s.issue({ phone, digest: 'd2', verificationId: 'v0', limits: [hour, budget] });
    // v0 replaced v1's code; undoing v0 twice gives back one send, once.
    expect(await s.revoke({ phone, verificationId: 'v0', limits: [hour, budget] })).toBe(true);
    expect(await s.revoke({ phone, verificationId: 'v0', limits: [hour, budget] })).toBe(false);
    expect(await redis.get(budget.key)).toBe('1');
    expect(await redis.zrange(hour.key, 0, -1)).toEqual(['v1']);
  });

  it('makes an issue that arrives after its undo a no-op', async () => {
    const s = store();
    const phone = nextPhone();
    const budget = fixed(`budget-late-${phone}`, 100);
    expect(await s.revoke({ phone, verificationId: 'late', limits: [budget] })).toBe(true);
    // The undo took nothing it had not counted.
    expect(await redis.get(budget.key)).toBeNull();
    expect(await s.issue({ phone, digest: 'd', verificationId: 'late', limits: [budget] })).toMatchObject({
      ok: false,
      reason: 'undone',
    });
    expect(await redis.exists(`${prefix}code:{${phone}}`)).toBe(0);
    expect(await redis.get(budget.key)).toBeNull();
  });
});

describe('count, block and pass limits (the fraud guard)', () => {
  const t0 = 1_800_000_000_000;
  const limitsFor = (phone: string, tag: string): SendLimit[] => [
    { name: 'fraud', key: `${prefix}pass:{${phone}}`, max: 0, windowMs: 0, kind: 'pass' },
    { name: 'fraud', key: `${prefix}block:${tag}`, max: 1, windowMs: 0, kind: 'block' },
    { name: 'fraud', key: `${prefix}count:${tag}`, max: 0, windowMs: HOUR, kind: 'count' },
  ];

  it('counts every admitted send without a maximum, and a revoke gives the count back', async () => {
    const s = store();
    const tag = `count-${n}`;
    for (let i = 0; i < 3; i++) {
      const phone = nextPhone();
      expect(
        await s.issue({
          phone,
          digest: 'd',
          verificationId: `c${i}`,
          limits: limitsFor(phone, tag),
          now: t0,
        }),
      ).toEqual({
        ok: true,
      });
      if (i === 2) await s.revoke({ phone, verificationId: `c${i}`, limits: limitsFor(phone, tag) });
    }
    expect(await redis.get(`${prefix}count:${tag}`)).toBe('2');
    expect(await redis.pttl(`${prefix}count:${tag}`)).toBeGreaterThan(HOUR - 60_000);
  });

  it('refuses until the time a block key holds (on the caller clock), counting nothing', async () => {
    const s = store();
    const tag = `block-${n}`;
    await redis.hset(`${prefix}block:${tag}`, 'until', String(t0 + 900_000));
    const phone = nextPhone();
    expect(
      await s.issue({ phone, digest: 'd', verificationId: 'b1', limits: limitsFor(phone, tag), now: t0 }),
    ).toEqual({
      ok: false,
      reason: 'limit',
      limit: 'fraud',
      retryAfterSeconds: 900,
    });
    expect(await redis.get(`${prefix}count:${tag}`)).toBeNull();
    expect(
      await s.issue({
        phone,
        digest: 'd',
        verificationId: 'b2',
        limits: limitsFor(phone, tag),
        now: t0 + 900_000,
      }),
    ).toEqual({ ok: true });
  });

  it('lets a number with a pass through a block once, and spends the pass', async () => {
    const s = store();
    const tag = `pass-${n}`;
    await redis.hset(`${prefix}block:${tag}`, 'until', String(t0 + 900_000));
    const phone = nextPhone();
    await redis.set(`${prefix}pass:{${phone}}`, '1');
    expect(
      await s.issue({ phone, digest: 'd', verificationId: 'p1', limits: limitsFor(phone, tag), now: t0 }),
    ).toEqual({
      ok: true,
    });
    expect(await redis.exists(`${prefix}pass:{${phone}}`)).toBe(0);
    const again = await s.issue({
      phone,
      digest: 'd',
      verificationId: 'p2',
      limits: limitsFor(phone, tag),
      now: t0,
    });
    expect(again).toMatchObject({ ok: false, limit: 'fraud' });
    // One pass per block (max 1): another number's pass does not get through.
    const late = nextPhone();
    await redis.set(`${prefix}pass:{${late}}`, '1');
    expect(
      await s.issue({
        phone: late,
        digest: 'd',
        verificationId: 'p4',
        limits: limitsFor(late, tag),
        now: t0,
      }),
    ).toMatchObject({ ok: false, limit: 'fraud' });
    expect(await redis.exists(`${prefix}pass:{${late}}`)).toBe(1);
    // Without a block in force the pass is kept.
    const other = nextPhone();
    await redis.set(`${prefix}pass:{${other}}`, '1');
    await s.issue({
      phone: other,
      digest: 'd',
      verificationId: 'p3',
      limits: limitsFor(other, `free-${n}`),
      now: t0,
    });
    expect(await redis.exists(`${prefix}pass:{${other}}`)).toBe(1);
  });
});
