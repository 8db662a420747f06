import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, type System, startSystem } from './system.js';

// Issue 12, item 5: every status change is POSTed to EVENTS_WEBHOOK_URL, signed per
// Standard Webhooks, at least once, through its own queue; never with the code.
const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  /** What the receiver answered. */
  status: number;
}

/** A real HTTP receiver on a free loopback port; `answers` are used in turn, then 200. */
async function startReceiver(answers: number[] = []) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const status = answers.shift() ?? 200;
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'nope');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/events`,
    received,
    /** Events that the receiver took, verified with the spec's library. */
    accepted() {
      const webhook = new Webhook(SECRET);
      return received
        .filter((r) => r.status === 200)
        .map((r) => {
          const payload = webhook.verify(r.body, r.headers as Record<string, string>) as EventBody;
          expect(payload.id).toBe(r.headers['webhook-id']);
          return payload;
        });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
type Receiver = Awaited<ReturnType<typeof startReceiver>>;

interface EventBody {
  type: string;
  id: string;
  timestamp: string;
  data: Record<string, unknown> & { verification_id: string; status: string };
}

let system: System | undefined;
let receiver: Receiver | undefined;
afterEach(async () => {
  await system?.close();
  await receiver?.close();
  system = undefined;
  receiver = undefined;
});

const eventsEnv = (url: string) => ({
  EVENTS_WEBHOOK_URL: url,
  EVENTS_WEBHOOK_SECRET: SECRET,
  EVENTS_RETRY_BASE_DELAY_MS: '20',
  EVENTS_MAX_ATTEMPTS: '5',
});

async function sendOtp(s: System, phone: string, metadata?: Record<string, string>) {
  const res = await s.api.inject({
    method: 'POST',
    url: '/send-otp/',
    payload: { phone_number: phone, ...(metadata ? { metadata } : {}) },
  });
  expect(res.statusCode).toBe(200);
  return (res.json() as { verification_id: string }).verification_id;
}

/** Waits until the receiver took events of every listed type for the verification. */
const eventsFor = (r: Receiver, id: string, types: string[]) =>
  eventually(`events ${types.join(', ')} for ${id}`, async () => {
    const mine = r.accepted().filter((e) => e.data.verification_id === id);
    return types.every((type) => mine.some((e) => e.type === type)) ? mine : undefined;
  });

describe('outbound events (Standard Webhooks)', () => {
  it('announces sent → delivered → verified, signed, with metadata and never the code or the full phone', async () => {
    receiver = await startReceiver();
    const phone = '+77088043414';
    system = await startSystem({
      messaggio: true,
      deliveryReports: { delayMs: 20 },
      env: eventsEnv(receiver.url),
    });
    const id = await sendOtp(system, phone, { user_id: 'u_42' });
    await eventsFor(receiver, id, ['verification.sent', 'verification.delivered']);
    const code = system.fake.sent[0]?.text.match(/(\d{6})$/)?.[1] ?? '';
    expect(code).toHaveLength(6);
    const verify = await system.api.inject({
      method: 'POST',
      url: '/verify-otp/',
      payload: { phone_number: phone, code },
    });
    expect(verify.statusCode).toBe(200);
    const events = await eventsFor(receiver, id, ['verification.verified']);

    const delivered = events.find((e) => e.type === 'verification.delivered');
    expect(delivered).toMatchObject({
      id: expect.stringMatching(/^evt_/),
      timestamp: expect.stringMatching(/Z$/),
      data: {
        verification_id: id,
        status: 'delivered',
        phone_number: '+7708***3414',
        country: 'KZ',
        metadata: { user_id: 'u_42' },
        provider: 'messaggio',
      },
    });
    for (const r of receiver.received) {
      expect(r.body).not.toContain(code);
      expect(r.body).not.toContain('77088043414');
      expect(r.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    }
    // Each event id once: the receiver answered 200 to every first attempt.
    const ids = events.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    // The queue holds ids only: neither the metadata nor the phone sits in Redis with a job.
    const jobs = await system.redis.keys(`bull:${system.env.QUEUE_NAME}-events:*`);
    for (const key of jobs) {
      if ((await system.redis.type(key)) !== 'hash') continue;
      const dump = JSON.stringify(await system.redis.hgetall(key));
      expect(dump).not.toContain('u_42');
      // The full number or its masked form: bare last digits could be part of a timestamp.
      expect(dump).not.toContain('7088043414');
      expect(dump).not.toContain('***3414');
    }
  });

  it('announces a cancel, and the worker sends no SMS for the canceled code', async () => {
    receiver = await startReceiver();
    system = await startSystem({ messaggio: true, startWorker: false, env: eventsEnv(receiver.url) });
    const id = await sendOtp(system, '+77088043415');
    const cancel = await system.api.inject({ method: 'POST', url: `/verifications/${id}/cancel` });
    expect(cancel.statusCode).toBe(200);
    system.startWorker();
    await eventually('the send job to be skipped', async () =>
      system?.workerLogs.lines.some((l) => l.includes('skipped: code is no longer usable'))
        ? true
        : undefined,
    );
    const events = await eventsFor(receiver, id, ['verification.canceled']);
    expect(system.fake.sent).toHaveLength(0);
    // The worker's skip does not turn a canceled verification into a failed one.
    expect(events.map((e) => e.type)).not.toContain('verification.failed');
    const status = await system.api.inject({ method: 'GET', url: `/verifications/${id}` });
    expect(status.json().status).toBe('canceled');
  });

  it('announces a failed delivery with its stable code', async () => {
    receiver = await startReceiver();
    system = await startSystem({
      messaggio: true,
      env: { ...eventsEnv(receiver.url), OTP_DEBUG_FALLBACK: 'false' },
    });
    system.fake.setMode({ kind: 'status', status: 403, title: 'Forbidden', detail: 'unknown project login' });
    const id = await sendOtp(system, '+77088043416');
    const events = await eventsFor(receiver, id, ['verification.failed']);
    expect(events.find((e) => e.type === 'verification.failed')?.data).toMatchObject({
      status: 'failed',
      failure_code: 'SMS_PROVIDER_UNAVAILABLE',
      failure_reason: 'No SMS provider could accept the message.',
    });
  });

  it('retries a receiver that answered 500, with the same event id, until it takes the event', async () => {
    receiver = await startReceiver([500, 500]);
    system = await startSystem({ messaggio: true, env: eventsEnv(receiver.url) });
    const id = await sendOtp(system, '+77088043417');
    await eventsFor(receiver, id, ['verification.sent']);
    const attempts = receiver.received.filter((r) => r.body.includes('"verification.sent"'));
    expect(attempts.map((r) => r.status)).toEqual([500, 500, 200]);
    expect(new Set(attempts.map((r) => r.headers['webhook-id'])).size).toBe(1);
    // Every attempt is signed (and each verifies on its own).
    for (const r of attempts) new Webhook(SECRET).verify(r.body, r.headers as Record<string, string>);
    // The receiver's 200 reaches the test before the worker has counted the delivery.
    const metrics = await eventually('the delivery to be counted', async () => {
      const text = (await system?.worker?.telemetry.metrics.registry.metrics()) ?? '';
      return /otp_events_delivered_total\{type="verification.sent"\} 1/.test(text) ? text : undefined;
    });
    expect(metrics).toMatch(/otp_event_delivery_errors_total\{type="verification.sent"\} 2/);
  });

  it('gives an event up after EVENTS_MAX_ATTEMPTS and counts it', async () => {
    receiver = await startReceiver(Array.from({ length: 20 }, () => 503));
    system = await startSystem({
      messaggio: true,
      env: { ...eventsEnv(receiver.url), EVENTS_MAX_ATTEMPTS: '2' },
    });
    await sendOtp(system, '+77088043418');
    const metrics = await eventually('the event to be given up', async () => {
      const text = (await system?.worker?.telemetry.metrics.registry.metrics()) ?? '';
      return /otp_events_failed_total\{type="verification.sent"\} 1/.test(text) ? text : undefined;
    });
    expect(metrics).toMatch(/otp_event_delivery_errors_total\{type="verification.sent"\} 2/);
    expect(receiver.received.filter((r) => r.body.includes('"verification.sent"'))).toHaveLength(2);
  });

  it('announces expired once a code runs out unused, and nothing for one used in time', async () => {
    receiver = await startReceiver();
    system = await startSystem({ messaggio: true, startWorker: false, env: eventsEnv(receiver.url) });
    system.startWorker();
    // Records written as the API writes them, with a code life of a moment.
    const store = system.api.statusStore;
    const expiresAt = Date.now() + 300;
    await store.queued({ verificationId: 'exp-unused', phone: '+77088043419', country: 'KZ', expiresAt });
    await store.queued({ verificationId: 'exp-verified', phone: '+77088043420', country: 'KZ', expiresAt });
    await store.verified({ verificationId: 'exp-verified' });
    const events = await eventsFor(receiver, 'exp-unused', ['verification.expired']);
    expect(events[0]).toMatchObject({
      timestamp: new Date(expiresAt).toISOString(),
      data: { status: 'expired', phone_number: '+7708***3419' },
    });
    // Its expiry check ran too (same delay), and announced nothing.
    await eventually('the second expiry check to finish', async () => {
      const counts = await system?.redis.keys(`bull:${system?.env.QUEUE_NAME}-events:expiry-exp-verified`);
      return counts?.length === 0 ? true : undefined;
    });
    const other = receiver.accepted().filter((e) => e.data.verification_id === 'exp-verified');
    expect(other.map((e) => e.type)).toEqual(['verification.verified']);
  });

  it('never fails the request when the events queue cannot take the event', async () => {
    receiver = await startReceiver();
    system = await startSystem({ messaggio: false, startWorker: false, env: eventsEnv(receiver.url) });
    // The change is written; its event is lost, logged and counted.
    const store = system.api.statusStore;
    // A key of the wrong type where BullMQ keeps the queue's settings: every add fails.
    await system.redis.set(`bull:${system.env.QUEUE_NAME}-events:meta`, 'not a hash');
    await store.queued({
      verificationId: 'enqueue-fails',
      phone: '+77088043421',
      country: 'KZ',
      expiresAt: Date.now() + 60_000,
    });
    await store.canceled({ verificationId: 'enqueue-fails' });
    expect((await store.get('enqueue-fails'))?.status).toBe('canceled');
    const metrics = await system.api.metrics.registry.metrics();
    expect(metrics).toMatch(/otp_events_enqueue_errors_total\{status="canceled"\} 1/);
    expect(system.apiLogs.lines.some((l) => l.includes('could not queue a status event'))).toBe(true);
  });
});
