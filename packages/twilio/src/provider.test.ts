import type { SmsMessage } from '@otp/sms';
import { SmsError } from '@otp/sms';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../test/probes.js';
import { createFakeTwilio, type FakeTwilio } from './fake-server.js';
import { createTwilioProvider, type TwilioProvider } from './provider.js';

const ACCOUNT_SID = `AC${'1a'.repeat(16)}`;
const AUTH_TOKEN = 'tok-5f2c9e0b7d41a8c3';
const FROM = '+15557122661';
const SERVICE = `MG${'2b'.repeat(16)}`;
const BASIC = Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64');
const SID = /^SM[0-9a-f]{32}$/;

let fake: FakeTwilio;
let twilio: TwilioProvider;

beforeAll(async () => {
  fake = await createFakeTwilio({
    accounts: [{ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN }],
    senders: [FROM],
    messagingServices: [SERVICE],
  });
  twilio = createTwilioProvider({
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    from: FROM,
    baseUrl: fake.baseUrl,
    timeoutMs: 2000,
  });
});

afterEach(() => {
  fake.reset();
});

afterAll(async () => {
  await fake.close();
});

const otp: SmsMessage = {
  phone: '+15558675310',
  text: 'Your code is 123456',
  verificationId: 'b3c1f6d2-1111-4e8e-9d55-0c6a2f0c9e10',
  ttlSeconds: 300,
};

/** Runs a send that must fail and returns its SmsError. */
async function failure(promise: Promise<unknown>): Promise<SmsError> {
  const err = await promise.then(
    () => {
      throw new Error('expected the send to fail');
    },
    (reason: unknown) => reason,
  );
  if (!(err instanceof SmsError)) throw err;
  return err;
}

/** No credential, in any form, anywhere in the error or its causes. */
function expectNoCredentials(err: unknown): void {
  const seen: string[] = [];
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    seen.push(e.message, String(e.stack), JSON.stringify(e), JSON.stringify(Object.entries(e)));
  }
  const text = seen.join('\n');
  expect(text).not.toContain(AUTH_TOKEN);
  expect(text).not.toContain(BASIC);
  expect(text).not.toContain(ACCOUNT_SID);
}

describe('send: the wire request', () => {
  it('POSTs a form to the Messages list with Basic auth, Accept JSON, and + sent as %2B', async () => {
    const receipt = await twilio.send(otp);

    expect(receipt).toEqual({ provider: 'twilio', providerMessageId: expect.stringMatching(SID) });
    expect(fake.requests).toHaveLength(1);
    const [request] = fake.requests;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe(`/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`);
    expect(request?.headers.authorization).toBe(`Basic ${BASIC}`);
    expect(request?.headers.accept).toBe('application/json');
    expect(request?.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded\b/);
    expect(request?.rawBody).toBe(
      'To=%2B15558675310&Body=Your+code+is+123456&From=%2B15557122661&ValidityPeriod=300',
    );
    expect(request?.form).toEqual({
      To: '+15558675310',
      Body: 'Your code is 123456',
      From: FROM,
      ValidityPeriod: '300',
    });
    expect(fake.messages[0]).toMatchObject({
      sid: receipt.providerMessageId,
      to: '+15558675310',
      from: FROM,
      body: 'Your code is 123456',
      status: 'queued',
      validityPeriod: 300,
    });
  });

  it('sends MessagingServiceSid (and no From) when only a service is set, and StatusCallback when given', async () => {
    const viaService = createTwilioProvider({
      accountSid: ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      messagingServiceSid: SERVICE,
      baseUrl: `${fake.baseUrl}/`,
      statusCallbackUrl: 'https://otp.example.com/webhooks/twilio?ref=abc',
    });
    await viaService.send({ ...otp, ttlSeconds: 0 });
    expect(fake.requests[0]?.form).toEqual({
      To: '+15558675310',
      Body: 'Your code is 123456',
      MessagingServiceSid: SERVICE,
      StatusCallback: 'https://otp.example.com/webhooks/twilio?ref=abc',
    });
    expect(fake.messages[0]).toMatchObject({ status: 'accepted', from: null, messagingServiceSid: SERVICE });
  });

  it('adds the verification id to StatusCallback with referenceInCallback', async () => {
    const referencing = createTwilioProvider({
      accountSid: ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      messagingServiceSid: SERVICE,
      baseUrl: fake.baseUrl,
      statusCallbackUrl: 'https://otp.example.com/webhooks/twilio',
      referenceInCallback: true,
    });
    await referencing.send({ ...otp, verificationId: 'ver 1/2' });
    expect(fake.requests[0]?.form.StatusCallback).toBe(
      'https://otp.example.com/webhooks/twilio?otp_ref=ver%201%2F2',
    );
  });

  it('keeps ValidityPeriod within Twilio range', async () => {
    await twilio.send({ ...otp, ttlSeconds: 86_400 });
    await twilio.send({ ...otp, ttlSeconds: 0.2 });
    expect(fake.requests.map((r) => r.form.ValidityPeriod)).toEqual(['36000', '1']);
  });

  it('sends Unicode text intact', async () => {
    await twilio.send({ ...otp, text: 'Ваш код подтверждения: 123456 ✓' });
    expect(fake.messages[0]?.body).toBe('Ваш код подтверждения: 123456 ✓');
  });

  it.each([
    ['a phone without +', { phone: '15558675310' }],
    ['a phone with spaces', { phone: '+1 555 867 5310' }],
    ['an empty text', { text: '' }],
    ['a text over 1,600 characters', { text: 'x'.repeat(1601) }],
  ])('refuses %s without calling Twilio, as message scope', async (_, change) => {
    const err = await failure(twilio.send({ ...otp, ...change }));
    expect(err).toMatchObject({ provider: 'twilio', scope: 'message', code: 'TWILIO_INVALID_REQUEST' });
    expect(fake.requests).toHaveLength(0);
  });
});

