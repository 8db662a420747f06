import { afterEach, describe, expect, it } from 'vitest';
import { eventually, FAKE_LOGIN, FAKE_SENDER, type System, startSystem } from './system.js';

let system: System | undefined;
afterEach(async () => {
  await system?.close();
  system = undefined;
});

const PHONE_TYPED = '8 (708) 804-34-14';
const PHONE = '+77088043414';

async function sendOtp(s: System, phone = PHONE_TYPED) {
  const res = await s.api.inject({ method: 'POST', url: '/send-otp/', payload: { phone_number: phone } });
  expect(res.statusCode).toBe(200);
  return res.json() as { verification_id: string; phone_number: string; debug_code?: string };
}

async function verifyOtp(s: System, code: string, phone = PHONE) {
  return s.api.inject({ method: 'POST', url: '/verify-otp/', payload: { phone_number: phone, code } });
}

async function failedJob(s: System, id: string) {
  await eventually(`job ${id} to fail`, async () =>
    (await s.api.sendQueue.getJobState(id)) === 'failed' ? true : undefined,
  );
  // Read the job after it reached the failed set, so attemptsMade and failedReason are final.
  const job = await s.api.sendQueue.getJob(id);
  if (!job) throw new Error(`job ${id} vanished`);
  return job;
}

