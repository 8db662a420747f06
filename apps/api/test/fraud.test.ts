import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { buildTestApi, type TestApi } from './helper.js';

// Small thresholds so a test sends a few dozen codes: 10 sends in the window make a range
// surge (no baseline yet), 8 old-enough sends with no verify make it suspect.
const GUARD = {
  FRAUD_MIN_SENDS: '10',
  FRAUD_CONVERSION_MIN_SAMPLE: '8',
  OTP_RESEND_COOLDOWN_SECONDS: '0',
};
const ADMIN_PASSWORD = 'admin-password-0123456789';
const ADMIN = { authorization: `Basic ${Buffer.from(`ops:${ADMIN_PASSWORD}`).toString('base64')}` };
const sha = (value: string) => createHash('sha256').update(value).digest('hex');
const START = Date.UTC(2026, 0, 5, 10, 0, 0);
const MINUTE = 60_000;

let counter = 0;
/** A fresh KZ number in the range +7708<range> (auto: all but the last 4 national digits). */
function phoneIn(range: string): string {
  counter += 1;
  return `+7708${range}${String(counter % 10_000).padStart(4, '0')}`;
}
/** A range no other test in this file uses. */
let rangeCounter = Math.floor(Math.random() * 500);
function freshRange(): string {
  rangeCounter += 1;
  return String(rangeCounter % 1000).padStart(3, '0');
}