describe('send: classification against the fake', () => {
  it.each([
    // To problems the message carries with it: no other provider will do better.
    ['an invalid To (21211)', { phone: '+15005550001' }, 'message', 'TWILIO_21211', 400],
    [
      'a To Twilio refuses as not E.164 (21211)',
      { phone: '+0123' },
      'message',
      'TWILIO_INVALID_REQUEST',
      undefined,
    ],
    ['a landline (21614)', { phone: '+15005550009' }, 'message', 'TWILIO_21614', 400],
    ['an unsubscribed recipient (21610)', { phone: '+15005550004' }, 'message', 'TWILIO_21610', 400],
    // Account and routing problems: fail over.
    ['geo permissions (21408)', { phone: '+15005550003' }, 'provider', 'TWILIO_21408', 400],
    ['an unroutable pair (21612)', { phone: '+15005550002' }, 'provider', 'TWILIO_21612', 400],
  ] as const)('%s', async (_, change, scope, code, status) => {
    const err = await failure(twilio.send({ ...otp, ...change }));
    expect(err).toMatchObject({ provider: 'twilio', scope, code, status });
    expectNoCredentials(err);
  });

  it('marks geo permissions (21408) and an unroutable pair (21612) as for this destination only', async () => {
    for (const phone of ['+15005550003', '+15005550002']) {
      expect(await failure(twilio.send({ ...otp, phone }))).toMatchObject({
        scope: 'provider',
        destinationOnly: true,
      });
    }
    expect(await failure(twilio.send({ ...otp, phone: '+15005550001' }))).toMatchObject({
      destinationOnly: false,
    });
  });

  it('a 400 names Twilio code and docs link, without the number or the text', async () => {
    const err = await failure(twilio.send({ ...otp, phone: '+15005550001' }));
    expect(err.message).toContain('Twilio error 21211');
    expect(err.message).toContain('https://www.twilio.com/docs/errors/21211');
    expect(err.message).not.toContain('5005550001');
    expect(err.message).not.toContain('123456');
  });

  it.each([
    ['a sender not in the account (21606)', { from: '+15557000000' }, 'TWILIO_21606'],
    ['a magic invalid From (21212)', { from: '+15005550001' }, 'TWILIO_21212'],
    ['a From whose queue is full (21611)', { from: '+15005550008' }, 'TWILIO_21611'],
    ['an unknown Messaging Service (21705)', { messagingServiceSid: `MG${'9'.repeat(32)}` }, 'TWILIO_21705'],
  ])('%s is provider scope', async (_, sender, code) => {
    const other = createTwilioProvider({
      accountSid: ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      baseUrl: fake.baseUrl,
      ...sender,
    });
    const err = await failure(other.send(otp));
    expect(err).toMatchObject({ scope: 'provider', code, status: 400 });
  });

  it('a wrong Auth Token is provider scope (401, 20003), and the token is in no error text', async () => {
    const wrong = createTwilioProvider({
      accountSid: ACCOUNT_SID,
      authToken: 'wrong-token-8d1e',
      from: FROM,
      baseUrl: fake.baseUrl,
    });
    const err = await failure(wrong.send(otp));
    expect(err).toMatchObject({ scope: 'provider', code: 'TWILIO_20003', status: 401 });
    expect(err.message).not.toContain('wrong-token-8d1e');
    expect(err.message).not.toContain(Buffer.from(`${ACCOUNT_SID}:wrong-token-8d1e`).toString('base64'));
    expectNoCredentials(err);
  });

  it.each([
    [{ status: 429 }, 'transient', 'TWILIO_20429'],
    [{ status: 500 }, 'transient', 'TWILIO_20500'],
    [{ status: 503 }, 'transient', 'TWILIO_20503'],
    [{ status: 502, code: 99999 }, 'transient', 'TWILIO_SERVER_ERROR'],
    [{ status: 401 }, 'provider', 'TWILIO_20003'],
    [{ status: 403, code: 20003 }, 'provider', 'TWILIO_20003'],
    [{ status: 403, code: 99999 }, 'provider', 'TWILIO_FORBIDDEN'],
    [{ status: 404 }, 'provider', 'TWILIO_20404'],
    [{ status: 400, code: 21211 }, 'message', 'TWILIO_21211'],
    [{ status: 400, code: 21999 }, 'message', 'TWILIO_REJECTED'],
  ] as const)('a scripted %o is %s (%s)', async (answer, scope, code) => {
    fake.failNext(1, { kind: 'status', ...answer });
    const err = await failure(twilio.send(otp));
    expect(err).toMatchObject({ provider: 'twilio', scope, code, status: answer.status });
    expectNoCredentials(err);
  });

  it('reads Retry-After as the floor for the next try', async () => {
    fake.failNext(1, { kind: 'status', status: 429, retryAfterSeconds: 7 });
    const err = await failure(twilio.send(otp));
    expect(err).toMatchObject({ scope: 'transient', code: 'TWILIO_20429', retryAfterMs: 7000 });
    expect(err.message).toContain('retry after 7 s');
  });

  it('a 500 may have created the message: the fake keeps it, the error stays transient', async () => {
    fake.failNext(1, { kind: 'status', status: 500 });
    const err = await failure(twilio.send(otp));
    expect(err.scope).toBe('transient');
    expect(fake.messages).toHaveLength(1);
  });

  it('a 2xx without a sid is transient TWILIO_BAD_RESPONSE', async () => {
    const broken = createTwilioProvider({
      accountSid: ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      from: FROM,
      fetch: async () => new Response('<Response/>', { status: 201 }),
    });
    const err = await failure(broken.send(otp));
    expect(err).toMatchObject({ scope: 'transient', code: 'TWILIO_BAD_RESPONSE', status: 201 });
  });

  it('a non-JSON error page is classified by its status alone', async () => {
    const proxy = createTwilioProvider({
      accountSid: ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      from: FROM,
      fetch: async () => new Response('<html>Bad Gateway</html>', { status: 502 }),
    });
    const err = await failure(proxy.send(otp));
    expect(err).toMatchObject({ scope: 'transient', code: 'TWILIO_SERVER_ERROR', status: 502 });
    expect(err.message).toContain('no Twilio error code in the body');
  });

  it('redacts credentials Twilio echoes back in its message', async () => {
    fake.failNext(1, {
      kind: 'status',
      status: 400,
      code: 21999,
      message: `Account ${ACCOUNT_SID} with ${AUTH_TOKEN} said ${BASIC}`,
    });
    const err = await failure(twilio.send(otp));
    expect(err.message).toContain('[redacted]');
    expectNoCredentials(err);
  });
});

