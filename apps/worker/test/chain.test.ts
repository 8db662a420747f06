import { createLogger } from '@otp/core';
import {
  createFakeTwilio,
  FAKE_TWILIO_ACCOUNT_SID,
  FAKE_TWILIO_AUTH_TOKEN,
  type FakeStatusCallbackOptions,
  type FakeTwilio,
} from '@otp/twilio/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, parseMetrics } from '../../../test/probes.js';
import { LogCapture } from '../../api/test/helper.js';
import { loadWorkerConfig } from '../src/config.js';
import { createChainProviders } from '../src/providers/registry.js';
import { createWorkerService, type WorkerService } from '../src/worker-service.js';
import { eventually, FAKE_LOGIN, type System, startSystem } from './system.js';

// The chain over real HTTP and real Redis, built from the variables by the worker's own
// registry: `SMS_PROVIDERS=messaggio,twilio`, the fake Messaggio first and the fake Twilio
// behind it.
const TWILIO_FROM = '+15017122661';

let system: System | undefined;
let twilioFake: FakeTwilio | undefined;
const extraWorkers: WorkerService[] = [];
afterEach(async () => {
  await Promise.all(extraWorkers.splice(0).map((worker) => worker.close(2000)));
  await system?.close();
  await twilioFake?.close();
  system = undefined;
  twilioFake = undefined;
});

let phoneSeq = 0;
const freshPhone = () =>
  `+7701${String(2_000_000 + ((Date.now() + phoneSeq++) % 7_000_000)).padStart(7, '0')}`;

async function startChain(
  env: Record<string, string>,
  options: { primaryLogin?: string; callbacks?: FakeStatusCallbackOptions } = {},
) {
  twilioFake = await createFakeTwilio({
    statusCallbacks: options.callbacks === undefined ? false : options.callbacks,
  });
  const s = await startSystem({
    messaggio: true,
    // Twilio's status callbacks come to the real API at PUBLIC_BASE_URL/webhooks/twilio.
    listen: options.callbacks !== undefined,
    env: {
      OTP_SENDS_PER_IP_PER_HOUR: '0',
      SMS_PROVIDERS: 'messaggio,twilio',
      MESSAGGIO_API_KEY: options.primaryLogin ?? FAKE_LOGIN,
      TWILIO_ACCOUNT_SID: FAKE_TWILIO_ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: FAKE_TWILIO_AUTH_TOKEN,
      TWILIO_FROM,
      TWILIO_BASE_URL: twilioFake.baseUrl,
      TWILIO_TIMEOUT_MS: '500',
      ...env,
    },
    startWorker: false,
  });
  s.startWorker();
  system = s;
  return { s, twilio: twilioFake };
}

async function send(s: System, phone = freshPhone()) {
  const res = await s.api.inject({ method: 'POST', url: '/send-otp/', payload: { phone_number: phone } });
  expect(res.statusCode, res.body).toBe(200);
  return { id: (res.json() as { verification_id: string }).verification_id, phone };
}

async function statusIs(s: System, id: string, wanted: string[]) {
  return eventually(
    `${id} to reach ${wanted.join(' or ')}`,
    async () => {
      const body = (await s.api.inject({ method: 'GET', url: `/verifications/${id}` })).json();
      return wanted.includes(body.status) ? body : undefined;
    },
    15_000,
  );
}

async function circuit(worker: WorkerService | undefined, provider: string) {
  const metrics = parseMetrics((await worker?.telemetry.metrics.registry.metrics()) ?? '');
  return metrics.get(`otp_provider_circuit_state{provider="${provider}"}`);
}

