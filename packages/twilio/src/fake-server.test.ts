import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { countSegments, createFakeTwilio, FAKE_TWILIO_ACCOUNT_SID, type FakeTwilio } from './fake-server.js';
import { createTwilioProvider } from './provider.js';
import { createTwilioWebhookHandler } from './status-callback.js';

const ACCOUNT_SID = `AC${'3c'.repeat(16)}`;
const AUTH_TOKEN = 'fake-suite-token-77';
const KEY = { sid: `SK${'4d'.repeat(16)}`, secret: 'key-secret-1' };
const FROM = '+15557122661';
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** A receiver for status callbacks: the real webhook handler behind a plain Node server. */
interface Receiver {
  url: string;
  received: Array<{ status: number; reports: unknown[]; code?: string }>;
  close(): Promise<void>;
}

async function startReceiver(path = '/webhooks/twilio?ref=a%2Bb', authToken = AUTH_TOKEN): Promise<Receiver> {
  const received: Receiver['received'] = [];
  let base = '';
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const handler = createTwilioWebhookHandler({ authToken, publicBaseUrl: base });
      const result = handler.handle({
        url: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      received.push(result);
      res.writeHead(result.status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}${path}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function post(
  fake: FakeTwilio,
  body: string,
  headers: Record<string, string> = {},
  accountSid = ACCOUNT_SID,
) {
  const response = await fetch(`${fake.baseUrl}/2010-04-01/Accounts/${accountSid}/Messages.json`, {
    method: 'POST',
    headers: {
      authorization: basic(ACCOUNT_SID, AUTH_TOKEN),
      'content-type': 'application/x-www-form-urlencoded',
      ...headers,
    },
    body,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('the fake Twilio: wire format', () => {
  let fake: FakeTwilio;

  beforeAll(async () => {
    fake = await createFakeTwilio({
      accounts: [{ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, apiKeys: [KEY] }],
      senders: [FROM],
    });
  });
  afterEach(() => fake.reset());
  afterAll(() => fake.close());

  it('answers 201 with a Message resource in Twilio shape', async () => {
    const { status, body } = await post(
      fake,
      'To=%2B15558675310&From=%2B15557122661&Body=Your+code+is+123456',
    );
    expect(status).toBe(201);
    expect(body).toMatchObject({
      sid: expect.stringMatching(/^SM[0-9a-f]{32}$/),
      account_sid: ACCOUNT_SID,
      status: 'queued',
      to: '+15558675310',
      from: FROM,
      body: 'Your code is 123456',
      num_segments: '1',
      num_media: '0',
      direction: 'outbound-api',
      api_version: '2010-04-01',
      error_code: null,
      price: null,
      date_created: expect.stringMatching(
        /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$/,
      ),
    });
  });

  it('reads a bare + as a space, so an unencoded E.164 number is 21211', async () => {
    const { status, body } = await post(fake, 'To=+15558675310&From=%2B15557122661&Body=x');
    expect(status).toBe(400);
    expect(body).toEqual({
      code: 21211,
      message: expect.any(String),
      more_info: 'https://www.twilio.com/docs/errors/21211',
      status: 400,
    });
  });

  it('reads no JSON body: 21604, no To', async () => {
    const { body } = await post(fake, JSON.stringify({ To: '+15558675310', From: FROM, Body: 'x' }), {
      'content-type': 'application/json',
    });
    expect(body).toMatchObject({ code: 21604, status: 400 });
  });

  it.each([
    ['To=%2B15558675310&Body=x', 21603],
    ['To=%2B15558675310&From=%2B15557122661', 21602],
    [`To=%2B15558675310&From=%2B15557122661&Body=${'x'.repeat(1601)}`, 21617],
    ['To=%2B15558675310&From=%2B15557000000&Body=x', 21606],
    ['To=%2B15557122661&From=%2B15557122661&Body=x', 21211],
    ['To=%2B1555867531000000000&From=%2B15557122661&Body=x', 21211],
    ['To=%2B15558675310&MessagingServiceSid=MG1&Body=x', 21705],
    ['To=%2B15558675310&From=%2B15557122661&Body=x&StatusCallback=https%3A%2F%2Fa_b.example%2F', 21609],
    ['To=%2B15558675310&From=%2B15557122661&Body=x&ValidityPeriod=36001', 21624],
  ])('%s → %i', async (form, code) => {
    const { status, body } = await post(fake, form);
    expect({ status, code: body.code }).toEqual({ status: 400, code });
    expect(fake.messages).toHaveLength(0);
  });

  it('answers a ValidityPeriod out of range with 90007 when told to', async () => {
    const other = await createFakeTwilio({
      accounts: [{ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN }],
      validityPeriodErrorCode: 90007,
    });
    try {
      const { body } = await post(other, 'To=%2B15558675310&From=%2B15557122661&Body=x&ValidityPeriod=0');
      expect(body).toMatchObject({ code: 90007, status: 400 });
    } finally {
      await other.close();
    }
  });

  it('checks Basic auth: wrong token, another account in the path → 401 20003; an API key works', async () => {
    const form = 'To=%2B15558675310&From=%2B15557122661&Body=x';
    expect((await post(fake, form, { authorization: basic(ACCOUNT_SID, 'nope') })).body).toMatchObject({
      code: 20003,
      status: 401,
    });
    expect((await post(fake, form, {}, FAKE_TWILIO_ACCOUNT_SID)).status).toBe(401);
    expect((await post(fake, form, { authorization: basic(KEY.sid, KEY.secret) })).status).toBe(201);
  });

  it('serves GET …/Messages/{Sid}.json, and 404 20404 elsewhere', async () => {
    const created = await post(fake, 'To=%2B15558675310&From=%2B15557122661&Body=x');
    const headers = { authorization: basic(ACCOUNT_SID, AUTH_TOKEN) };
    const one = await fetch(
      `${fake.baseUrl}/2010-04-01/Accounts/${ACCOUNT_SID}/Messages/${created.body.sid}.json`,
      {
        headers,
      },
    );
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({ sid: created.body.sid, status: 'queued' });
    const missing = await fetch(`${fake.baseUrl}/2010-04-01/Accounts/${ACCOUNT_SID}/Calls.json`, { headers });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 20404 });
  });

  it('records every request, raw and parsed', async () => {
    await post(fake, 'To=%2B15558675310&From=%2B15557122661&Body=a+b%2Bc');
    expect(fake.requests[0]).toMatchObject({
      method: 'POST',
      rawBody: 'To=%2B15558675310&From=%2B15557122661&Body=a+b%2Bc',
      form: { To: '+15558675310', From: FROM, Body: 'a b+c' },
      response: { status: 201 },
    });
  });

  it('adds latency, and waits for what it is told to', async () => {
    fake.setLatency(50);
    const sending = post(fake, 'To=%2B15558675310&From=%2B15557122661&Body=x');
    await fake.waitForRequests(1, { createdOnly: true });
    expect((await sending).status).toBe(201);
    await expect(fake.waitForRequests(5, { timeoutMs: 50 })).rejects.toThrow(
      /waited 50 ms for 5 requests, got 1/,
    );
  });

  it('counts segments as Twilio bills them', () => {
    expect(countSegments('')).toBe(0);
    expect(countSegments('x'.repeat(160))).toBe(1);
    expect(countSegments('x'.repeat(161))).toBe(2);
    expect(countSegments('€'.repeat(80))).toBe(1);
    expect(countSegments('€'.repeat(81))).toBe(2);
    expect(countSegments('Ваш код: 123456')).toBe(1);
    expect(countSegments('ж'.repeat(71))).toBe(2);
  });
});

describe('the fake Twilio: status callbacks, verified by the real handler', () => {
  let receiver: Receiver;
  const fakes: FakeTwilio[] = [];

  beforeAll(async () => {
    receiver = await startReceiver();
  });
  afterEach(async () => {
    await Promise.all(fakes.splice(0).map((fake) => fake.close()));
    receiver.received.length = 0;
  });
  afterAll(() => receiver.close());

  async function start(statusCallbacks: Parameters<typeof createFakeTwilio>[0] = {}) {
    const fake = await createFakeTwilio({
      accounts: [{ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN }],
      statusCallbacks: { delayMs: 1 },
      ...statusCallbacks,
    });
    fakes.push(fake);
    const provider = createTwilioProvider({
      accountSid: ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      from: FROM,
      baseUrl: fake.baseUrl,
      statusCallbackUrl: receiver.url,
    });
    return { fake, provider };
  }

  const otp = { phone: '+15558675310', text: 'Your code is 123456', verificationId: 'v1', ttlSeconds: 300 };

  it('posts sent then delivered, signed, no callback for queued; the handler accepts each', async () => {
    const { fake, provider } = await start();
    const { providerMessageId } = await provider.send(otp);
    await fake.waitForCallbacks(2);

    expect(fake.callbacks.map((c) => [c.params.MessageStatus, c.answer])).toEqual([
      ['sent', 200],
      ['delivered', 200],
    ]);
    const delivered = fake.callbacks[1];
    expect(delivered?.url).toBe(receiver.url);
    expect(delivered?.params).toMatchObject({
      MessageSid: providerMessageId,
      SmsSid: providerMessageId,
      SmsStatus: 'delivered',
      AccountSid: ACCOUNT_SID,
      From: FROM,
      To: '+15558675310',
      ApiVersion: '2010-04-01',
      RawDlrDoneDate: expect.stringMatching(/^\d{10}$/),
    });
    expect(receiver.received.map((r) => r.reports)).toEqual([
      [{ provider: 'twilio', providerMessageId, status: 'sent', providerStatus: 'sent' }],
      [{ provider: 'twilio', providerMessageId, status: 'delivered', providerStatus: 'delivered' }],
    ]);
    expect(fake.messages[0]?.status).toBe('delivered');
  });

  it('ends undelivered with ErrorCode 30003, or failed without sent', async () => {
    const { fake, provider } = await start({
      statusCallbacks: { delayMs: 1, undeliverable: ['+15558675310'], failing: ['+15558675311'] },
    });
    await provider.send(otp);
    await fake.waitForCallbacks(2);
    await provider.send({ ...otp, phone: '+15558675311' });
    await fake.waitForCallbacks(3);
    expect(fake.callbacks.map((c) => [c.params.MessageStatus, c.params.ErrorCode])).toEqual([
      ['sent', undefined],
      ['undelivered', '30003'],
      ['failed', '30008'],
    ]);
    expect(receiver.received.map((r) => (r.reports[0] as { providerStatus: string }).providerStatus)).toEqual(
      ['sent', 'undelivered/30003', 'failed/30008'],
    );
  });

  it('a Messaging Service send reports queued too, from the sender it picked', async () => {
    const { fake } = await start();
    const viaService = createTwilioProvider({
      accountSid: ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      messagingServiceSid: `MG${'5e'.repeat(16)}`,
      baseUrl: fake.baseUrl,
      statusCallbackUrl: receiver.url,
    });
    await viaService.send(otp);
    await fake.waitForCallbacks(3);
    expect(fake.callbacks.map((c) => c.params.MessageStatus)).toEqual(['queued', 'sent', 'delivered']);
    expect(fake.callbacks[0]?.params.MessagingServiceSid).toBe(`MG${'5e'.repeat(16)}`);
    expect(receiver.received.every((r) => r.status === 200)).toBe(true);
  });

  it('out of order, duplicated, with unknown parameters and a signature without the port: all verify', async () => {
    const { fake, provider } = await start({
      statusCallbacks: {
        delayMs: 1,
        outOfOrder: true,
        duplicate: true,
        extraParams: { ChannelPrefix: 'sms', NewTwilioField: 'x y+z' },
        signedUrl: 'without-port',
      },
    });
    await provider.send(otp);
    await fake.waitForCallbacks(4);
    expect(fake.callbacks.map((c) => c.params.MessageStatus)).toEqual([
      'delivered',
      'delivered',
      'sent',
      'sent',
    ]);
    expect(fake.callbacks[0]?.signedUrl).toBe(receiver.url.replace(/:\d+\//, '/'));
    expect(receiver.received.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    // The resource moved forward only.
    expect(fake.messages[0]?.status).toBe('delivered');
  });

  it('drops what it is told to drop', async () => {
    const { fake, provider } = await start({ statusCallbacks: { delayMs: 1, drop: ['sent'] } });
    await provider.send(otp);
    await fake.waitForCallbacks(1);
    expect(fake.callbacks.map((c) => c.params.MessageStatus)).toEqual(['delivered']);
  });

  it('signed with another token: the handler refuses it and the fake records the 403', async () => {
    const { fake } = await start({
      accounts: [{ accountSid: ACCOUNT_SID, authToken: 'a-different-token' }],
    });
    const other = createTwilioProvider({
      accountSid: ACCOUNT_SID,
      authToken: 'a-different-token',
      from: FROM,
      baseUrl: fake.baseUrl,
      statusCallbackUrl: receiver.url,
    });
    await other.send(otp);
    await fake.waitForCallbacks(2);
    expect(fake.callbacks.map((c) => c.answer)).toEqual([403, 403]);
    expect(receiver.received).toEqual([
      { status: 403, reports: [], code: 'TWILIO_SIGNATURE_INVALID' },
      { status: 403, reports: [], code: 'TWILIO_SIGNATURE_INVALID' },
    ]);
  });

  it('re-sends a refused callback only when asked, and records each answer', async () => {
    const refusing = await startReceiver('/webhooks/twilio', 'wrong-token');
    try {
      const fake = await createFakeTwilio({
        accounts: [{ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN }],
        statusCallbacks: { delayMs: 1, retries: 2, failing: ['+15558675310'] },
      });
      fakes.push(fake);
      const provider = createTwilioProvider({
        accountSid: ACCOUNT_SID,
        authToken: AUTH_TOKEN,
        from: FROM,
        baseUrl: fake.baseUrl,
        statusCallbackUrl: refusing.url,
      });
      await provider.send(otp);
      await fake.waitForCallbacks(3);
      expect(fake.callbacks.map((c) => [c.params.MessageStatus, c.answer])).toEqual([
        ['failed', 403],
        ['failed', 403],
        ['failed', 403],
      ]);
    } finally {
      await refusing.close();
    }
  });

  it('close() stops pending callbacks and leaves nothing running', async () => {
    const { fake, provider } = await start({ statusCallbacks: { delayMs: 60_000 } });
    await provider.send(otp);
    const waiting = fake.waitForCallbacks(1, { timeoutMs: 60_000 });
    await fake.close();
    await expect(waiting).rejects.toThrow(/closed/);
    expect(fake.callbacks).toHaveLength(0);
  });
});
