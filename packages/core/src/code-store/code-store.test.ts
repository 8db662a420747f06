import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTestRedis, deleteKeys, uniquePrefix } from '../../../../test/redis.js';
import { codeDigest, deriveKeys } from '../crypto/keys.js';
import { type CodeStore, createCodeStore } from './code-store.js';
import { LuaScript } from './lua-script.js';

const { codeHmacKey } = deriveKeys('code-store-test-secret-0123456789abcdef');
const digest = (phone: string, code: string) => codeDigest(codeHmacKey, phone, code);

let redis: Redis;
let prefix: string;
let counter = 0;
// Each test gets its own phone so they cannot see each other's codes.
const nextPhone = () => `+7708${String(1000000 + counter++).slice(-7)}`;

function store(overrides: Partial<Parameters<typeof createCodeStore>[0]> = {}): CodeStore {
  return createCodeStore({
    redis,
    keyPrefix: prefix,
    ttlSeconds: 600,
    maxAttempts: 3,
    resendCooldownSeconds: 0,
    ...overrides,
  });
}

beforeAll(() => {
  redis = connectTestRedis();
  prefix = uniquePrefix('code-store');
});

afterAll(async () => {
  await deleteKeys(redis, prefix);
  await redis.quit();
});

describe('code store (real Redis)', () => {
  it('keeps only a digest, never the code, under a TTL', async () => {
    const phone = nextPhone();
    await store().issue({ phone, digest: digest(phone, '424242'), verificationId: 'v1' });
    const key = `${prefix}code:{${phone}}`;
    const saved = await redis.hgetall(key);
    expect(saved).toEqual({ d: digest(phone, '424242'), id: 'v1', a: '0' });
    expect(JSON.stringify(saved)).not.toContain('424242');
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(590);
    expect(ttl).toBeLessThanOrEqual(600);
  });

  it('verifies the right code once, then reports it expired', async () => {
    const phone = nextPhone();
    const s = store();
    await s.issue({ phone, digest: digest(phone, '111111'), verificationId: 'v-right' });
    expect(await s.verify({ phone, digest: digest(phone, '111111') })).toEqual({
      status: 'verified',
      verificationId: 'v-right',
    });
    expect(await s.verify({ phone, digest: digest(phone, '111111') })).toEqual({ status: 'expired' });
  });

  it('treats a never-sent phone as expired', async () => {
    expect(await store().verify({ phone: nextPhone(), digest: digest('x', '000000') })).toEqual({
      status: 'expired',
    });
  });

  it('counts wrong codes and kills the code at the limit, even for the right one', async () => {
    const phone = nextPhone();
    const s = store({ maxAttempts: 3 });
    await s.issue({ phone, digest: digest(phone, '222222'), verificationId: 'v-guess' });
    const wrong = digest(phone, '999999');
    expect(await s.verify({ phone, digest: wrong })).toMatchObject({ status: 'invalid', attemptsLeft: 2 });
    expect(await s.verify({ phone, digest: wrong })).toMatchObject({ status: 'invalid', attemptsLeft: 1 });
    expect(await s.verify({ phone, digest: wrong })).toMatchObject({ status: 'invalid', attemptsLeft: 0 });
    expect(await s.verify({ phone, digest: digest(phone, '222222') })).toEqual({
      status: 'attempts_exceeded',
      verificationId: 'v-guess',
    });
    expect(await s.isLive({ phone, verificationId: 'v-guess' })).toEqual({ live: false, reason: 'dead' });
  });

  it('lets exactly one of many concurrent verifies of the right code succeed', async () => {
    const phone = nextPhone();
    const s = store();
    await s.issue({ phone, digest: digest(phone, '333333'), verificationId: 'v-race' });
    // Separate connections, so the requests really race at the server.
    const clients = Array.from({ length: 8 }, () => connectTestRedis());
    try {
      const results = await Promise.all(
        clients.map((client) =>
          createCodeStore({
            redis: client,
            keyPrefix: prefix,
            ttlSeconds: 600,
            maxAttempts: 3,
            resendCooldownSeconds: 0,
          }).verify({ phone, digest: digest(phone, '333333') }),
        ),
      );
      expect(results.filter((r) => r.status === 'verified')).toHaveLength(1);
      expect(results.filter((r) => r.status === 'expired')).toHaveLength(7);
    } finally {
      await Promise.all(clients.map((c) => c.quit()));
    }
  });

  it('never grants more guesses than the limit under a concurrent burst', async () => {
    const phone = nextPhone();
    const s = store({ maxAttempts: 3 });
    await s.issue({ phone, digest: digest(phone, '444444'), verificationId: 'v-burst' });
    const clients = Array.from({ length: 10 }, () => connectTestRedis());
    try {
      const results = await Promise.all(
        clients.map((client, i) =>
          createCodeStore({
            redis: client,
            keyPrefix: prefix,
            ttlSeconds: 600,
            maxAttempts: 3,
            resendCooldownSeconds: 0,
          }).verify({ phone, digest: digest(phone, String(500000 + i)) }),
        ),
      );
      expect(results.filter((r) => r.status === 'invalid')).toHaveLength(3);
      expect(results.filter((r) => r.status === 'attempts_exceeded')).toHaveLength(7);
    } finally {
      await Promise.all(clients.map((c) => c.quit()));
    }
  });

  it('replaces the previous code on a new send and resets its attempts', async () => {
    const phone = nextPhone();
    const s = store();
    await s.issue({ phone, digest: digest(phone, '555555'), verificationId: 'v-old' });
    await s.verify({ phone, digest: digest(phone, '000000') });
    await s.issue({ phone, digest: digest(phone, '666666'), verificationId: 'v-new' });
    expect(await s.isLive({ phone, verificationId: 'v-old' })).toEqual({ live: false, reason: 'replaced' });
    expect(await s.verify({ phone, digest: digest(phone, '555555') })).toMatchObject({
      status: 'invalid',
      attemptsLeft: 2,
    });
    expect(await s.verify({ phone, digest: digest(phone, '666666') })).toEqual({
      status: 'verified',
      verificationId: 'v-new',
    });
  });

  it('enforces the resend cooldown with the time left', async () => {
    const phone = nextPhone();
    const s = store({ resendCooldownSeconds: 60 });
    expect(await s.issue({ phone, digest: digest(phone, '1'), verificationId: 'a' })).toEqual({ ok: true });
    const refused = await s.issue({ phone, digest: digest(phone, '2'), verificationId: 'b' });
    expect(refused).toMatchObject({ ok: false, reason: 'cooldown' });
    if (!refused.ok) expect(refused.retryAfterSeconds).toBeGreaterThan(55);
    // The refused send must not have replaced the live code.
    expect(await s.isLive({ phone, verificationId: 'a' })).toMatchObject({ live: true });
  });

  it('allows a send again once the cooldown has passed', async () => {
    const phone = nextPhone();
    const s = store({ resendCooldownSeconds: 1 });
    expect(await s.issue({ phone, digest: digest(phone, '1'), verificationId: 'a' })).toEqual({ ok: true });
    expect((await s.issue({ phone, digest: digest(phone, '2'), verificationId: 'b' })).ok).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await s.issue({ phone, digest: digest(phone, '3'), verificationId: 'c' })).toEqual({ ok: true });
  });

  it('reports a code gone after its TTL', async () => {
    const phone = nextPhone();
    const s = store({ ttlSeconds: 1 });
    await s.issue({ phone, digest: digest(phone, '777777'), verificationId: 'v-ttl' });
    expect(await s.isLive({ phone, verificationId: 'v-ttl' })).toMatchObject({ live: true });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await s.isLive({ phone, verificationId: 'v-ttl' })).toEqual({ live: false, reason: 'gone' });
    expect(await s.verify({ phone, digest: digest(phone, '777777') })).toEqual({ status: 'expired' });
  });

  it('revokes only its own issue, and lifts the cooldown it set', async () => {
    const phone = nextPhone();
    const s = store({ resendCooldownSeconds: 60 });
    await s.issue({ phone, digest: digest(phone, '1'), verificationId: 'mine' });
    await s.revoke({ phone, verificationId: 'other' });
    expect(await s.isLive({ phone, verificationId: 'mine' })).toMatchObject({ live: true });
    await s.revoke({ phone, verificationId: 'mine' });
    expect(await s.isLive({ phone, verificationId: 'mine' })).toEqual({ live: false, reason: 'gone' });
    expect(await s.issue({ phone, digest: digest(phone, '2'), verificationId: 'retry' })).toEqual({
      ok: true,
    });
  });

  it('runs a script the server has never seen by falling back from EVALSHA to EVAL', async () => {
    // A unique source cannot be in the server's script cache, so the first EVALSHA gets
    // NOSCRIPT, exactly as after a Redis restart; no SCRIPT FLUSH on a shared Redis.
    const script = new LuaScript('probe', `return {KEYS[1], ARGV[1], '${uniquePrefix('lua')}'}`, 1);
    expect(await redis.script('EXISTS', script.sha)).toEqual([0]);
    const reply = (await script.run(redis, ['k'], ['v'])) as string[];
    expect(reply.slice(0, 2)).toEqual(['k', 'v']);
    expect(await redis.script('EXISTS', script.sha)).toEqual([1]);
    await expect(script.run(redis, [], [])).rejects.toThrow(/takes 1 keys/);
  });
});