describe('send → worker → Messaggio → verify', () => {
  it('delivers exactly the documented request, and the code it carries verifies once', async () => {
    system = await startSystem({ messaggio: true });
    const sent = await sendOtp(system);
    expect(sent).not.toHaveProperty('debug_code');
    await system.fake.waitForRequests(1, { acceptedOnly: true });

    const [request] = system.fake.requests;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe('/api/v1/send');
    expect(request?.headers['messaggio-login']).toBe(FAKE_LOGIN);
    expect(request?.headers['content-type']).toMatch(/^application\/json/);
    expect(request?.headers.accept).toMatch(/application\/json/);
    const body = request?.body as { options: { ttl: number } };
    expect(body).toEqual({
      recipients: [{ phone: '77088043414' }],
      channels: ['sms'],
      options: { ttl: expect.any(Number), external_id: sent.verification_id },
      sms: {
        from: FAKE_SENDER,
        content: [{ type: 'text', text: expect.stringMatching(/^Ваш код подтверждения: \d{6}$/) }],
      },
    });
    expect(body.options.ttl).toBeGreaterThan(590);
    expect(body.options.ttl).toBeLessThanOrEqual(600);

    const code = system.fake.sent[0]?.text.match(/(\d{6})$/)?.[1] ?? '';
    const first = await verifyOtp(system, code);
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ verified: true, phone_number: PHONE });
    const second = await verifyOtp(system, code);
    expect(second.statusCode).toBe(400);
    expect(second.json()).toMatchObject({ code: 'OTP_EXPIRED' });

    // The worker logged the provider's id against the verification, and never the code.
    expect(system.workerLogs.text).toContain(system.fake.sent[0]?.messageId);
    expect(system.workerLogs.text).toContain(sent.verification_id);
    expect(system.workerLogs.text).not.toContain(code);
    expect(system.apiLogs.text).not.toContain(code);
  });

  it('retries Messaggio 500s and delivers on the third try', async () => {
    system = await startSystem({ messaggio: true });
    system.fake.failNext(2, {
      kind: 'status',
      status: 500,
      title: 'Internal Server Error',
      detail: 'try later',
    });
    const sent = await sendOtp(system);
    await system.fake.waitForRequests(1, { acceptedOnly: true });
    expect(
      system.fake.requests.map((r) =>
        r.response === 'dropped' || r.response === 'hung' ? r.response : r.response.status,
      ),
    ).toEqual([500, 500, 200]);
    expect(system.fake.sent).toHaveLength(1);
    expect(system.fake.sent[0]?.externalId).toBe(sent.verification_id);
    const code = system.fake.sent[0]?.text.match(/(\d{6})$/)?.[1] ?? '';
    expect((await verifyOtp(system, code)).statusCode).toBe(200);
  });

  it('tries a 403 once, fails the job at once, and falls back to the log when allowed', async () => {
    system = await startSystem({ messaggio: true, env: { OTP_DEBUG_FALLBACK: 'true' } });
    system.fake.setMode({ kind: 'status', status: 403, title: 'Forbidden', detail: 'unknown project login' });
    const sent = await sendOtp(system);
    const job = await failedJob(system, sent.verification_id);
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toMatch(/403|login/i);
    expect(system.fake.requests).toHaveLength(1);
    expect(system.fake.sent).toHaveLength(0);
    // The fallback put the code in the log, so a developer can still finish the flow.
    const line = system.workerLogs.lines.find((l) => l.includes('SMS NOT SENT'));
    expect(line).toBeDefined();
    const code = JSON.parse(line ?? '{}').code as string;
    expect(code).toMatch(/^\d{6}$/);
    expect((await verifyOtp(system, code)).statusCode).toBe(200);
  });

  it('treats a rejected recipient inside a 200 as permanent, with no fallback when it is off', async () => {
    system = await startSystem({ messaggio: true, env: { OTP_DEBUG_FALLBACK: 'false' } });
    system.fake.setMode({ kind: 'reject-recipient', title: 'Invalid phone number', detail: 'not routable' });
    const sent = await sendOtp(system);
    const job = await failedJob(system, sent.verification_id);
    expect(job.attemptsMade).toBe(1);
    expect(system.fake.requests).toHaveLength(1);
    expect(system.workerLogs.text).not.toContain('SMS NOT SENT');
  });

  it('gives up after SMS_MAX_ATTEMPTS transient failures', async () => {
    system = await startSystem({
      messaggio: true,
      env: { SMS_MAX_ATTEMPTS: '3', OTP_DEBUG_FALLBACK: 'false' },
    });
    system.fake.setMode({ kind: 'status', status: 503, title: 'Service Unavailable', detail: 'down' });
    const sent = await sendOtp(system);
    const job = await failedJob(system, sent.verification_id);
    expect(job.attemptsMade).toBe(3);
    expect(system.fake.requests).toHaveLength(3);
  });

  it('retries a request that timed out', async () => {
    system = await startSystem({ messaggio: true });
    system.fake.failNext(1, { kind: 'hang' });
    await sendOtp(system);
    await system.fake.waitForRequests(1, { acceptedOnly: true, timeoutMs: 8000 });
    expect(system.fake.sent).toHaveLength(1);
    expect(system.workerLogs.text).toMatch(/MESSAGGIO_TIMEOUT/);
  });

  it('resends the same code in a second SMS, which then verifies', async () => {
    system = await startSystem({ messaggio: true });
    const first = await sendOtp(system);
    await system.fake.waitForRequests(1, { acceptedOnly: true });
    const again = await sendOtp(system);
    expect(again.verification_id).toBe(first.verification_id);
    await system.fake.waitForRequests(2, { acceptedOnly: true });
    const codes = system.fake.sent.map((sms) => sms.text.match(/(\d{6})$/)?.[1]);
    expect(codes).toHaveLength(2);
    expect(codes[1]).toBe(codes[0]);
    expect((await verifyOtp(system, codes[0] ?? '')).statusCode).toBe(200);
  });

  it('sends no SMS for a code that was replaced before the worker got to it', async () => {
    // OTP_RESEND_SAME_CODE=false: the second send replaces the code instead of resending it.
    system = await startSystem({
      messaggio: true,
      startWorker: false,
      env: { OTP_RESEND_SAME_CODE: 'false' },
    });
    const stale = await sendOtp(system);
    const fresh = await sendOtp(system);
    system.startWorker();
    await system.fake.waitForRequests(1, { acceptedOnly: true });
    await eventually('the stale job to be skipped', async () =>
      system?.workerLogs.text.includes('skipped: code is no longer usable') ? true : undefined,
    );
    expect(system.fake.sent).toHaveLength(1);
    expect(system.fake.sent[0]?.externalId).toBe(fresh.verification_id);
    const skipped = system.workerLogs.lines.find((l) => l.includes('skipped'));
    expect(JSON.parse(skipped ?? '{}')).toMatchObject({
      verificationId: stale.verification_id,
      reason: 'replaced',
    });
  });
});

