import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApi, freshPhone, type TestApi } from './helper.js';

// A heap limit of 1 MB is passed from the first sample on: the process is "overloaded" as a
// real one would be when memory runs away, without having to exhaust memory in a test.
let api: TestApi;
beforeAll(async () => {
  api = await buildTestApi({ OVERLOAD_MAX_HEAP_USED_MB: '1', OVERLOAD_RETRY_AFTER_SECONDS: '7' });
});
afterAll(async () => {
  await api.close();
});

/** Polls until the overload check has taken its first sample (once a second). */
async function untilOverloaded(timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await api.app.inject({
      method: 'POST',
      url: '/send-otp/',
      payload: { phone_number: freshPhone() },
    });
    if (res.statusCode === 503 || Date.now() > until) return res;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('under load (a limit passed)', () => {
  it('answers 503 SERVICE_OVERLOADED with Retry-After, before doing any work', async () => {
    const res = await untilOverloaded();
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ statusCode: 503, code: 'SERVICE_OVERLOADED' });
    expect(res.headers['retry-after']).toBe('7');
    const verify = await api.app.inject({
      method: 'POST',
      url: '/verify-otp/',
      payload: { phone_number: freshPhone(), code: '123456' },
    });
    expect(verify.statusCode).toBe(503);
    // Once, not per request: a refusal storm must not become a log storm.
    expect(api.logs.lines.filter((l) => l.includes('overloaded: refusing')).length).toBeLessThanOrEqual(2);
  });

  it('keeps liveness and metrics answering, so a busy pod is not restarted', async () => {
    await untilOverloaded();
    expect((await api.app.inject({ url: '/health/live' })).statusCode).toBe(200);
    expect((await api.app.inject({ url: '/metrics' })).statusCode).toBe(200);
    expect((await api.app.inject({ url: '/health/ready' })).statusCode).toBe(503);
  });
});

describe('with the default limits', () => {
  it('serves normally', async () => {
    const normal = await buildTestApi();
    try {
      // Two samples' worth of time, so a check that would trip has had its chance.
      await new Promise((resolve) => setTimeout(resolve, 2200));
      const res = await normal.app.inject({
        method: 'POST',
        url: '/send-otp/',
        payload: { phone_number: freshPhone() },
      });
      expect(res.statusCode).toBe(200);
    } finally {
      await normal.close();
    }
  });
});
