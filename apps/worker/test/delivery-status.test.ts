import { afterEach, describe, expect, it } from 'vitest';
import { eventually, type System, startSystem, WEBHOOK_SECRET } from './system.js';

let system: System | undefined;
afterEach(async () => {
  await system?.close();
  system = undefined;
});

const PHONE = '+77088043414';

async function sendOtp(s: System, phone = PHONE) {
  const res = await s.api.inject({ method: 'POST', url: '/send-otp/', payload: { phone_number: phone } });
  expect(res.statusCode).toBe(200);
  const body = res.json() as { verification_id: string };
  return { id: body.verification_id, requestId: String(res.headers['x-request-id']) };
}

async function status(s: System, id: string) {
  const res = await s.api.inject({ method: 'GET', url: `/verifications/${id}` });
  expect(res.statusCode).toBe(200);
  return res.json() as Record<string, unknown> & { status: string; reached_at: Record<string, string> };
}

const statusBecomes = (s: System, id: string, wanted: string) =>
  eventually(`verification ${id} to be ${wanted}`, async () => {
    const body = await status(s, id);
    return body.status === wanted ? body : undefined;
  });

/** The API's log lines about delivery reports for one message, parsed. */
function reportLines(s: System, messageId: string) {
  return s.apiLogs.lines
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.messageId === messageId && line.component === 'webhook');
}

/** Waits until the API has logged `n` reports for the message (the fake sends them one by one). */
const reportsLogged = (s: System, messageId: string, n: number) =>
  eventually(`${n} delivery reports for ${messageId}`, async () => {
    const lines = reportLines(s, messageId);
    return lines.length >= n ? lines : undefined;
  });

function codeFrom(s: System): string {
  return s.fake.sent[0]?.text.match(/(\d{6})$/)?.[1] ?? '';
}