describe('provider chain: Messaggio, then Twilio (both fakes over HTTP, real Redis)', () => {
  it('delivers everything through Twilio while Messaggio is down, then returns to Messaggio', async () => {
    const { s, twilio } = await startChain({
      SMS_FAILOVER_AFTER: '2',
      SMS_BREAKER_FAILURES: '3',
      SMS_BREAKER_COOLDOWN_MS: '1500',
      SMS_MAX_ATTEMPTS: '6',
    });
    s.fake.setMode({ kind: 'status', status: 503, title: 'Service Unavailable', detail: 'down' });

    const down = [];
    for (let i = 0; i < 8; i++) down.push(await send(s));
    for (const { id } of down) {
      expect(await statusIs(s, id, ['sent', 'failed'])).toMatchObject({ status: 'sent', provider: 'twilio' });
    }
    expect(twilio.messages).toHaveLength(8);
    // Each status record names Twilio's own message id.
    const first = await statusIs(s, down[0]?.id ?? '', ['sent']);
    expect(twilio.messages.map((m) => m.sid)).toContain(first.provider_message_id);
    // The breaker opened after 3 failures in a row: later jobs skipped Messaggio without trying it.
    expect(s.fake.requests.length).toBeLessThan(8);
    expect(await circuit(s.worker, 'messaggio')).toBe(2);
    expect(await circuit(s.worker, 'twilio')).toBe(0);
    expect(s.workerLogs.text).toMatch(/circuit breaker opened/);

    // Messaggio comes back: after the cool-down one probe goes through, the breaker closes,
    // and traffic returns to it.
    s.fake.setMode('normal');
    const back = await eventually(
      'a code carried by Messaggio again',
      async () => {
        const sent = await send(s);
        const record = await statusIs(s, sent.id, ['sent', 'failed']);
        return record.provider === 'messaggio' ? record : undefined;
      },
      15_000,
    );
    expect(back).toMatchObject({ status: 'sent', provider: 'messaggio' });
    expect(await circuit(s.worker, 'messaggio')).toBe(0);
    expect(s.workerLogs.text).toMatch(/circuit breaker closed/);
    const twilioBefore = twilio.messages.length;
    const after = await send(s);
    expect(await statusIs(s, after.id, ['sent'])).toMatchObject({ provider: 'messaggio' });
    expect(twilio.messages).toHaveLength(twilioBefore);

    const metrics = parseMetrics((await s.worker?.telemetry.metrics.registry.metrics()) ?? '');
    expect(
      metrics.get('otp_sms_deliveries_total{provider="twilio",result="sent",country="KZ"}'),
    ).toBeGreaterThanOrEqual(8);
    expect(
      metrics.get('otp_sms_deliveries_total{provider="messaggio",result="sent",country="KZ"}'),
    ).toBeGreaterThanOrEqual(2);
    // Twilio's credentials never reach a log.
    expect(s.workerLogs.text).not.toContain(FAKE_TWILIO_AUTH_TOKEN);
  });

  it('delivers every code when Messaggio fails mid-traffic', async () => {
    const { s, twilio } = await startChain({ SMS_BREAKER_FAILURES: '3', SMS_BREAKER_COOLDOWN_MS: '60000' });
    const sent = [];
    for (let i = 0; i < 10; i++) sent.push(await send(s));
    await s.fake.waitForRequests(10, { acceptedOnly: true });
    s.fake.setMode({ kind: 'status', status: 500 });
    for (let i = 0; i < 20; i++) sent.push(await send(s));
    const records = await Promise.all(sent.map(({ id }) => statusIs(s, id, ['sent', 'failed'])));
    expect(records.filter((r) => r.status === 'sent')).toHaveLength(30);
    const carried = (provider: string) => records.filter((r) => r.provider === provider).length;
    expect(carried('messaggio')).toBe(10);
    expect(carried('twilio')).toBe(20);
    expect(s.fake.sent.length + twilio.messages.length).toBe(30);
  });

  it('ends failed with the reason when both are down, and the code no longer verifies', async () => {
    const { s, twilio } = await startChain({
      SMS_FAILOVER_AFTER: '2',
      SMS_BREAKER_FAILURES: '100',
      SMS_MAX_ATTEMPTS: '4',
      OTP_DEBUG_FALLBACK: 'false',
    });
    s.fake.setMode({ kind: 'status', status: 500 });
    twilio.setMode({ kind: 'status', status: 503 });
    const { id, phone } = await send(s);
    const record = await statusIs(s, id, ['failed']);
    expect(record).toMatchObject({
      failure_code: 'SMS_DELIVERY_FAILED',
      failure_reason: 'The SMS could not be sent before the retries ran out.',
      attempts: 4,
    });
    // Two tries on Messaggio, then Twilio until the budget ran out.
    expect(s.fake.requests).toHaveLength(2);
    expect(twilio.requests).toHaveLength(3);
    const code = twilio.requests[0]?.form.Body?.match(/(\d{6})$/)?.[1] ?? '';
    expect(code).toMatch(/^\d{6}$/);
    const verify = await s.api.inject({
      method: 'POST',
      url: '/verify-otp/',
      payload: { phone_number: phone, code },
    });
    expect(verify.json()).toMatchObject({ code: 'OTP_EXPIRED' });
    const job = await s.api.sendQueue.getJob(id);
    expect(job?.failedReason).not.toContain(code);
  });

  it('fails an invalid number once, without failing over (Messaggio 400)', async () => {
    const { s, twilio } = await startChain({});
    s.fake.failNext(1, {
      kind: 'reject-recipient',
      title: 'Invalid recipient',
      detail: 'not a mobile number',
    });
    const { id } = await send(s);
    expect(await statusIs(s, id, ['failed'])).toMatchObject({ failure_code: 'SMS_REJECTED', attempts: 1 });
    expect(s.fake.requests).toHaveLength(1);
    expect(twilio.requests).toHaveLength(0);
  });

  it('fails an invalid number once, without failing over (Twilio 21211, Twilio first)', async () => {
    const { s, twilio } = await startChain({ SMS_PROVIDERS: 'twilio,messaggio' });
    twilio.failNext(1, { kind: 'status', status: 400, code: 21211 });
    const { id } = await send(s);
    expect(await statusIs(s, id, ['failed'])).toMatchObject({
      failure_code: 'SMS_REJECTED',
      attempts: 1,
    });
    expect(twilio.requests).toHaveLength(1);
    expect(s.fake.requests).toHaveLength(0);
  });

  it('fails over from Twilio to Messaggio for a destination Twilio may not serve, and keeps Twilio for the rest', async () => {
    const { s, twilio } = await startChain({
      SMS_PROVIDERS: 'twilio,messaggio',
      SMS_BREAKER_COOLDOWN_MS: '60000',
    });
    // Geo permissions: this account may not send to the country; other messages still go.
    twilio.failNext(1, { kind: 'status', status: 400, code: 21408 });
    const blocked = await send(s);
    expect(await statusIs(s, blocked.id, ['sent'])).toMatchObject({ provider: 'messaggio', attempts: 1 });
    expect(await circuit(s.worker, 'twilio')).toBe(0);
    const next = await send(s);
    expect(await statusIs(s, next.id, ['sent'])).toMatchObject({ provider: 'twilio' });
    expect(twilio.requests).toHaveLength(2);
    expect(s.fake.sent).toHaveLength(1);
  });

  it('fails over to Twilio at once on bad Messaggio credentials, and stops trying them', async () => {
    const { s, twilio } = await startChain(
      { SMS_BREAKER_COOLDOWN_MS: '60000' },
      { primaryLogin: 'wrong-login' },
    );
    const first = await send(s);
    expect(await statusIs(s, first.id, ['sent'])).toMatchObject({ provider: 'twilio', attempts: 1 });
    expect(s.fake.requests).toHaveLength(1);
    const second = await send(s);
    expect(await statusIs(s, second.id, ['sent'])).toMatchObject({ provider: 'twilio' });
    // The 403 opened the breaker for everyone at once: the second job did not try Messaggio.
    expect(s.fake.requests).toHaveLength(1);
    expect(twilio.messages).toHaveLength(2);
    // The login never reaches a log, even though the provider's errors may quote it.
    expect(s.workerLogs.text).not.toContain('wrong-login');
  });

  it('moves a Twilio-carried code to delivered through a signed status callback to the real API route', async () => {
    const { s, twilio } = await startChain({ SMS_PROVIDERS: 'twilio' }, { callbacks: { delayMs: 5 } });
    const { id } = await send(s);
    const record = await statusIs(s, id, ['delivered']);
    expect(record).toMatchObject({ status: 'delivered', provider: 'twilio' });
    await twilio.waitForCallbacks(2);
    expect(twilio.callbacks.map((c) => [c.params.MessageStatus, c.answer])).toEqual([
      ['sent', 200],
      ['delivered', 200],
    ]);
    // The StatusCallback the worker sent: PUBLIC_BASE_URL/webhooks/twilio, carrying the verification id.
    expect(twilio.callbacks[0]?.url).toBe(`${s.env.PUBLIC_BASE_URL}/webhooks/twilio?otp_ref=${id}`);
    expect(s.apiLogs.text).toMatch(/delivery report applied/);
  });

  it('refuses a forged Twilio status callback with 403, and it changes nothing', async () => {
    const { s, twilio } = await startChain(
      { SMS_PROVIDERS: 'twilio' },
      // Only `sent` is posted: the forgery below tries to claim `delivered`.
      { callbacks: { delayMs: 5, drop: ['delivered'] } },
    );
    const { id } = await send(s);
    await twilio.waitForCallbacks(1);
    const genuine = twilio.callbacks[0];
    if (!genuine) throw new Error('no callback recorded');
    expect(genuine.answer).toBe(200);
    expect(await statusIs(s, id, ['sent'])).toMatchObject({ provider: 'twilio' });

    const forge = (params: Record<string, string>, signature?: string) =>
      fetch(genuine.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          ...(signature === undefined ? {} : { 'x-twilio-signature': signature }),
        },
        body: new URLSearchParams(params).toString(),
      });
    const delivered = { ...genuine.params, MessageStatus: 'delivered', SmsStatus: 'delivered' };
    for (const res of [
      // The genuine signature over a changed status, a made-up one, and none.
      await forge(delivered, genuine.signature),
      await forge(delivered, 'bm90IGEgc2lnbmF0dXJlIGF0IGFsbA=='),
      await forge(delivered),
    ]) {
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ code: 'WEBHOOK_SIGNATURE_INVALID' });
    }
    const after = await statusIs(s, id, ['sent', 'delivered']);
    expect(after.status).toBe('sent');
    expect(s.apiLogs.text).toMatch(/delivery report refused/);
    // The genuine callback, replayed as it was, is still accepted (and changes nothing new).
    expect((await forge(genuine.params, genuine.signature)).status).toBe(200);
  });

  it('shares the breaker between workers: a second worker sees it open and skips Messaggio', async () => {
    const { s, twilio } = await startChain({ SMS_BREAKER_FAILURES: '2', SMS_BREAKER_COOLDOWN_MS: '60000' });
    s.fake.setMode({ kind: 'status', status: 503 });
    const first = await send(s);
    await statusIs(s, first.id, ['sent']);
    expect(await circuit(s.worker, 'messaggio')).toBe(2);
    const requestsWhenOpened = s.fake.requests.length;

    // A second worker process on the same queue and Redis; the first stops taking jobs.
    await s.worker?.close(2000);
    const logs = new LogCapture();
    const port = await freePort();
    const other = createWorkerService(
      loadWorkerConfig({ ...s.env, METRICS_PORT: String(port), METRICS_HOST: '127.0.0.1' }),
      createLogger({ service: 'otp-worker', stream: logs }),
    );
    extraWorkers.push(other);
    expect(await circuit(other, 'messaggio')).toBe(2);
    expect(await other.telemetry.port()).toBe(port);
    const ready = await eventually('the second worker to be ready', async () => {
      const res = await fetch(`http://127.0.0.1:${port}/health/ready`);
      return res.status === 200 ? res.json() : undefined;
    });
    expect(ready).toEqual({
      status: 'ok',
      providers: { messaggio: { circuit: 'open' }, twilio: { circuit: 'closed' } },
    });
    const second = await send(s);
    expect(await statusIs(s, second.id, ['sent'])).toMatchObject({ provider: 'twilio' });
    expect(s.fake.requests.length).toBe(requestsWhenOpened);
    expect(twilio.messages).toHaveLength(2);
    expect(logs.text).toMatch(/provider skipped: circuit breaker open/);
  });

  it("closes every provider's connection pool when the worker closes", async () => {
    const { s, twilio } = await startChain({});
    await s.worker?.close(2000);
    const config = loadWorkerConfig(s.env);
    const logger = createLogger({ service: 'otp-worker', stream: new LogCapture() });
    const closed: string[] = [];
    const providers = createChainProviders(config, logger).map((link) => ({
      ...link,
      close: async () => {
        await link.close?.();
        closed.push(link.provider.name);
      },
    }));
    const worker = createWorkerService(config, logger, { providers });
    // One code through each provider, so both pools hold a keep-alive connection.
    const viaMessaggio = await send(s);
    await statusIs(s, viaMessaggio.id, ['sent']);
    s.fake.setMode({ kind: 'status', status: 503 });
    const viaTwilio = await send(s);
    expect(await statusIs(s, viaTwilio.id, ['sent'])).toMatchObject({ provider: 'twilio' });
    expect(twilio.messages).toHaveLength(1);

    expect(await worker.close(2000)).toBe('drained');
    expect(closed.sort()).toEqual(['messaggio', 'twilio']);
  });
});