describe('code store: cancel (real Redis)', () => {
  it('deletes this verification’s code, then answers already for as long as the code would have lived', async () => {
    const phone = nextPhone();
    const s = store();
    await s.issue({ phone, digest: digest(phone, '121212'), verificationId: 'v-cancel' });
    expect(await s.cancel({ phone, verificationId: 'v-cancel' })).toBe('canceled');
    expect(await s.verify({ phone, digest: digest(phone, '121212') })).toEqual({ status: 'expired' });
    expect(await s.isLive({ phone, verificationId: 'v-cancel' })).toEqual({ live: false, reason: 'gone' });
    expect(await s.cancel({ phone, verificationId: 'v-cancel' })).toBe('already');
    const mark = await redis.pttl(`${prefix}{${phone}}:canceled:v-cancel`);
    expect(mark).toBeGreaterThan(590_000);
    expect(mark).toBeLessThanOrEqual(600_000);
  });

  it('never touches a newer code for the same phone', async () => {
    const phone = nextPhone();
    const s = store();
    await s.issue({ phone, digest: digest(phone, '111111'), verificationId: 'v-old' });
    await s.issue({ phone, digest: digest(phone, '222222'), verificationId: 'v-new' });
    expect(await s.cancel({ phone, verificationId: 'v-old' })).toBe('replaced');
    expect(await s.verify({ phone, digest: digest(phone, '222222') })).toMatchObject({ status: 'verified' });
  });

  it('answers gone for a code already spent (or expired)', async () => {
    const phone = nextPhone();
    const s = store();
    await s.issue({ phone, digest: digest(phone, '333333'), verificationId: 'v-spent' });
    await s.verify({ phone, digest: digest(phone, '333333') });
    expect(await s.cancel({ phone, verificationId: 'v-spent' })).toBe('gone');
    expect(await s.cancel({ phone: nextPhone(), verificationId: 'v-never' })).toBe('gone');
  });
});