describe('follow one code: API + worker + fake Messaggio delivery reports', () => {
  it('goes queued → sent → delivered through real DLR POSTs, then verified', async () => {
    system = await startSystem({ messaggio: true, deliveryReports: { delayMs: 30 } });
    const { id, requestId } = await sendOtp(system);
    await system.fake.waitForRequests(1, { acceptedOnly: true });
    const message = system.fake.sent[0];
    expect(message?.dlrCallbackUrl).toBe(
      `${system.env.PUBLIC_BASE_URL}/webhooks/messaggio/${WEBHOOK_SECRET}`,
    );
    expect(message?.externalId).toBe(id);

    const delivered = await statusBecomes(system, id, 'delivered');
    expect(delivered).toMatchObject({ provider_message_id: message?.messageId, attempts: 1 });
    expect(Object.keys(delivered.reached_at)).toEqual(['queued', 'sending', 'sent', 'delivered']);

    const verify = await system.api.inject({
      method: 'POST',
      url: '/verify-otp/',
      payload: { phone_number: PHONE, code: codeFrom(system) },
    });
    expect(verify.statusCode).toBe(200);
    expect((await status(system, id)).status).toBe('verified');

    // Every line about this verification, in either process, carries its id and the
    // request that started it (reqId in the API's request lines, requestId elsewhere).
    const lines = [...system.apiLogs.lines, ...system.workerLogs.lines]
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.verificationId === id);
    const messages = lines.map((line) => line.msg);
    expect(messages).toEqual(
      expect.arrayContaining([
        'code issued and send queued',
        'sms handed to provider',
        'delivery report applied',
        'code verified',
      ]),
    );
    for (const line of lines) expect(line.requestId ?? line.reqId, String(line.msg)).toBeDefined();
    for (const line of lines.filter((l) => l.component === 'processor' || l.component === 'webhook')) {
      expect(line.requestId, String(line.msg)).toBe(requestId);
    }
    // The webhook secret is in the callback URL only, never in a log.
    expect(system.apiLogs.text).not.toContain(WEBHOOK_SECRET);
    expect(system.workerLogs.text).not.toContain(WEBHOOK_SECRET);
  });

  it('a job reads as sent the moment it completes: its record reached Redis first', async () => {
    system = await startSystem({ messaggio: true });
    const s = system;
    const worker = s.worker?.worker;
    if (!worker) throw new Error('no worker');
    // Read on each job's completion event, before anything else can happen in between.
    const reads: Promise<string>[] = [];
    worker.on('completed', (job) => {
      reads.push(status(s, String(job.data.verificationId)).then((body) => body.status));
    });
    const phones = Array.from({ length: 12 }, (_, i) => `+7708804${String(3400 + i)}`);
    for (const phone of phones) await sendOtp(s, phone);
    await eventually('every job to complete', async () =>
      reads.length === phones.length ? true : undefined,
    );
    expect(await Promise.all(reads)).toEqual(phones.map(() => 'sent'));
  });

  it('answers every duplicate report 200 and applies each status once', async () => {
    system = await startSystem({ messaggio: true, deliveryReports: { delayMs: 20, duplicate: true } });
    const { id } = await sendOtp(system);
    await system.fake.waitForRequests(1, { acceptedOnly: true });
    const messageId = system.fake.sent[0]?.messageId ?? '';
    const lines = await reportsLogged(system, messageId, 6);
    expect(lines.map((l) => l.dlrStatus)).toEqual(['200', '200', '100', '100', '70', '70']);
    expect(lines.filter((l) => l.outcome === 'duplicate').map((l) => l.dlrStatus)).toEqual([
      '200',
      '100',
      '70',
    ]);
    expect(lines.filter((l) => l.status === 'delivered' && l.outcome === 'applied')).toHaveLength(1);
    expect((await status(system, id)).status).toBe('delivered');
  });

  it('ignores reports that arrive out of order', async () => {
    system = await startSystem({ messaggio: true, deliveryReports: { delayMs: 20, outOfOrder: true } });
    const { id } = await sendOtp(system);
    await system.fake.waitForRequests(1, { acceptedOnly: true });
    const messageId = system.fake.sent[0]?.messageId ?? '';
    const lines = await reportsLogged(system, messageId, 3);
    expect(lines.map((l) => [l.dlrStatus, l.outcome])).toEqual([
      ['70', 'applied'],
      ['100', 'stale'],
      ['200', 'stale'],
    ]);
    const body = await status(system, id);
    expect(body.status).toBe('delivered');
    expect(body.reached_at.delivered).toBeDefined();
  });

  it('takes the nested poll shape and ends undelivered for an unreachable phone', async () => {
    system = await startSystem({
      messaggio: true,
      deliveryReports: { delayMs: 20, shape: 'poll', undeliverable: [PHONE] },
    });
    const { id } = await sendOtp(system);
    const body = await statusBecomes(system, id, 'undelivered');
    expect(body.reached_at.sent).toBeDefined();
  });

  it('shows a send that failed for good, with a stable code and its fixed reason', async () => {
    system = await startSystem({ messaggio: true, env: { OTP_DEBUG_FALLBACK: 'false' } });
    system.fake.setMode({ kind: 'status', status: 403, title: 'Forbidden', detail: 'unknown project login' });
    const { id } = await sendOtp(system);
    const body = await statusBecomes(system, id, 'failed');
    expect(body).toMatchObject({
      attempts: 1,
      failure_code: 'SMS_PROVIDER_UNAVAILABLE',
      failure_reason: 'No SMS provider could accept the message.',
    });
  });

  it('sends no SMS for a code canceled before the worker took its job, and stays canceled', async () => {
    system = await startSystem({ messaggio: true, startWorker: false });
    const { id } = await sendOtp(system);
    const cancel = await system.api.inject({ method: 'POST', url: `/verifications/${id}/cancel` });
    expect(cancel.statusCode).toBe(200);
    system.startWorker();
    await eventually('the send job to be skipped', async () =>
      system?.workerLogs.lines.some((l) => l.includes('skipped: code is no longer usable'))
        ? true
        : undefined,
    );
    expect(system.fake.requests).toHaveLength(0);
    expect(await status(system, id)).toMatchObject({ status: 'canceled', attempts: 0 });
  });

  it('shows a code replaced before its SMS went out as failed, not queued forever', async () => {
    // OTP_RESEND_SAME_CODE=false: the second send replaces the code instead of resending it.
    system = await startSystem({
      messaggio: true,
      startWorker: false,
      env: { OTP_RESEND_SAME_CODE: 'false' },
    });
    const stale = await sendOtp(system);
    const fresh = await sendOtp(system);
    system.startWorker();
    await statusBecomes(system, fresh.id, 'sent');
    const body = await statusBecomes(system, stale.id, 'failed');
    expect(body).toMatchObject({ failure_code: 'SKIPPED_REPLACED', attempts: 0 });
  });
});
