import { createLogger } from '@otp/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { loadApiConfig } from '../src/config.js';
import { LogCapture } from './helper.js';

// Port 1 on loopback: nothing listens there, so every connection is refused at once.
const config = loadApiConfig({
  NODE_ENV: 'test',
  OTP_DEBUG: 'true',
  REDIS_URL: 'redis://127.0.0.1:1',
  LOG_LEVEL: 'info',
});
let app: Awaited<ReturnType<typeof createApp>>;
const logs = new LogCapture();

beforeAll(async () => {
  app = await createApp({ config, logger: createLogger({ service: 'otp-api', stream: logs }) });
  await app.ready();
});
afterAll(async () => {
  await app.close();
});

describe('when Redis is unreachable', () => {
  it('starts anyway and says so in the log', () => {
    expect(logs.text).toMatch(/redis is not reachable at start-up/);
  });

  it.each([
    ['/send-otp/', { phone_number: '+77088043414' }],
    ['/verify-otp/', { phone_number: '+77088043414', code: '123456' }],
  ])('%s answers 503 SERVICE_UNAVAILABLE instead of hanging', async (url, payload) => {
    const res = await app.inject({ method: 'POST', url, payload });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'SERVICE_UNAVAILABLE', statusCode: 503 });
    expect(res.headers['retry-after']).toBe('5');
  });

  it('still validates input first (400, not 503)', async () => {
    const res = await app.inject({ method: 'POST', url: '/send-otp/', payload: { phone_number: 'abc' } });
    expect(res.statusCode).toBe(400);
  });

  it('reports not ready, but alive', async () => {
    expect((await app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(503);
  });
});

describe('closing while Redis is unreachable', () => {
  it('leaves no promise behind to reject once the connection ends', async () => {
    const closing = await createApp({
      config,
      logger: createLogger({ service: 'otp-api', stream: new LogCapture() }),
    });
    await closing.ready();
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      // Close in the middle of a reconnect attempt, after one has already failed: the moment
      // the queue's wait for 'ready' used to be left to reject with ECONNREFUSED.
      // (events.once would reject on the connection's 'error' events, so plain listeners.)
      const next = (event: string) =>
        new Promise<void>((resolve) => closing.redis.once(event, () => resolve()));
      for (let i = 0; i < 2; i++) await next('connecting');
      const ended = next('end');
      await closing.close();
      await ended;
      await new Promise((resolve) => setImmediate(resolve));
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });
});
