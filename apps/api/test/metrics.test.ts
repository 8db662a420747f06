import { createLogger } from '@otp/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMetrics } from '../../../test/probes.js';
import { createApp } from '../src/app.js';
import { loadApiConfig } from '../src/config.js';
import { buildTestApi, freshPhone, LogCapture, type TestApi } from './helper.js';

let api: TestApi;
beforeAll(async () => {
  api = await buildTestApi({ OTP_MAX_ATTEMPTS: '3' });
});
afterAll(async () => {
  await api.close();
});

async function scrape(app = api.app): Promise<Map<string, number>> {
  const res = await app.inject({ url: '/metrics' });
  expect(res.statusCode).toBe(200);
  return parseMetrics(res.body);
}

const send = (phone: unknown, url = '/send-otp/') =>
  api.app.inject({ method: 'POST', url, payload: { phone_number: phone } as object });
const verify = (phone: string, code: string) =>
  api.app.inject({ method: 'POST', url: '/verify-otp/', payload: { phone_number: phone, code } });

describe('GET /metrics', () => {
  it('moves with traffic: sends, verifications, request durations and queue depth', async () => {
    const before = await scrape();
    const delta = (after: Map<string, number>, sample: string) =>
      (after.get(sample) ?? 0) - (before.get(sample) ?? 0);

    const phones = [freshPhone(), freshPhone(), freshPhone()];
    const sent = [];
    for (const phone of phones) sent.push(await send(phone));
    // The same route without its trailing slash is the same route pattern.
    const fourth = freshPhone();
    expect((await send(fourth, '/send-otp')).statusCode).toBe(200);
    expect(sent.map((r) => r.statusCode)).toEqual([200, 200, 200]);
    const [first, second] = phones as [string, string, string];

    expect((await send(first)).statusCode).toBe(429); // resend cooldown
    expect((await send('+1 212 555 0123')).statusCode).toBe(403); // a US number
    expect((await send('not a phone')).statusCode).toBe(400);
    expect((await api.app.inject({ method: 'POST', url: '/send-otp/', payload: {} })).statusCode).toBe(400);

    const code = sent[0]?.json().debug_code as string;
    const wrong = code === '000000' ? '000001' : '000000';
    expect((await verify(second, wrong)).statusCode).toBe(400);
    expect((await verify(first, code)).statusCode).toBe(200);
    expect((await verify(first, code)).statusCode).toBe(400); // spent: expired
    expect((await api.app.inject({ url: '/no/such/path/12345' })).statusCode).toBe(404);

    const after = await scrape();
    expect(delta(after, 'otp_sends_total{result="sent",country="KZ"}')).toBe(4);
    expect(delta(after, 'otp_sends_total{result="rate_limited",country="KZ"}')).toBe(1);
    expect(delta(after, 'otp_sends_total{result="country_not_allowed",country="US"}')).toBe(1);
    expect(delta(after, 'otp_sends_total{result="phone_invalid",country="unknown"}')).toBe(1);
    expect(delta(after, 'otp_sends_total{result="validation_error",country="unknown"}')).toBe(1);
    expect(delta(after, 'otp_verifications_total{result="verified",country="KZ"}')).toBe(1);
    expect(delta(after, 'otp_verifications_total{result="invalid",country="KZ"}')).toBe(1);
    expect(delta(after, 'otp_verifications_total{result="expired",country="KZ"}')).toBe(1);
    expect(delta(after, 'otp_api_errors_total{route="/send-otp/",code="RESEND_TOO_SOON"}')).toBe(1);

    // Durations by route pattern and status; the raw URL never becomes a label.
    const count = (method: string, route: string, status: number) =>
      delta(
        after,
        `http_request_duration_seconds_count{method="${method}",route="${route}",status_code="${status}"}`,
      );
    expect(count('POST', '/send-otp/', 200)).toBe(4);
    expect(count('POST', '/send-otp/', 429)).toBe(1);
    expect(count('POST', '/verify-otp/', 200)).toBe(1);
    expect(count('POST', '/verify-otp/', 400)).toBe(2);
    expect(count('GET', 'unmatched', 404)).toBe(1);
    expect([...after.keys()].some((sample) => sample.includes('/no/such/path'))).toBe(false);
    const sum = `http_request_duration_seconds_sum{method="POST",route="/send-otp/",status_code="200"}`;
    expect(delta(after, sum)).toBeGreaterThan(0);

    // No worker runs here, so every accepted send is still waiting in this test's own queue.
    const queue = api.config.queueName;
    expect(after.get(`otp_queue_jobs{queue="${queue}",state="waiting"}`)).toBe(4);
    expect(after.get(`otp_queue_jobs{queue="${queue}",state="failed"}`)).toBe(0);
    expect(after.get(`otp_queue_reachable{queue="${queue}"}`)).toBe(1);
  });

  it('keeps a registry per app: a second app in this process starts from zero', async () => {
    const other = await buildTestApi();
    try {
      const samples = await scrape(other.app);
      expect([...samples.keys()].filter((k) => k.startsWith('otp_sends_total'))).toEqual([]);
      // Process-wide metrics are for the process entry only, not for apps built by tests.
      expect([...samples.keys()].some((k) => k.startsWith('process_cpu'))).toBe(false);
    } finally {
      await other.close();
    }
  });
});

describe('GET /metrics when Redis is down', () => {
  it('still answers, and says the queue is unreachable', async () => {
    const config = loadApiConfig({
      NODE_ENV: 'test',
      OTP_DEBUG: 'true',
      REDIS_URL: 'redis://127.0.0.1:1',
      QUEUE_NAME: 'down',
    });
    const app = await createApp({
      config,
      logger: createLogger({ service: 'otp-api', stream: new LogCapture() }),
    });
    try {
      const samples = await scrape(app);
      expect(samples.get('otp_queue_reachable{queue="down"}')).toBe(0);
      expect([...samples.keys()].some((k) => k.startsWith('otp_queue_jobs'))).toBe(false);
      expect((await app.inject({ url: '/health/ready' })).statusCode).toBe(503);
    } finally {
      await app.close();
    }
  });
});

describe('GET /health/ready', () => {
  it('checks the send queue too, not only Redis', async () => {
    const other = await buildTestApi();
    try {
      expect((await other.app.inject({ url: '/health/ready' })).statusCode).toBe(200);
      // Redis still answers PING, but the queue's own keys are unusable (here: the wait list
      // clobbered by a string), so an enqueue would fail: not ready.
      const { queuePrefix, queueName } = other.config;
      await other.redis.set(`${queuePrefix}:${queueName}:wait`, 'not a list');
      expect(await other.redis.ping()).toBe('PONG');
      const res = await other.app.inject({ url: '/health/ready' });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    } finally {
      await other.close();
    }
  });
});