describe('provider chain: Messaggio fails mid-traffic (200 codes)', () => {
  it('delivers all 200 codes while Messaggio answers 503 for a stretch, and counts them per provider', async ({
    annotate,
  }) => {
    const { s, twilio } = await startChain({
      WORKER_CONCURRENCY: '20',
      SMS_FAILOVER_AFTER: '2',
      SMS_BREAKER_FAILURES: '5',
      SMS_BREAKER_COOLDOWN_MS: '1000',
      SMS_MAX_ATTEMPTS: '6',
    });
    const phases: { name: string; ids: string[] }[] = [];
    const run = async (name: string, count: number, batch: number) => {
      const ids: string[] = [];
      // Batches wait for their codes to go out: traffic keeps flowing while time passes.
      for (let i = 0; i < count; i += batch) {
        const sent = [];
        for (let j = i; j < Math.min(count, i + batch); j++) sent.push((await send(s)).id);
        await Promise.all(sent.map((id) => statusIs(s, id, ['sent', 'failed'])));
        ids.push(...sent);
      }
      phases.push({ name, ids });
    };

    await run('codes 1-60, Messaggio up', 60, 20);
    s.fake.setMode({ kind: 'status', status: 503, title: 'Service Unavailable', detail: 'down' });
    await run('codes 61-140, Messaggio 503', 80, 20);
    s.fake.setMode('normal');
    await run('codes 141-200, Messaggio back', 60, 10);

    const count = async (ids: string[]) => {
      const records = await Promise.all(ids.map((id) => statusIs(s, id, ['sent', 'failed'])));
      return {
        sent: records.filter((r) => r.status === 'sent').length,
        messaggio: records.filter((r) => r.provider === 'messaggio').length,
        twilio: records.filter((r) => r.provider === 'twilio').length,
      };
    };
    const counts = await Promise.all(
      phases.map(async (phase) => ({ name: phase.name, ...(await count(phase.ids)) })),
    );
    const total = await count(phases.flatMap((phase) => phase.ids));
    const transitions = (pattern: RegExp) => s.workerLogs.text.match(pattern)?.length ?? 0;
    const summary = [
      ...counts.map((c) => `${c.name}: ${c.sent} sent, messaggio ${c.messaggio}, twilio ${c.twilio}`),
      `total: ${total.sent}/200 sent, messaggio ${total.messaggio}, twilio ${total.twilio};` +
        ` requests: messaggio ${s.fake.requests.length} (${s.fake.requests.length - s.fake.sent.length} failed), twilio ${twilio.requests.length}`,
      `messaggio breaker: opened ${transitions(/circuit breaker opened/g)}x, closed ${transitions(/circuit breaker closed/g)}x`,
    ].join('\n');
    await annotate(summary);

    expect(total).toEqual({ sent: 200, messaggio: total.messaggio, twilio: 200 - total.messaggio });
    expect(counts[0]).toMatchObject({ sent: 60, messaggio: 60, twilio: 0 });
    // Every code of the outage went through Twilio, none failed.
    expect(counts[1]).toMatchObject({ sent: 80, messaggio: 0, twilio: 80 });
    expect(counts[2]?.sent).toBe(60);
    expect(s.fake.sent.length).toBe(total.messaggio);
    expect(twilio.messages.length).toBe(total.twilio);
  }, 120_000);
});