describe('send: timeouts, network and abort', () => {
  it('a hung Twilio is transient TWILIO_TIMEOUT after timeoutMs', async () => {
    const quick = createTwilioProvider({
      accountSid: ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      from: FROM,
      baseUrl: fake.baseUrl,
      timeoutMs: 150,
    });
    fake.failNext(1, { kind: 'hang' });
    const err = await failure(quick.send(otp));
    expect(err).toMatchObject({ scope: 'transient', code: 'TWILIO_TIMEOUT' });
    expect(err.message).toContain('within 150 ms');
    expectNoCredentials(err);
  });

  it('the timeout covers a body that stalls after the headers', async () => {
    const stalling = createTwilioProvider({
      accountSid: ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      from: FROM,
      timeoutMs: 150,
      fetch: async (_input, init) => {
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('{"sid":'));
            init?.signal?.addEventListener('abort', () => controller.error(init.signal?.reason));
          },
        });
        return new Response(body, { status: 201 });
      },
    });
    const err = await failure(stalling.send(otp));
    expect(err).toMatchObject({ scope: 'transient', code: 'TWILIO_TIMEOUT' });
  });

  it('a dropped connection is transient TWILIO_NETWORK', async () => {
    fake.failNext(1, { kind: 'drop' });
    const err = await failure(twilio.send(otp));
    expect(err).toMatchObject({ scope: 'transient', code: 'TWILIO_NETWORK' });
    expectNoCredentials(err);
  });

  it('a refused connection is transient TWILIO_NETWORK naming ECONNREFUSED', async () => {
    const port = await freePort();
    const nowhere = createTwilioProvider({
      accountSid: ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      from: FROM,
      baseUrl: `http://127.0.0.1:${port}`,
    });
    const err = await failure(nowhere.send(otp));
    expect(err).toMatchObject({ scope: 'transient', code: 'TWILIO_NETWORK' });
    expect(err.message).toContain('ECONNREFUSED');
    expectNoCredentials(err);
  });

  it('an abort mid-request rejects with the signal reason, not an SmsError', async () => {
    fake.failNext(1, { kind: 'hang' });
    const controller = new AbortController();
    const sending = twilio.send(otp, { signal: controller.signal });
    await fake.waitForRequests(1);
    const reason = new Error('shutdown deadline');
    controller.abort(reason);
    await expect(sending).rejects.toBe(reason);
  });

  it('an aborted signal sends nothing', async () => {
    const reason = new Error('already stopped');
    await expect(twilio.send(otp, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('createTwilioProvider: configuration', () => {
  const base = { accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, from: FROM };
  it.each([
    ['an API key SID as the account', { accountSid: `SK${'0'.repeat(32)}` }, /accountSid/],
    ['an empty token', { authToken: '' }, /authToken/],
    ['no sender', { from: undefined }, /from .*messagingServiceSid/],
    ['a malformed service SID', { messagingServiceSid: 'MG123' }, /messagingServiceSid/],
    ['a zero timeout', { timeoutMs: 0 }, /timeoutMs/],
    ['a base URL that is no URL', { baseUrl: 'api.twilio.com' }, /baseUrl/],
    [
      'a callback URL with an underscore host',
      { statusCallbackUrl: 'https://my_host.example/x' },
      /underscore/,
    ],
    ['a callback URL that is no URL', { statusCallbackUrl: '/webhooks/twilio' }, /statusCallbackUrl/],
  ])('refuses %s, naming the option and not the token', (_, change, message) => {
    expect(() => createTwilioProvider({ ...base, ...change })).toThrow(message);
    try {
      createTwilioProvider({ ...base, ...change });
    } catch (err) {
      expect(String(err)).not.toContain(AUTH_TOKEN);
    }
  });

  it('is named twilio', () => {
    expect(twilio.name).toBe('twilio');
  });
});
