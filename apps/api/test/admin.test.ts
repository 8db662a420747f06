import { createHash } from 'node:crypto';
import { ConfigError, deriveKeys, maskPhone, openSendJob, type SendJobData } from '@otp/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadApiConfig } from '../src/config.js';
import { buildTestApi, freshPhone, type TestApi } from './helper.js';

const ADMIN_USER = 'ops';
const ADMIN_PASSWORD = 'admin-password-0123456789';
const ADMIN_KEY = 'admin-key-abcdef0123456789';
const sha = (value: string) => createHash('sha256').update(value).digest('hex');
const basic = (user: string, password: string) => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});
const ADMIN = basic(ADMIN_USER, ADMIN_PASSWORD);

describe('without admin credentials configured', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await buildTestApi();
  });
  afterAll(async () => {
    await api.close();
  });

  it.each(['/admin/queues', '/admin/queues/api/queues'])('%s does not exist (404)', async (url) => {
    const res = await api.app.inject({ url, headers: ADMIN });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('serves /metrics openly (keep the port off the public internet)', async () => {
    const res = await api.app.inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
  });
});

describe('with admin credentials', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await buildTestApi({ ADMIN_USER, ADMIN_PASSWORD, ADMIN_API_KEY: sha(ADMIN_KEY) });
  });
  afterAll(async () => {
    await api.close();
  });

  it.each([
    ['no credentials', {}],
    ['a wrong password', basic(ADMIN_USER, 'not-the-password')],
    ['a wrong user', basic('root', ADMIN_PASSWORD)],
    ['a wrong key', { authorization: 'Bearer not-the-key' }],
    ['the key hash instead of the key', { 'x-api-key': sha(ADMIN_KEY) }],
  ])('Bull Board refuses %s with 401 and a challenge', async (_label, headers) => {
    for (const url of ['/admin/queues', '/admin/queues/api/queues', '/metrics']) {
      const res = await api.app.inject({ url, headers });
      expect(res.statusCode, url).toBe(401);
      expect(res.json()).toMatchObject({ statusCode: 401, code: 'UNAUTHORIZED' });
      expect(res.headers['www-authenticate']).toBe(
        'Basic realm="otp-admin", charset="UTF-8", Bearer realm="otp-admin"',
      );
    }
  });

  it.each([
    ['Basic', ADMIN],
    ['Bearer', { authorization: `Bearer ${ADMIN_KEY}` }],
    ['X-API-Key', { 'x-api-key': ADMIN_KEY }],
  ])('Bull Board answers HTML with the right credentials (%s)', async (_label, headers) => {
    const res = await api.app.inject({ url: '/admin/queues', headers });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toMatch(/<!DOCTYPE html>/i);
    expect(res.body).toContain('/admin/queues');
  });

  it('shows the events queue when events are on, its jobs holding ids only', async () => {
    const withEvents = await buildTestApi({
      ADMIN_USER,
      ADMIN_PASSWORD,
      EVENTS_WEBHOOK_URL: 'http://127.0.0.1:9/events',
    });
    try {
      const sent = await withEvents.app.inject({
        method: 'POST',
        url: '/send-otp/',
        payload: { phone_number: freshPhone(), metadata: { user_id: 'u_board' } },
      });
      const id = sent.json().verification_id as string;
      const events = `${withEvents.config.queueName}-events`;
      const res = await withEvents.app.inject({
        url: `/admin/queues/api/queues?activeQueue=${events}&status=delayed&page=1&jobsPerPage=50`,
        headers: ADMIN,
      });
      expect(res.statusCode).toBe(200);
      const board = res.json() as {
        queues: Array<{ name: string; jobs: Array<{ id: string; data: object }> }>;
      };
      const job = board.queues.find((q) => q.name === events)?.jobs.find((j) => j.id === `expiry-${id}`);
      expect(job?.data).toEqual({
        v: 1,
        eventId: expect.any(String),
        verificationId: id,
        status: 'expired',
        at: expect.any(Number),
      });
    } finally {
      await withEvents.close();
    }
  });

  it('shows the send queue, whose jobs carry the code only sealed', async () => {
    const phone = freshPhone();
    const sent = await api.app.inject({
      method: 'POST',
      url: '/send-otp/',
      payload: { phone_number: phone },
    });
    expect(sent.statusCode).toBe(200);
    const { verification_id: verificationId, debug_code: code } = sent.json();

    const res = await api.app.inject({
      url: `/admin/queues/api/queues?activeQueue=${api.config.queueName}&status=waiting&page=1&jobsPerPage=50`,
      headers: ADMIN,
    });
    expect(res.statusCode).toBe(200);
    const board = res.json() as {
      queues: Array<{
        name: string;
        jobs: Array<{ id: string; data: SendJobData & Record<string, unknown> }>;
      }>;
    };
    const queue = board.queues.find((q) => q.name === api.config.queueName);
    const job = queue?.jobs.find((j) => j.id === verificationId);
    expect(job?.data).toMatchObject({
      v: 2,
      verificationId,
      phoneMasked: maskPhone(phone),
      country: 'KZ',
      sealed: expect.any(String),
    });
    if (!job) throw new Error('job not on the board');
    // Nothing on the board is the code or the phone: no field holds them, and the sealed
    // form opens only with the keys derived from OTP_SECRET.
    expect(Object.keys(job.data)).not.toContain('code');
    expect(Object.values(job.data)).not.toContain(code);
    expect(JSON.stringify(job.data)).not.toContain(phone);
    expect(openSendJob([deriveKeys(api.config.otpSecret)], job.data)).toEqual({ phone, code });
    // The single-job view, which Bull Board's UI opens on click, shows the same.
    const one = await api.app.inject({
      url: `/admin/queues/api/queues/${api.config.queueName}/${verificationId}`,
      headers: ADMIN,
    });
    expect(one.statusCode).toBe(200);
    expect(Object.values(one.json().job.data)).not.toContain(code);
    expect(JSON.stringify(one.json().job.data)).not.toContain(phone);
  });

  it('serves /metrics to an admin, e.g. a Prometheus scraper with the key', async () => {
    const res = await api.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('# TYPE otp_sends_total counter');
  });

  it('never logs the admin password or key', () => {
    expect(api.logs.text).not.toContain(ADMIN_PASSWORD);
    expect(api.logs.text).not.toContain(ADMIN_KEY);
    expect(api.logs.text).toContain('admin request refused');
  });

  it('leaves the client routes to API_KEYS, not to the admin credentials', async () => {
    const res = await api.app.inject({
      method: 'POST',
      url: '/send-otp/',
      payload: { phone_number: freshPhone() },
    });
    expect(res.statusCode).toBe(200);
  });
});

describe('admin config', () => {
  it('refuses a short password without showing it', () => {
    const load = () => loadApiConfig({ ADMIN_USER: 'ops', ADMIN_PASSWORD: 'short' });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/ADMIN_PASSWORD/);
    expect(load).toThrow(expect.objectContaining({ message: expect.not.stringContaining('short"') }));
  });

  it('refuses a password without a user', () => {
    expect(() => loadApiConfig({ ADMIN_PASSWORD: ADMIN_PASSWORD })).toThrow(/ADMIN_USER: is required/);
  });
});
