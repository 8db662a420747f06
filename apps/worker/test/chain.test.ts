import { createLogger } from '@otp/core';
import { createMessaggioClient, createMessaggioProvider } from '@otp/messaggio';
import { createFakeMessaggio, type FakeMessaggio } from '@otp/messaggio/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, parseMetrics } from '../../../test/probes.js';
import { LogCapture } from '../../api/test/helper.js';
import { loadWorkerConfig } from '../src/config.js';
import type { ChainProvider } from '../src/providers/registry.js';
import { createWorkerService, type WorkerService } from '../src/worker-service.js';
import { eventually, FAKE_LOGIN, FAKE_SENDER, type System, startSystem } from './system.js';

// The chain over real HTTP and real Redis: the primary is the fake Messaggio, and the backup is
// a second fake Messaggio on another port, run as a second provider named `backup`. (Twilio's
// own package plugs into the same registry; these tests need only two providers.)
const BACKUP_LOGIN = 'backup-project-login';

let system: System | undefined;
let backupFake: FakeMessaggio | undefined;
const extraWorkers: WorkerService[] = [];
afterEach(async () => {
  await Promise.all(extraWorkers.splice(0).map((worker) => worker.close(2000)));
  await system?.close();
  await backupFake?.close();
  system = undefined;
  backupFake = undefined;
});

function chain(primaryUrl: string, backupUrl: string, primaryLogin = FAKE_LOGIN): ChainProvider[] {
  const provider = (name: string, baseUrl: string, login: string) => ({
    provider: createMessaggioProvider({
      name,
      client: createMessaggioClient({ baseUrl, login, timeoutMs: 500 }),
      sender: FAKE_SENDER,
    }),
    secrets: [login],
  });
  return [provider('messaggio', primaryUrl, primaryLogin), provider('backup', backupUrl, BACKUP_LOGIN)];
}

let phoneSeq = 0;
const freshPhone = () =>
  `+7701${String(2_000_000 + ((Date.now() + phoneSeq++) % 7_000_000)).padStart(7, '0')}`;

