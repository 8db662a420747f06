import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { buildTestApi, freshPhone, type TestApi } from './helper.js';

// Per-address limits and timeouts against floods and slow clients (issue 8, items 4 and 12).
let api: TestApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

const sendFrom = (app: TestApi, forwardedFor: string) =>
  app.app.inject({
    method: 'POST',
    url: '/send-otp/',
    headers: { 'x-forwarded-for': forwardedFor },
    payload: { phone_number: freshPhone() },
  });

describe('per-IP send limits', () => {
  it('count a whole IPv6 /64 as one caller', async () => {
    api = await buildTestApi({
      TRUST_PROXY: 'true',
      OTP_SENDS_PER_IP_PER_HOUR: '2',
      OTP_RESEND_COOLDOWN_SECONDS: '0',
    });
    expect((await sendFrom(api, '2001:db8:1:2::1')).statusCode).toBe(200);
    expect((await sendFrom(api, '2001:db8:1:2:ffff::9')).statusCode).toBe(200);
    const third = await sendFrom(api, '2001:db8:1:2:abcd:1:2:3');
    expect(third.statusCode).toBe(429);
    expect(third.json()).toMatchObject({ code: 'IP_SEND_LIMIT' });
    // The next /64 is someone else.
    expect((await sendFrom(api, '2001:db8:1:3::1')).statusCode).toBe(200);
  });

  it('ignore an X-Forwarded-For that is not an address, counting the socket address instead', async () => {
    api = await buildTestApi({
      // Out of debug mode, where loopback callers would be exempt from the per-IP limit.
      MESSAGGIO_API_KEY: 'abuse-test-login',
      MESSAGGIO_SENDER: 'TEST',
      OTP_SECRET: 'ab'.repeat(32),
      TRUST_PROXY: 'true',
      OTP_SENDS_PER_IP_PER_HOUR: '2',
      OTP_RESEND_COOLDOWN_SECONDS: '0',
    });
    const huge = '9'.repeat(8000);
    expect((await sendFrom(api, 'not-an-ip')).statusCode).toBe(200);
    expect((await sendFrom(api, huge)).statusCode).toBe(200);
    // Both counted against 127.0.0.1 (inject's socket address): its bucket is now full.
    expect((await sendFrom(api, '127.0.0.1')).json()).toMatchObject({ code: 'IP_SEND_LIMIT' });
    const keys = await api.redis.keys(`${api.config.redisKeyPrefix}limit:ip-hour:*`);
    expect(keys).toEqual([`${api.config.redisKeyPrefix}limit:ip-hour:127.0.0.1`]);
  });

  it('ship a default daily SMS budget of 10,000', async () => {
    api = await buildTestApi();
    expect(api.config.limits.dailyBudget).toBe(10_000);
    const res = await sendFrom(api, '127.0.0.1');
    expect(res.statusCode).toBe(200);
    const day = new Date().toISOString().slice(0, 10);
    expect(await api.redis.get(`${api.config.redisKeyPrefix}limit:budget:${day}`)).toBe('1');
  });
});

describe('per-IP request rate limit (in process memory)', () => {
  it('answers 429 RATE_LIMITED with Retry-After past RATE_LIMIT_PER_IP_PER_MINUTE, per address', async () => {
    api = await buildTestApi({ TRUST_PROXY: 'true', RATE_LIMIT_PER_IP_PER_MINUTE: '3' });
    const get = (ip: string) =>
      api?.app.inject({ method: 'GET', url: '/health/live', headers: { 'x-forwarded-for': ip } });
    for (let i = 0; i < 3; i += 1) expect((await get('203.0.113.9'))?.statusCode).toBe(200);
    const limited = await get('203.0.113.9');
    expect(limited?.statusCode).toBe(429);
    expect(limited?.json()).toMatchObject({ code: 'RATE_LIMITED', retry_after: expect.any(Number) });
    expect(Number(limited?.headers['retry-after'])).toBeGreaterThan(0);
    expect((await get('203.0.113.10'))?.statusCode).toBe(200);
    // Bad requests count too: a flood of junk is refused before it reaches Redis.
    const junk = await api.app.inject({
      method: 'POST',
      url: '/verify-otp/',
      headers: { 'x-forwarded-for': '203.0.113.9' },
      payload: { nonsense: true },
    });
    expect(junk.statusCode).toBe(429);
  });

  it('is off with RATE_LIMIT_PER_IP_PER_MINUTE=0', async () => {
    api = await buildTestApi({ RATE_LIMIT_PER_IP_PER_MINUTE: '0' });
    for (let i = 0; i < 5; i += 1) {
      expect((await api.app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    }
  });
});

describe('slow clients', () => {
  it('sets requestTimeout and connectionTimeout from config', async () => {
    api = await buildTestApi({ REQUEST_TIMEOUT_MS: '1500', CONNECTION_TIMEOUT_MS: '4000' });
    expect(api.app.initialConfig).toMatchObject({ requestTimeout: 1500, connectionTimeout: 4000 });
  });

  it('closes a socket whose body never finishes arriving', async () => {
    api = await buildTestApi({ REQUEST_TIMEOUT_MS: '1000' });
    const address = await api.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = new URL(address);
    const socket = connect(Number(port), '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString();
    });
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write(
      'POST /send-otp/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"phone',
    );
    // Nothing more is sent: the server must give up on its own (Node's default: 300 s).
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
  });
});