describe('fraud guard', () => {
  let api: TestApi | undefined;
  let now = START;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  async function build(env: Record<string, string>) {
    now = START;
    api = await buildTestApi({ ...GUARD, ADMIN_USER: 'ops', ADMIN_PASSWORD, ...env }, { clock: () => now });
    return api;
  }
  async function send(phone: string, headers: Record<string, string> = {}) {
    const res = await api?.app.inject({
      method: 'POST',
      url: '/send-otp/',
      payload: { phone_number: phone },
      headers,
    });
    await api?.app.fraudGuard.settle();
    return res as NonNullable<typeof res>;
  }
  /** Pumps a range: `count` codes to fresh numbers in it, none verified, then time moves on. */
  async function pump(range: string, count: number, headers: Record<string, string> = {}) {
    const codes = [];
    for (let i = 0; i < count; i++) codes.push((await send(phoneIn(range), headers)).statusCode);
    return codes;
  }
  async function metrics() {
    return (await api?.app.inject({ url: '/metrics', headers: ADMIN }))?.body ?? '';
  }

  it('enforce: blocks a range that surges without verifies, answers 429 FRAUD_SUSPECTED, escalates', async () => {
    const { app, logs } = await build({ FRAUD_GUARD: 'enforce' });
    const range = freshRange();
    expect(await pump(range, 9)).toEqual(Array(9).fill(200));
    now += 2 * MINUTE;
    // Two more are let through (the range must be surging now, 2 sends in the newest 2
    // minutes); judging the 11th (9 sends old enough, 0 verified) blocks the range.
    expect(await pump(range, 2)).toEqual([200, 200]);
    const refused = await send(phoneIn(range));
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ code: 'FRAUD_SUSPECTED', retry_after: 900 });
    expect(refused.headers['retry-after']).toBe('900');
    // Other ranges are not touched.
    expect((await send(phoneIn(freshRange()))).statusCode).toBe(200);

    const warn = logs.lines.map((line) => JSON.parse(line)).find((l) => l.msg?.includes('range blocked'));
    expect(warn).toMatchObject({ level: 40, range: `+7708${range}`, offence: 1 });
    expect(warn).toMatchObject({ recentSends: 11, sampleSends: 9, sampleVerified: 0, blockSeconds: 900 });
    const text = await metrics();
    expect(text).toMatch(/otp_fraud_blocks_total\{country="KZ",mode="enforce"\} 1/);
    expect(text).toMatch(/otp_fraud_refused_sends_total\{country="KZ",mode="enforce"\} 1/);
    expect(text).toMatch(/otp_fraud_suspect_ranges 1/);
    expect(text).toMatch(/otp_sends_total\{result="fraud_suspected",country="KZ"\} 1/);

    // The block ends while the range still pumps (the refused attempts count), so the first
    // send after it is judged again and the range is blocked for the second period.
    now += 8 * MINUTE;
    expect(await pump(range, 10)).toEqual(Array(10).fill(429));
    now += 6 * MINUTE;
    expect(await pump(range, 3)).toEqual(Array(3).fill(429));
    now += 1 * MINUTE;
    expect((await send(phoneIn(range))).statusCode).toBe(200);
    const again = await send(phoneIn(range));
    expect(again.json()).toMatchObject({ code: 'FRAUD_SUSPECTED', retry_after: 3600 });
    expect(await metrics()).toMatch(/otp_fraud_blocks_total\{country="KZ",mode="enforce"\} 2/);
    // A block ends at its time on the guard's clock.
    now += 3600_000;
    expect((await send(phoneIn(freshRange()))).statusCode).toBe(200);
    expect((await send(phoneIn(range))).statusCode).toBe(200);
    expect(app.fraudGuard.mode).toBe('enforce');
  });

  it('does not block a busy range whose codes are verified', async () => {
    const { app } = await build({ FRAUD_GUARD: 'enforce' });
    const range = freshRange();
    for (let i = 0; i < 12; i++) {
      const phone = phoneIn(range);
      const sent = await send(phone);
      const verified = await app.inject({
        method: 'POST',
        url: '/verify-otp/',
        payload: { phone_number: phone, code: sent.json().debug_code },
      });
      expect(verified.statusCode).toBe(200);
    }
    now += 3 * MINUTE;
    expect(await pump(range, 5)).toEqual(Array(5).fill(200));
    expect(await app.fraudGuard.listBlocks(now)).toEqual([]);
  });

  it('exempts numbers that verified before, test numbers and trusted API keys', async () => {
    const range = freshRange();
    const testNumber = phoneIn(range);
    const { app } = await build({
      FRAUD_GUARD: 'enforce',
      TEST_PHONE_NUMBERS: `${testNumber}:123456`,
      API_KEYS: `plain:${sha('plain-key')},backend:${sha('trusted-key')}::trusted`,
    });
    const plain = { 'x-api-key': 'plain-key' };
    const person = phoneIn(range);
    const first = await send(person, plain);
    await app.inject({
      method: 'POST',
      url: '/verify-otp/',
      payload: { phone_number: person, code: first.json().debug_code },
      headers: plain,
    });
    await app.fraudGuard.settle();
    await pump(range, 12, plain);
    now += 2 * MINUTE;
    await pump(range, 2, plain);
    expect((await send(phoneIn(range), plain)).json()).toMatchObject({ code: 'FRAUD_SUSPECTED' });
    expect((await send(person, plain)).statusCode).toBe(200);
    // The pass is spent by the send it let through; a new verify renews it.
    expect((await send(person, plain)).json()).toMatchObject({ code: 'FRAUD_SUSPECTED' });
    expect((await send(testNumber, plain)).statusCode).toBe(200);
    expect((await send(phoneIn(range), { 'x-api-key': 'trusted-key' })).statusCode).toBe(200);
  });

  it('record_only: refuses nothing, but reports and lists the would-be block', async () => {
    const { app, logs } = await build({ FRAUD_GUARD: 'record_only' });
    const range = freshRange();
    await pump(range, 9);
    now += 2 * MINUTE;
    expect(await pump(range, 5)).toEqual(Array(5).fill(200));
    expect(logs.text).toContain('fraud guard (record_only): number range would be blocked');
    const text = await metrics();
    expect(text).toMatch(/otp_fraud_blocks_total\{country="KZ",mode="record_only"\} 1/);
    // The three sends after the decision are the ones enforce would have refused.
    expect(text).toMatch(/otp_fraud_refused_sends_total\{country="KZ",mode="record_only"\} 3/);
    const list = await app.inject({ url: '/fraud/blocks', headers: ADMIN });
    expect(list.json()).toMatchObject({
      mode: 'record_only',
      blocks: [{ range: `+7708${range}`, mode: 'record_only', level: 1, country: 'KZ' }],
    });
  });

  it('off: counts nothing and writes no key', async () => {
    const { redis, config } = await build({ FRAUD_GUARD: 'off' });
    const range = freshRange();
    await pump(range, 9);
    now += 2 * MINUTE;
    expect(await pump(range, 5)).toEqual(Array(5).fill(200));
    expect(await redis.keys(`${config.redisKeyPrefix}fraud:*`)).toEqual([]);
    expect(await metrics()).not.toMatch(/otp_fraud_suspect_ranges/);
  });

  it('admin routes list blocks and lift one; they need the admin credentials', async () => {
    const { app } = await build({ FRAUD_GUARD: 'enforce' });
    const range = freshRange();
    await pump(range, 9);
    now += 2 * MINUTE;
    await pump(range, 2);
    expect((await app.inject({ url: '/fraud/blocks' })).statusCode).toBe(401);
    const list = await app.inject({ url: '/fraud/blocks', headers: ADMIN });
    expect(list.statusCode).toBe(200);
    expect(list.json().blocks).toEqual([
      expect.objectContaining({
        range: `+7708${range}`,
        mode: 'enforce',
        level: 1,
        recent_sends: 11,
        sample_sends: 9,
        sample_verified: 0,
        blocked_at: new Date(now).toISOString(),
        expires_at: new Date(now + 900_000).toISOString(),
      }),
    ]);
    expect((await app.inject({ method: 'DELETE', url: `/fraud/blocks/7708${range}` })).statusCode).toBe(401);
    const lifted = await app.inject({ method: 'DELETE', url: `/fraud/blocks/7708${range}`, headers: ADMIN });
    expect(lifted.json()).toEqual({ range: `+7708${range}`, lifted: true });
    expect((await send(phoneIn(range))).statusCode).toBe(200);
    const again = await app.inject({ method: 'DELETE', url: '/fraud/blocks/+7708999', headers: ADMIN });
    expect(again.statusCode).toBe(404);
    expect(again.json()).toMatchObject({ code: 'NOT_FOUND' });
    const bad = await app.inject({ method: 'DELETE', url: '/fraud/blocks/abc', headers: ADMIN });
    expect(bad.json()).toMatchObject({ code: 'VALIDATION_ERROR' });
  });
});
