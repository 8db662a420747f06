import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTestRedis, deleteKeys, uniquePrefix } from '../../../../test/redis.js';
import { deriveKeys, storedCodeDigest } from '../crypto/keys.js';
import { type CodeStore, createCodeStore, type IssueReuse, type SendLimit } from './code-store.js';
import { openStoredCode, sealStoredCode } from './sealed-code.js';

// Issue 12, item 1: a resend within a code's life keeps the code, its attempts and expiry.
let redis: Redis;
const prefix = uniquePrefix('resend');
const HOUR = 3_600_000;
const keys = deriveKeys('resend-test-secret-0123456789abcdef012345');
let n = 0;
const nextPhone = () => `+7702${String(3_000_000 + n++).slice(-7)}`;
const codeKey = (phone: string) => `${prefix}code:{${phone}}`;

beforeAll(() => {
  redis = connectTestRedis();
});
afterAll(async () => {
  await deleteKeys(redis, prefix);
  await redis.quit();
});

function store(options: { resendCooldownSeconds?: number; maxAttempts?: number } = {}): CodeStore {
  return createCodeStore({
    redis,
    keyPrefix: prefix,
    ttlSeconds: 600,
    maxAttempts: options.maxAttempts ?? 3,
    resendCooldownSeconds: options.resendCooldownSeconds ?? 0,
  });
}

/** One send as the API makes it: a fresh code, its digest, and the reuse request. */
function send(
  s: CodeStore,
  phone: string,
  id: string,
  code: string,
  extra: { binding?: string; limits?: SendLimit[]; reuse?: Partial<IssueReuse> } = {},
) {
  const binding = extra.binding ?? '|';
  return s.issue({
    phone,
    digest: storedCodeDigest(keys, phone, code),
    verificationId: id,
    limits: extra.limits ?? [],
    reuse: {
      sealedCode: sealStoredCode(keys, code, { verificationId: id, phone, binding }),
      binding,
      keyIds: [keys.keyId],
      minRemainingMs: 60_000,
      ...extra.reuse,
    },
  });
}

const sliding = (name: string, max: number): SendLimit => ({
  name,
  key: `${prefix}limit:${name}`,
  max,
  windowMs: HOUR,
  kind: 'sliding',
});

