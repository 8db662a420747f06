import { createServer } from 'node:net';
import { createLogger } from '@otp/core';
import type { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, parseMetrics } from '../../../test/probes.js';
import { LogCapture } from '../../api/test/helper.js';
import { startMetricsServer } from '../src/metrics/metrics-server.js';
import { createWorkerTelemetry } from '../src/metrics/worker-telemetry.js';
import { eventually, type System, startSystem } from './system.js';

const logger = () => createLogger({ service: 'otp-worker', stream: new LogCapture() });

let system: System | undefined;
afterEach(async () => {
  await system?.close();
  system = undefined;
});

async function sendOtp(s: System, phone = '+77088043414') {
  const res = await s.api.inject({ method: 'POST', url: '/send-otp/', payload: { phone_number: phone } });
  expect(res.statusCode).toBe(200);
  return res.json() as { verification_id: string };
}

describe('worker delivery metrics', () => {
  it('count deliveries by provider, result and country, and time them', async () => {
    system = await startSystem({ messaggio: true });
    const s = system;
    const registry = () => s.worker?.telemetry.metrics.registry.metrics() ?? Promise.resolve('');
    await sendOtp(s);
    await s.fake.waitForRequests(1, { acceptedOnly: true });
    const sent = 'otp_sms_deliveries_total{provider="messaggio",result="sent",country="KZ"}';
    const afterSent = await eventually('the sent event to be counted', async () => {
      const samples = parseMetrics(await registry());
      return samples.get(sent) === 1 ? samples : undefined;
    });
    expect(afterSent.get('otp_sms_delivery_latency_seconds_count{provider="messaggio"}')).toBe(1);
    expect(afterSent.get('otp_sms_delivery_latency_seconds_sum{provider="messaggio"}')).toBeGreaterThan(0);

    // A rejected login fails for good, at once, and says why.
    s.fake.failNext(1, { kind: 'status', status: 403, title: 'Forbidden' });
    await sendOtp(s, '+77088043415');
    const queue = s.env.QUEUE_NAME;
    // The processor reports the failure just before BullMQ moves the job to the failed
    // set, so wait until both the counter and the queue gauge show it.
    const afterFailed = await eventually('the failure to be counted and the job to be failed', async () => {
      const samples = parseMetrics(await registry());
      const counted =
        samples.get('otp_sms_deliveries_total{provider="messaggio",result="failed",country="KZ"}') === 1;
      return counted && samples.get(`otp_queue_jobs{queue="${queue}",state="failed"}`) === 1
        ? samples
        : undefined;
    });
    expect(
      afterFailed.get(
        'otp_sms_delivery_errors_total{provider="messaggio",code="MESSAGGIO_FORBIDDEN",scope="provider",permanent="true"}',
      ),
    ).toBe(1);
    expect(afterFailed.get(sent)).toBe(1);
    expect(afterFailed.get('otp_sms_delivery_latency_seconds_count{provider="messaggio"}')).toBe(1);
    // The failed job is kept, and the queue gauge sees it.
    expect(afterFailed.get(`otp_queue_jobs{queue="${queue}",state="failed"}`)).toBe(1);
    expect(afterFailed.get(`otp_queue_reachable{queue="${queue}"}`)).toBe(1);
  });

  it('count retries with their error code', async () => {
    system = await startSystem({ messaggio: true, env: { SMS_MAX_ATTEMPTS: '3' } });
    const s = system;
    s.fake.failNext(1, { kind: 'status', status: 500 });
    await sendOtp(s);
    await s.fake.waitForRequests(1, { acceptedOnly: true });
    const samples = await eventually('the retry and the send to be counted', async () => {
      const parsed = parseMetrics((await s.worker?.telemetry.metrics.registry.metrics()) ?? '');
      return parsed.get('otp_sms_deliveries_total{provider="messaggio",result="sent",country="KZ"}') === 1
        ? parsed
        : undefined;
    });
    expect(samples.get('otp_sms_deliveries_total{provider="messaggio",result="retry",country="KZ"}')).toBe(1);
    expect(
      samples.get(
        'otp_sms_delivery_errors_total{provider="messaggio",code="MESSAGGIO_SERVER_ERROR",scope="transient",permanent="false"}',
      ),
    ).toBe(1);
  });
});

