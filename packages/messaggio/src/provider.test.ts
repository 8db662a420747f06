import { isSmsError, type SmsErrorScope } from '@otp/sms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMessaggioClient } from './client.js';
import { createFakeMessaggio, type FakeFailure, type FakeMessaggio } from './fake-server.js';
import { createMessaggioProvider } from './provider.js';
import { createMessaggioWebhook } from './webhook.js';

const LOGIN = 'provider-test-login';
let fake: FakeMessaggio;
beforeAll(async () => {
  fake = await createFakeMessaggio({ logins: [LOGIN] });
});
afterAll(async () => {
  await fake.close();
});

// A short timeout only where a hang is the point: a busy machine must not time out the rest.
function provider(login = LOGIN, timeoutMs = 5000) {
  return createMessaggioProvider({
    client: createMessaggioClient({ baseUrl: fake.baseUrl, login, timeoutMs }),
    sender: 'OTPTEST',
  });
}
const MESSAGE = { phone: '+77011234567', text: 'code 123456', verificationId: 'v-1', ttlSeconds: 60 };

describe('Messaggio as an SmsProvider', () => {
  it('names itself on the receipt', async () => {
    const receipt = await provider().send(MESSAGE);
    expect(receipt).toEqual({ provider: 'messaggio', providerMessageId: expect.any(String) });
  });

  const cases: Array<[string, FakeFailure, SmsErrorScope, string]> = [
    ['500', { kind: 'status', status: 500 }, 'transient', 'MESSAGGIO_SERVER_ERROR'],
    ['429', { kind: 'status', status: 429, retryAfterSeconds: 2 }, 'transient', 'MESSAGGIO_RATE_LIMITED'],
    ['a dropped connection', { kind: 'drop' }, 'transient', 'MESSAGGIO_NETWORK'],
    ['a hang', { kind: 'hang' }, 'transient', 'MESSAGGIO_TIMEOUT'],
    ['401', { kind: 'status', status: 401 }, 'provider', 'MESSAGGIO_UNAUTHORIZED'],
    ['402', { kind: 'status', status: 402 }, 'provider', 'MESSAGGIO_NO_BALANCE'],
    ['403', { kind: 'status', status: 403 }, 'provider', 'MESSAGGIO_FORBIDDEN'],
    ['400', { kind: 'status', status: 400 }, 'message', 'MESSAGGIO_BAD_REQUEST'],
    ['422', { kind: 'status', status: 422 }, 'message', 'MESSAGGIO_BAD_REQUEST'],
    ['a rejected recipient', { kind: 'reject-recipient' }, 'message', 'MESSAGGIO_RECIPIENT_REJECTED'],
  ];
  it.each(cases)('maps %s to scope %s', async (_what, failure, scope, code) => {
    fake.failNext(1, failure);
    const err = await provider(LOGIN, failure.kind === 'hang' ? 300 : 5000)
      .send(MESSAGE)
      .catch((e: unknown) => e);
    expect(isSmsError(err)).toBe(true);
    expect(err).toMatchObject({ provider: 'messaggio', scope, code });
  });

  it('treats a wrong login as the provider’s problem', async () => {
    const err = await provider('wrong-login')
      .send(MESSAGE)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ scope: 'provider', code: 'MESSAGGIO_FORBIDDEN' });
  });

  it('passes the caller’s abort through', async () => {
    fake.failNext(1, { kind: 'hang' });
    const controller = new AbortController();
    const sending = provider().send(MESSAGE, { signal: controller.signal });
    controller.abort(new Error('shutdown deadline'));
    await expect(sending).rejects.toThrow('shutdown deadline');
  });
});

describe('Messaggio delivery-report webhook', () => {
  const secret = 'webhook-secret-0123456789';
  const handler = createMessaggioWebhook({ secret });
  const request = (subpath: string, body: unknown) => ({
    method: 'POST',
    url: `http://x/webhooks/messaggio/${subpath}`,
    subpath,
    headers: {},
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

  it('maps report codes into the neutral status', async () => {
    const outcome = await handler.handle(
      request(secret, [
        { message_id: 'm1', status: 70, external_id: 'v-1' },
        { message_id: 'm2', status: { status: '60' } },
        { message_id: 'm3', status: 100 },
        { message_id: 'm4', status: 91 },
        { message_id: 'm5', status: 12 },
      ]),
    );
    expect(outcome.kind).toBe('reports');
    if (outcome.kind !== 'reports') return;
    expect(outcome.reports.map((r) => [r.providerMessageId, r.status])).toEqual([
      ['m1', 'delivered'],
      ['m2', 'undelivered'],
      ['m3', 'sent'],
      ['m4', 'undelivered'],
      ['m5', 'unknown'],
    ]);
    expect(outcome.reports[0]).toMatchObject({
      provider: 'messaggio',
      verificationId: 'v-1',
      providerStatus: '70',
    });
    expect(outcome.answer).toMatchObject({ status: 200, body: '{"ok":true}' });
  });

  it('refuses a wrong secret with a 404 and garbage with invalid', async () => {
    expect(await handler.handle(request('nope', { message_id: 'm', status: 70 }))).toMatchObject({
      kind: 'refused',
      status: 404,
    });
    expect(await handler.handle(request(secret, 'not json'))).toMatchObject({ kind: 'invalid' });
    expect(await handler.handle(request(secret, { status: 70 }))).toMatchObject({ kind: 'invalid' });
  });
});