describe('same code on resend (issue script)', () => {
  it('keeps a live code: same verification, same code, attempts and expiry untouched', async () => {
    const s = store();
    const phone = nextPhone();
    expect(await send(s, phone, 'v1', '111111')).toEqual({ ok: true });
    // A wrong guess uses an attempt; a shortened life shows whether a resend extends it.
    await s.verify({ phone, digest: storedCodeDigest(keys, phone, '999999') });
    await redis.pexpire(codeKey(phone), 120_000);

    const again = await send(s, phone, 's2', '222222');
    expect(again).toMatchObject({ ok: true, kept: { verificationId: 'v1' } });
    if (!again.ok || !again.kept) throw new Error('expected a kept code');
    expect(again.kept.ttlMs).toBeLessThanOrEqual(120_000);
    expect(await redis.pttl(codeKey(phone))).toBeLessThanOrEqual(120_000);
    expect(openStoredCode([keys], again.kept.sealedCode, { verificationId: 'v1', phone, binding: '|' })).toBe(
      '111111',
    );
    expect(await redis.hget(codeKey(phone), 'a')).toBe('1');
    // The kept code verifies (the new one was never stored); one attempt is gone.
    expect(await s.verify({ phone, digest: storedCodeDigest(keys, phone, '222222') })).toMatchObject({
      status: 'invalid',
      attemptsLeft: 1,
    });
    expect(await s.verify({ phone, digest: storedCodeDigest(keys, phone, '111111') })).toEqual({
      status: 'verified',
      verificationId: 'v1',
    });
  });

  it('never stores the code in clear', async () => {
    const s = store();
    const phone = nextPhone();
    await send(s, phone, 'v1', '314159');
    const fields = await redis.hgetall(codeKey(phone));
    expect(JSON.stringify(fields)).not.toContain('314159');
    expect(fields.c).toMatch(new RegExp(`^${keys.keyId}:v1\\.`));
  });

  it('issues a new code for another binding (purpose or caller)', async () => {
    const s = store();
    const phone = nextPhone();
    await send(s, phone, 'v1', '111111', { binding: 'login|' });
    expect(await send(s, phone, 'v2', '222222', { binding: 'reset|' })).toEqual({ ok: true });
    expect(await redis.hget(codeKey(phone), 'id')).toBe('v2');
    expect(await redis.hget(codeKey(phone), 'b')).toBe('reset|');
  });

  it('issues a new code when the old one is dead, too short-lived, or sealed with a key no longer held', async () => {
    const s = store({ maxAttempts: 1 });
    const dead = nextPhone();
    await send(s, dead, 'v1', '111111');
    await s.verify({ phone: dead, digest: storedCodeDigest(keys, dead, '999999') });
    expect(await send(s, dead, 'v2', '222222')).toEqual({ ok: true });
    expect(await redis.hget(codeKey(dead), 'a')).toBe('0');

    const late = nextPhone();
    await send(s, late, 'v1', '111111');
    await redis.pexpire(codeKey(late), 30_000);
    expect(await send(s, late, 'v2', '222222')).toEqual({ ok: true });
    expect(await redis.ttl(codeKey(late))).toBeGreaterThan(30);

    const rotated = nextPhone();
    await send(s, rotated, 'v1', '111111');
    expect(await send(s, rotated, 'v2', '222222', { reuse: { keyIds: ['00000000'] } })).toEqual({
      ok: true,
    });

    const off = nextPhone();
    await send(s, off, 'v1', '111111');
    expect(await send(s, off, 'v2', '222222', { reuse: { reuse: false } })).toEqual({ ok: true });
  });

  it('counts every resend against the limits, and refuses one past them without a trace', async () => {
    const s = store();
    const phone = nextPhone();
    const hour = sliding(`hour-${phone}`, 2);
    await send(s, phone, 'v1', '111111', { limits: [hour] });
    expect(await send(s, phone, 's2', '222222', { limits: [hour] })).toMatchObject({ kept: {} });
    expect(await send(s, phone, 's3', '333333', { limits: [hour] })).toMatchObject({
      ok: false,
      reason: 'limit',
    });
    expect((await redis.zrange(hour.key, 0, -1)).sort()).toEqual(['s2', 'v1']);
    expect(await redis.hget(codeKey(phone), 's')).toBe('s2');
  });

  it('keeps the resend cooldown between resends', async () => {
    const s = store({ resendCooldownSeconds: 60 });
    const phone = nextPhone();
    await send(s, phone, 'v1', '111111');
    expect(await send(s, phone, 's2', '222222')).toMatchObject({ ok: false, reason: 'cooldown' });
  });
});

describe('undo of a resend (revoke by send id)', () => {
  it('gives back its own charges and cooldown but keeps the code the user may hold', async () => {
    const s = store({ resendCooldownSeconds: 60 });
    const phone = nextPhone();
    const hour = sliding(`undo-${phone}`, 5);
    await send(s, phone, 'v1', '111111', { limits: [hour] });
    await redis.del(`${prefix}cooldown:{${phone}}`);
    expect(await send(s, phone, 's2', '222222', { limits: [hour] })).toMatchObject({ kept: {} });

    expect(await s.revoke({ phone, verificationId: 's2', limits: [hour] })).toBe(true);
    expect(await redis.zrange(hour.key, 0, -1)).toEqual(['v1']);
    expect(await redis.exists(`${prefix}cooldown:{${phone}}`)).toBe(0);
    expect(await s.isLive({ phone, verificationId: 'v1' })).toMatchObject({ live: true });
    expect(await s.verify({ phone, digest: storedCodeDigest(keys, phone, '111111') })).toMatchObject({
      status: 'verified',
    });
  });

  it('keeps a code that a later resend carries when the first send is undone', async () => {
    const s = store();
    const phone = nextPhone();
    await send(s, phone, 'v1', '111111');
    await send(s, phone, 's2', '222222');
    await s.revoke({ phone, verificationId: 'v1' });
    expect(await s.isLive({ phone, verificationId: 'v1' })).toMatchObject({ live: true });
  });

  it('still deletes a fresh code whose send is undone', async () => {
    const s = store();
    const phone = nextPhone();
    await send(s, phone, 'v1', '111111');
    expect(await s.revoke({ phone, verificationId: 'v1' })).toBe(true);
    expect(await redis.exists(codeKey(phone))).toBe(0);
  });
});