describe('the worker on METRICS_PORT', () => {
  it('serves /metrics and both health checks, and closes the port with the worker', async () => {
    const port = await freePort();
    system = await startSystem({
      messaggio: false,
      env: { METRICS_PORT: String(port), METRICS_HOST: '127.0.0.1' },
    });
    const s = system;
    expect(await s.worker?.telemetry.port()).toBe(port);
    const base = `http://127.0.0.1:${port}`;
    await eventually('the worker to be ready', async () =>
      (await fetch(`${base}/health/ready`)).status === 200 ? true : undefined,
    );
    expect(await (await fetch(`${base}/health/live`)).json()).toEqual({ status: 'ok' });

    await sendOtp(s);
    const text = await eventually('the debug send to be counted', async () => {
      const body = await (await fetch(`${base}/metrics`)).text();
      return body.includes('otp_sms_deliveries_total{provider="debug",result="sent",country="KZ"} 1')
        ? body
        : undefined;
    });
    // A real port means a real process: Node's process metrics are on.
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect(text).toContain(`otp_queue_jobs{queue="${s.env.QUEUE_NAME}",state="waiting"}`);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);

    await s.worker?.close(2000);
    await expect(fetch(`${base}/health/live`)).rejects.toThrow();
  });

  it('keeps working, and says so, when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      system = await startSystem({
        messaggio: false,
        env: { METRICS_PORT: String(port), METRICS_HOST: '127.0.0.1' },
      });
      const s = system;
      expect(await s.worker?.telemetry.port()).toBeUndefined();
      expect(s.workerLogs.text).toContain('is in use; set METRICS_PORT');
      const { verification_id: id } = await sendOtp(s);
      await eventually('the job to be processed', async () =>
        (await s.api.sendQueue.getJob(id)) ? undefined : true,
      );
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});

describe('readiness without Redis', () => {
  it('answers 503 in time, and the queue gauge says unreachable', async () => {
    const connection = new Redis('redis://127.0.0.1:1', { maxRetriesPerRequest: null, lazyConnect: true });
    connection.on('error', () => {});
    connection.connect().catch(() => {});
    const telemetry = createWorkerTelemetry({
      connection,
      queueName: 'telemetry-no-redis',
      queuePrefix: 'bull',
      provider: 'debug',
      port: await freePort(),
      host: '127.0.0.1',
      logger: logger(),
      redisTimeoutMs: 200,
    });
    const worker = { isRunning: () => true, closing: undefined } as unknown as Worker;
    telemetry.serve(worker);
    try {
      const base = `http://127.0.0.1:${await telemetry.port()}`;
      expect((await fetch(`${base}/health/live`)).status).toBe(200);
      expect((await fetch(`${base}/health/ready`)).status).toBe(503);
      const samples = parseMetrics(await (await fetch(`${base}/metrics`)).text());
      expect(samples.get('otp_queue_reachable{queue="telemetry-no-redis"}')).toBe(0);
    } finally {
      await telemetry.close();
      connection.disconnect();
    }
  });
});

describe('closing while Redis is unreachable', () => {
  it('leaves no promise behind to reject once the connection ends', async () => {
    const connection = new Redis('redis://127.0.0.1:1', { maxRetriesPerRequest: null, lazyConnect: true });
    connection.on('error', () => {});
    connection.connect().catch(() => {});
    const telemetry = createWorkerTelemetry({
      connection,
      queueName: 'telemetry-closing',
      queuePrefix: 'bull',
      provider: 'debug',
      port: 0,
      host: '127.0.0.1',
      logger: logger(),
    });
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      // Closed in the middle of a reconnect attempt, after one has failed: the queue's wait
      // for 'ready' used to reject then, after its listeners were gone.
      const next = (event: string) => new Promise<void>((resolve) => connection.once(event, () => resolve()));
      for (let i = 0; i < 2; i++) await next('connecting');
      await telemetry.close();
      const ended = next('end');
      connection.disconnect();
      await ended;
      await new Promise((resolve) => setImmediate(resolve));
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });
});

describe('startMetricsServer', () => {
  it('answers on a free port and stops answering once closed', async () => {
    const registry = new Registry();
    new Counter({ name: 'probe_total', help: 'A probe.', registers: [registry] }).inc(3);
    let ready = true;
    const server = startMetricsServer({
      port: 0,
      host: '127.0.0.1',
      registry,
      isReady: async () => ready,
      logger: logger(),
    });
    const base = `http://127.0.0.1:${await server.listening}`;
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.headers.get('content-type')).toBe(registry.contentType);
    expect(await metrics.text()).toContain('probe_total 3');
    expect((await fetch(`${base}/health/ready`)).status).toBe(200);
    ready = false;
    expect((await fetch(`${base}/health/ready`)).status).toBe(503);
    await server.close();
    await server.close(); // idempotent
    await expect(fetch(`${base}/health/live`)).rejects.toThrow();
  });
});