async function startChain(env: Record<string, string>, options: { primaryLogin?: string } = {}) {
  backupFake = await createFakeMessaggio({ logins: [BACKUP_LOGIN], senders: [FAKE_SENDER] });
  const backupUrl = backupFake.baseUrl;
  const s = await startSystem({
    messaggio: true,
    env: { OTP_SENDS_PER_IP_PER_HOUR: '0', ...env },
    startWorker: false,
  });
  s.startWorker({ providers: chain(s.fake.baseUrl, backupUrl, options.primaryLogin) });
  system = s;
  return { s, backup: backupFake };
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

describe('provider chain (two fake providers over HTTP, real Redis)', () => {
  it('delivers everything through the backup while the primary is down, then returns to the primary', async () => {
    const { s, backup } = await startChain({
      SMS_FAILOVER_AFTER: '2',
      SMS_BREAKER_FAILURES: '3',
      SMS_BREAKER_COOLDOWN_MS: '1500',
      SMS_MAX_ATTEMPTS: '6',
    });
    s.fake.setMode({ kind: 'status', status: 503, title: 'Service Unavailable', detail: 'down' });

    const down = [];
    for (let i = 0; i < 8; i++) down.push(await send(s));
    for (const { id } of down) {
      expect(await statusIs(s, id, ['sent', 'failed'])).toMatchObject({ status: 'sent', provider: 'backup' });
    }
    expect(backup.sent).toHaveLength(8);
    // The breaker opened after 3 failures in a row: later jobs skipped the primary without trying it.
    expect(s.fake.requests.length).toBeLessThan(8);
    expect(await circuit(s.worker, 'messaggio')).toBe(2);
    expect(s.workerLogs.text).toMatch(/circuit breaker opened/);

    // The primary comes back: after the cool-down one probe goes through, the breaker closes,
    // and traffic returns to it.
    s.fake.setMode('normal');
    const back = await eventually(
      'a code carried by the primary again',
      async () => {
        const sent = await send(s);
        const body = await statusIs(s, sent.id, ['sent', 'failed']);
        return body.provider === 'messaggio' ? body : undefined;
      },
      15_000,
    );
    expect(back).toMatchObject({ status: 'sent', provider: 'messaggio' });
    expect(await circuit(s.worker, 'messaggio')).toBe(0);
    expect(s.workerLogs.text).toMatch(/circuit breaker closed/);
    const after = await send(s);
    expect(await statusIs(s, after.id, ['sent'])).toMatchObject({ provider: 'messaggio' });

    const metrics = parseMetrics((await s.worker?.telemetry.metrics.registry.metrics()) ?? '');
    expect(
      metrics.get('otp_sms_deliveries_total{provider="backup",result="sent",country="KZ"}'),
    ).toBeGreaterThanOrEqual(8);
    expect(
      metrics.get('otp_sms_deliveries_total{provider="messaggio",result="sent",country="KZ"}'),
    ).toBeGreaterThanOrEqual(2);
  });

  it('delivers every code when the primary fails mid-traffic', async () => {
    const { s, backup } = await startChain({ SMS_BREAKER_FAILURES: '3', SMS_BREAKER_COOLDOWN_MS: '60000' });
    const sent = [];
    for (let i = 0; i < 10; i++) sent.push(await send(s));
    await s.fake.waitForRequests(10, { acceptedOnly: true });
    s.fake.setMode({ kind: 'status', status: 500 });
    for (let i = 0; i < 20; i++) sent.push(await send(s));
    const bodies = await Promise.all(sent.map(({ id }) => statusIs(s, id, ['sent', 'failed'])));
    expect(bodies.filter((b) => b.status === 'sent')).toHaveLength(30);
    const carried = (provider: string) => bodies.filter((b) => b.provider === provider).length;
    expect(carried('messaggio')).toBe(10);
    expect(carried('backup')).toBe(20);
    expect(s.fake.sent.length + backup.sent.length).toBe(30);
  });

  it('ends failed with the reason when both are down, and the code no longer verifies', async () => {
    const { s, backup } = await startChain({
      SMS_FAILOVER_AFTER: '2',
      SMS_BREAKER_FAILURES: '100',
      SMS_MAX_ATTEMPTS: '4',
      OTP_DEBUG_FALLBACK: 'false',
    });
    s.fake.setMode({ kind: 'status', status: 500 });
    backup.setMode({ kind: 'status', status: 502 });
    const { id, phone } = await send(s);
    const body = await statusIs(s, id, ['failed']);
    expect(body).toMatchObject({
      failure_code: 'SMS_DELIVERY_FAILED',
      failure_reason: 'The SMS could not be sent before the retries ran out.',
      attempts: 4,
    });
    // Two tries on the primary, then the backup until the budget ran out.
    expect(s.fake.requests).toHaveLength(2);
    expect(backup.requests).toHaveLength(3);
    const request = backup.requests[0]?.body as { sms?: { content?: { text?: string }[] } } | undefined;
    const text = request?.sms?.content?.[0]?.text ?? '';
    const code = text.match(/(\d{6})$/)?.[1] ?? '';
    const verify = await s.api.inject({
      method: 'POST',
      url: '/verify-otp/',
      payload: { phone_number: phone, code },
    });
    expect(verify.json()).toMatchObject({ code: 'OTP_EXPIRED' });
    const job = await s.api.sendQueue.getJob(id);
    expect(job?.failedReason).not.toContain(code);
  });

  it('fails an invalid number once, without failing over', async () => {
    const { s, backup } = await startChain({});
    s.fake.failNext(1, {
      kind: 'reject-recipient',
      title: 'Invalid recipient',
      detail: 'not a mobile number',
    });
    const { id } = await send(s);
    expect(await statusIs(s, id, ['failed'])).toMatchObject({ failure_code: 'SMS_REJECTED', attempts: 1 });
    expect(s.fake.requests).toHaveLength(1);
    expect(backup.requests).toHaveLength(0);
  });

  it('fails over at once on bad primary credentials, and stops trying them', async () => {
    const { s, backup } = await startChain(
      { SMS_BREAKER_COOLDOWN_MS: '60000' },
      { primaryLogin: 'wrong-login' },
    );
    const first = await send(s);
    expect(await statusIs(s, first.id, ['sent'])).toMatchObject({ provider: 'backup', attempts: 1 });
    expect(s.fake.requests).toHaveLength(1);
    const second = await send(s);
    expect(await statusIs(s, second.id, ['sent'])).toMatchObject({ provider: 'backup' });
    // The 403 opened the breaker for everyone at once: the second job did not try the primary.
    expect(s.fake.requests).toHaveLength(1);
    expect(backup.sent).toHaveLength(2);
    // The login never reaches a log, even though the provider's errors may quote it.
    expect(s.workerLogs.text).not.toContain('wrong-login');
  });

  it('shares the breaker between workers: a second worker sees it open and skips the primary', async () => {
    const { s, backup } = await startChain({ SMS_BREAKER_FAILURES: '2', SMS_BREAKER_COOLDOWN_MS: '60000' });
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
      { providers: chain(s.fake.baseUrl, backup.baseUrl) },
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
      providers: { messaggio: { circuit: 'open' }, backup: { circuit: 'closed' } },
    });
    const second = await send(s);
    expect(await statusIs(s, second.id, ['sent'])).toMatchObject({ provider: 'backup' });
    expect(s.fake.requests.length).toBe(requestsWhenOpened);
    expect(logs.text).toMatch(/provider skipped: circuit breaker open/);
  });
});
