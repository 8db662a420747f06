import { randomUUID } from 'node:crypto';
import { createCodeStore, type SendLimit } from '@otp/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type ClusterSystem, clusterClient, startClusterSystem } from './system.js';

const phone = (i: number) => `+7701${String(3_000_000 + i).slice(-7)}`;
const day = () => new Date().toISOString().slice(0, 10);

let system: ClusterSystem | undefined;
afterEach(async () => {
  await system?.close();
  system = undefined;
});

describe('send limits on a Redis Cluster: shared counters reserved, refunded on refusal', () => {
  it('a send refused by the phone (cooldown) counts against no shared limit (exact, after refunds)', async () => {
    system = await startClusterSystem({
      env: { OTP_RESEND_COOLDOWN_SECONDS: '60', SMS_DAILY_BUDGET: '100', OTP_SENDS_PER_IP_PER_HOUR: '100' },
      workers: 0,
    });
    const s = system;
    const budgetKey = `${s.prefix}limit:budget:${day()}`;
    const ipKey = `${s.prefix}limit:ip-hour:127.0.0.1`;
    expect((await s.send(phone(1))).status).toBe(200);
    for (let i = 0; i < 5; i++) {
      const again = await s.send(phone(1));
      expect(again.status).toBe(429);
      expect(again.body.code).toBe('RESEND_TOO_SOON');
    }
    expect(await s.redis.get(budgetKey)).toBe('1');
    expect(await s.redis.zcard(ipKey)).toBe(1);
  });

  it('a send refused by a shared limit leaves the phone untouched: its code still verifies, no phone limit charged', async () => {
    system = await startClusterSystem({
      env: { SMS_DAILY_BUDGET: '1', OTP_SENDS_PER_PHONE_PER_HOUR: '10' },
      workers: 0,
    });
    const s = system;
    const first = await s.send(phone(2));
    expect(first.status).toBe(200);
    const refused = await s.send(phone(2));
    expect(refused.status).toBe(429);
    expect(refused.body.code).toBe('SMS_BUDGET_EXHAUSTED');
    expect(await s.redis.get(`${s.prefix}limit:budget:${day()}`)).toBe('1');
    expect(await s.redis.zcard(`${s.prefix}limit:phone-hour:{${phone(2)}}`)).toBe(1);
    // The first code is still the phone's code: the refused send replaced nothing.
    const code = await s.redis.hget(`${s.prefix}code:{${phone(2)}}`, 'id');
    expect(code).toBe(first.body.verification_id);
  });

  it('concurrent sends near a shared limit: never more than the limit; refusals counted nowhere; in-flight reservations may refuse sends that fit (bounded)', async () => {
    const budget = 10;
    system = await startClusterSystem({
      env: { SMS_DAILY_BUDGET: String(budget), OTP_RESEND_COOLDOWN_SECONDS: '60' },
      workers: 0,
    });
    const s = system;
    const budgetKey = `${s.prefix}limit:budget:${day()}`;
    // Five phones already in their cooldown: their sends reserve the budget, then are
    // refused by the phone's script and refunded.
    const cooling = Array.from({ length: 5 }, (_, i) => phone(100 + i));
    for (const p of cooling) expect((await s.send(p)).status).toBe(200);
    const fresh = Array.from({ length: 20 }, (_, i) => phone(200 + i));
    // The cooling phones' sends go first, so their reservations are in flight while the
    // fresh phones' sends reach the budget.
    const mixed = [...cooling.map((p) => ({ p, fresh: false })), ...fresh.map((p) => ({ p, fresh: true }))];
    const answers = await Promise.all(mixed.map(({ p }) => s.send(p)));

    const accepted = answers.filter((a) => a.status === 200).length;
    // Exact: the limit is never exceeded.
    expect(5 + accepted).toBeLessThanOrEqual(budget);
    // Exact: the counter holds the accepted sends only; every refusal was refunded.
    expect(Number(await s.redis.get(budgetKey))).toBe(5 + accepted);
    for (const [i, { fresh: isFresh }] of mixed.entries()) {
      const answer = answers[i] as { status: number; body: Record<string, unknown> };
      // A phone in its cooldown is refused, by its cooldown or by the budget it never got.
      if (!isFresh) expect(['RESEND_TOO_SOON', 'SMS_BUDGET_EXHAUSTED']).toContain(answer.body.code);
    }
    // Bounded: whatever room in-flight reservations hid is there once they are refunded.
    const refusedFresh = fresh.filter((_, i) => answers[cooling.length + i]?.status !== 200);
    let later = 0;
    for (const p of refusedFresh) if ((await s.send(p)).status === 200) later++;
    expect(5 + accepted + later).toBe(budget);
    expect(Number(await s.redis.get(budgetKey))).toBe(budget);
  });

  it('undo (a lost answer) refunds every shared charge exactly once, and a late reservation is refused', async () => {
    const redis = clusterClient();
    try {
      const prefix = `cl:${randomUUID().slice(0, 8)}:`;
      const store = createCodeStore({
        redis,
        keyPrefix: prefix,
        ttlSeconds: 60,
        maxAttempts: 3,
        resendCooldownSeconds: 30,
      });
      const p = phone(300);
      const limits: SendLimit[] = [
        {
          name: 'phone_hour',
          key: `${prefix}limit:phone-hour:{${p}}`,
          max: 5,
          windowMs: 3_600_000,
          kind: 'sliding',
        },
        {
          name: 'ip_hour',
          key: `${prefix}limit:ip-hour:10.0.0.1`,
          max: 5,
          windowMs: 3_600_000,
          kind: 'sliding',
        },
        { name: 'daily_budget', key: `${prefix}limit:budget:x`, max: 5, windowMs: 3_600_000, kind: 'fixed' },
      ];
      const verificationId = randomUUID();
      expect(await store.issue({ phone: p, digest: 'd', verificationId, limits })).toEqual({ ok: true });
      expect(await store.revoke({ phone: p, verificationId, limits })).toBe(true);
      // Twice: idempotent.
      expect(await store.revoke({ phone: p, verificationId, limits })).toBe(false);
      expect(await redis.get(`${prefix}limit:budget:x`)).toBe('0');
      expect(await redis.zcard(`${prefix}limit:ip-hour:10.0.0.1`)).toBe(0);
      expect(await redis.zcard(`${prefix}limit:phone-hour:{${p}}`)).toBe(0);
      expect(await redis.exists(`${prefix}code:{${p}}`)).toBe(0);
      // The issue arriving again after its undo changes nothing.
      const late = await store.issue({ phone: p, digest: 'd', verificationId, limits });
      expect(late).toMatchObject({ ok: false, reason: 'undone' });
      expect(await redis.get(`${prefix}limit:budget:x`)).toBe('0');
      expect(await redis.zcard(`${prefix}limit:ip-hour:10.0.0.1`)).toBe(0);
    } finally {
      redis.disconnect();
    }
  });

  it('verify: the per-address limit (its own slot) holds, and an Idempotency-Key replays a spent code', async () => {
    system = await startClusterSystem({
      env: { OTP_VERIFIES_PER_IP_PER_HOUR: '3', TEST_PHONE_NUMBERS: `${phone(500)}:424242` },
      workers: 0,
    });
    const s = system;
    expect((await s.send(phone(500))).status).toBe(200);
    const verifyOnce = () =>
      s.api.inject({
        method: 'POST',
        url: '/verify-otp/',
        payload: { phone_number: phone(500), code: '424242' },
        headers: { 'idempotency-key': 'cluster-verify-1' },
      });
    const first = await verifyOnce();
    const replay = await verifyOnce();
    expect(first.statusCode).toBe(200);
    expect(replay.statusCode).toBe(200);
    expect(replay.headers['idempotent-replayed']).toBe('true');

    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await s.verify(phone(400 + i), '123456'));
    expect(answers.slice(0, 3).map((a) => a.status)).toEqual([400, 400, 400]);
    expect(answers[3]?.status).toBe(429);
    expect(answers[3]?.body.code).toBe('VERIFY_LIMIT_EXCEEDED');
  });

  it("fraud guard (enforce): a blocked range refuses with its counts refunded; a verified number's pass gets one send through", async () => {
    system = await startClusterSystem({
      env: { FRAUD_GUARD: 'enforce', FRAUD_PASSES_PER_BLOCK: '1' },
      workers: 0,
    });
    const s = system;
    // phone(600..602) share the range +7701300 (all national digits but the last four).
    const range = `${s.prefix}fraud:{+7701300}`;
    const verified = (p: string) => `${s.prefix}fraud:verified:{${p}}`;
    await s.redis.hset(`${range}:block`, 'until', Date.now() + 600_000, 'passes', 0);
    await s.redis.pexpire(`${range}:block`, 600_000);
    const minuteSends = async () => {
      const minute = Math.floor(Date.now() / 60_000);
      const counts = await Promise.all([minute - 1, minute].map((m) => s.redis.get(`${range}:s:${m}`)));
      return counts.reduce((sum, c) => sum + Number(c ?? 0), 0);
    };

    const refused = await s.send(phone(600));
    expect(refused.status).toBe(429);
    expect(refused.body.code).toBe('FRAUD_SUSPECTED');
    // The range's send buckets were reserved beside the block and refunded with it.
    expect(await minuteSends()).toBe(0);

    // A number that verified before holds a pass (a key of its own slot): one send through.
    await s.redis.set(verified(phone(601)), '1', 'EX', 600);
    await s.redis.set(verified(phone(602)), '1', 'EX', 600);
    const through = await s.send(phone(601));
    expect(through.status).toBe(200);
    expect(await s.redis.exists(verified(phone(601)))).toBe(0);
    expect(await s.redis.hget(`${range}:block`, 'passes')).toBe('1');
    expect(await minuteSends()).toBe(1);
    // FRAUD_PASSES_PER_BLOCK=1: the block lets no second pass through, and keeps that pass.
    const second = await s.send(phone(602));
    expect(second.status).toBe(429);
    expect(second.body.code).toBe('FRAUD_SUSPECTED');
    expect(await s.redis.exists(verified(phone(602)))).toBe(1);
    expect(await s.redis.hget(`${range}:block`, 'passes')).toBe('1');
  });
});