describe('SMS text: locales and autofill (issue 12)', () => {
  const send = async (s: System, payload: object) => {
    const res = await s.api.inject({ method: 'POST', url: '/send-otp/', payload });
    expect(res.statusCode).toBe(200);
  };

  it('picks the template by locale, else by country, and ends with the origin line or the app hash', async () => {
    system = await startSystem({
      messaggio: true,
      env: {
        SMS_TEMPLATE: 'Default {code}',
        SMS_TEMPLATE_KK: 'Сіздің кодыңыз: {code}',
        SMS_TEMPLATE_EN: 'Your code: {code}',
        OTP_ORIGIN: 'example.com',
        ALLOWED_COUNTRIES: 'RU,KZ',
      },
    });
    await send(system, { phone_number: '+77088043401', locale: 'en' });
    await system.fake.waitForRequests(1, { acceptedOnly: true });
    await send(system, { phone_number: '+77088043402' });
    await system.fake.waitForRequests(2, { acceptedOnly: true });
    await send(system, { phone_number: '+79161234567', app_hash: 'FA+9qCX9VSu' });
    await system.fake.waitForRequests(3, { acceptedOnly: true });
    const texts = system.fake.sent.map((sms) => sms.text.replace(/\d{6}/g, 'NNNNNN'));
    expect(texts).toEqual([
      'Your code: NNNNNN\n@example.com #NNNNNN',
      'Сіздің кодыңыз: NNNNNN\n@example.com #NNNNNN',
      // RU has no template of its own: the default, and the app hash instead of the origin line.
      'Default NNNNNN\nFA+9qCX9VSu',
    ]);
    const [first] = system.fake.sent;
    const [, code, lineCode] = /: (\d{6})\n@example\.com #(\d{6})$/.exec(first?.text ?? '') ?? [];
    expect(lineCode).toBe(code);
  });
});

describe('debug mode (no MESSAGGIO_API_KEY)', () => {
  it('returns debug_code, logs the code from the worker, and never calls Messaggio', async () => {
    system = await startSystem({ messaggio: false });
    const sent = await sendOtp(system);
    expect(sent.debug_code).toMatch(/^\d{6}$/);
    const line = await eventually('the debug SMS line', async () =>
      system?.workerLogs.lines.find((l) => l.includes('DEBUG SMS')),
    );
    expect(JSON.parse(line)).toMatchObject({
      verificationId: sent.verification_id,
      code: sent.debug_code,
      phone: '+7708***3414',
      text: `Ваш код подтверждения: ${sent.debug_code}`,
    });
    expect(system.fake.requests).toHaveLength(0);
    expect((await verifyOtp(system, sent.debug_code ?? '')).statusCode).toBe(200);
  });
});

describe('shutdown', () => {
  async function activeJob(s: System, id: string) {
    return eventually(`job ${id} to be active`, async () => {
      const job = await s.api.sendQueue.getJob(id);
      return job && (await job.getState()) === 'active' ? job : undefined;
    });
  }

  it('finishes the send in flight before closing', async () => {
    system = await startSystem({ messaggio: true });
    system.fake.setLatency(400);
    const sent = await sendOtp(system);
    await activeJob(system, sent.verification_id);
    const outcome = await system.worker?.close(5000);
    expect(outcome).toBe('drained');
    expect(system.fake.sent).toHaveLength(1);
  });

  it('abandons a stuck send at the deadline without losing the job', async () => {
    system = await startSystem({ messaggio: true, env: { MESSAGGIO_TIMEOUT_MS: '1500' } });
    system.fake.setMode({ kind: 'hang' });
    const sent = await sendOtp(system);
    await activeJob(system, sent.verification_id);
    expect(await system.worker?.close(200)).toBe('deadline');
    // The call in flight was aborted, not left to race the retry another worker makes.
    const s = system;
    await eventually('the send to be aborted', async () =>
      s.workerLogs.text.includes('send aborted at the shutdown deadline') ? true : undefined,
    );
    expect(s.workerLogs.text).not.toMatch(/send failed for good/);
    // Still in Redis: its lock lapses and the next worker retries it.
    const job = await system.api.sendQueue.getJob(sent.verification_id);
    expect(job).toBeDefined();
    expect(await job?.getState()).not.toBe('completed');
  });
});
