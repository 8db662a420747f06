import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../test/probes.js';
import { createMessaggioClient, type MessaggioClient } from './client.js';
import { isMessaggioError, type MessaggioError } from './errors.js';
import { createFakeMessaggio, type FakeMessaggio } from './fake-server.js';

const LOGIN = 'proj-login-5f2c9e';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let fake: FakeMessaggio;
let client: MessaggioClient;

beforeAll(async () => {
  fake = await createFakeMessaggio({ logins: [LOGIN] });
  client = createMessaggioClient({ baseUrl: fake.baseUrl, login: LOGIN, timeoutMs: 2000 });
});

afterEach(() => {
  fake.reset();
});

afterAll(async () => {
  await fake.close();
});

const otp = { phone: '+77088043414', sender: 'OTPSENDER', text: 'Ваш код подтверждения: 123456' };

/** Runs a call that must fail and returns its MessaggioError. */
async function failure(promise: Promise<unknown>): Promise<MessaggioError> {
  const err = await promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (reason: unknown) => reason,
  );
  if (!isMessaggioError(err)) throw err;
  return err;
}

/** A fetch that answers without a server, and without reading the request body as real fetch would. */
function answering(makeResponse: () => Response): typeof fetch {
  return async () => makeResponse();
}

describe('send: the wire request', () => {
  it('POSTs /api/v1/send with the documented headers and a digits-only phone', async () => {
    await client.send({
      ...otp,
      externalId: 'b3c1f6d2-1111-4e8e-9d55-0c6a2f0c9e10',
      ttlSeconds: 300,
      dlrCallbackUrl: 'https://otp.example.com/webhooks/messaggio/s3cret',
    });

    expect(fake.requests).toHaveLength(1);
    const [request] = fake.requests;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe('/api/v1/send');
    expect(request?.headers['content-type']).toMatch(/^application\/json\b/);
    expect(request?.headers.accept).toBe('application/json');
    expect(request?.headers['messaggio-login']).toBe(LOGIN);
    expect(JSON.parse(request?.rawBody ?? '')).toStrictEqual({
      recipients: [{ phone: '77088043414' }],
      channels: ['sms'],
      options: {
        ttl: 300,
        external_id: 'b3c1f6d2-1111-4e8e-9d55-0c6a2f0c9e10',
        dlr_callback_url: 'https://otp.example.com/webhooks/messaggio/s3cret',
      },
      sms: { from: 'OTPSENDER', content: [{ type: 'text', text: 'Ваш код подтверждения: 123456' }] },
    });
  });

  it('leaves options out when none are given', async () => {
    await client.send({ phone: '77088043414', sender: 'OTPSENDER', text: 'code 1' });
    expect(JSON.parse(fake.requests[0]?.rawBody ?? '')).toStrictEqual({
      recipients: [{ phone: '77088043414' }],
      channels: ['sms'],
      sms: { from: 'OTPSENDER', content: [{ type: 'text', text: 'code 1' }] },
    });
  });

  it('sends only the options that are given', async () => {
    await client.send({ ...otp, externalId: 'ver-1' });
    expect(fake.requests[0]?.body).toMatchObject({ options: { external_id: 'ver-1' } });
    expect(Object.keys((fake.requests[0]?.body ?? {}) as object)).toEqual([
      'recipients',
      'channels',
      'options',
      'sms',
    ]);
    expect(JSON.parse(fake.requests[0]?.rawBody ?? '').options).toStrictEqual({ external_id: 'ver-1' });
  });

  it('tolerates a trailing slash on the base URL', async () => {
    const slashed = createMessaggioClient({ baseUrl: `${fake.baseUrl}/`, login: LOGIN });
    await slashed.send(otp);
    expect(fake.requests[0]?.path).toBe('/api/v1/send');
  });

  it('refuses a phone that is not E.164 digits without calling Messaggio', async () => {
    const err = await failure(client.send({ ...otp, phone: '+7 708 804 34 14' }));
    expect(err).toMatchObject({ code: 'MESSAGGIO_BAD_REQUEST', retryable: false, status: undefined });
    expect(fake.requests).toHaveLength(0);
  });

  it('refuses a fractional ttlSeconds without calling Messaggio', async () => {
    const err = await failure(client.send({ ...otp, ttlSeconds: 299.5 }));
    expect(err).toMatchObject({ code: 'MESSAGGIO_BAD_REQUEST', retryable: false });
    expect(fake.requests).toHaveLength(0);
  });
});

describe('send: answers', () => {
  it('returns the message_id, accepted_at and echoed phone of an accepted SMS', async () => {
    const result = await client.send(otp);
    expect(result.messageId).toMatch(UUID);
    expect(result.acceptedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z$/);
    expect(result.phone).toBe('77088043414');
    expect(fake.sent).toEqual([
      { phone: '77088043414', text: otp.text, sender: 'OTPSENDER', messageId: result.messageId },
    ]);
  });

  it('turns a per-recipient error inside a 200 into a permanent MESSAGGIO_RECIPIENT_REJECTED', async () => {
    fake.failNext(1, { kind: 'reject-recipient', title: 'Invalid phone number', detail: 'Unknown operator' });
    const err = await failure(client.send(otp));
    expect(err).toMatchObject({
      code: 'MESSAGGIO_RECIPIENT_REJECTED',
      retryable: false,
      status: 200,
      title: 'Invalid phone number',
      detail: 'Unknown operator',
    });
    expect(err.message).toBe('Messaggio rejected the recipient: Invalid phone number: Unknown operator');
  });

  it('passes on the fake rejecting a phone of the wrong length, through the same path', async () => {
    const err = await failure(client.send({ ...otp, phone: '+7708' }));
    expect(err).toMatchObject({
      code: 'MESSAGGIO_RECIPIENT_REJECTED',
      retryable: false,
      title: 'Invalid phone number',
    });
    expect(fake.sent).toHaveLength(0);
  });

  it('treats a 403 as permanent MESSAGGIO_FORBIDDEN and never puts the login in the message', async () => {
    const stranger = createMessaggioClient({ baseUrl: fake.baseUrl, login: 'not-a-known-login' });
    const err = await failure(stranger.send(otp));
    expect(err).toMatchObject({
      code: 'MESSAGGIO_FORBIDDEN',
      retryable: false,
      status: 403,
      title: 'Forbidden',
    });
    expect(err.message).toMatch(/^Messaggio rejected the login \(403 Forbidden\): Forbidden: /);
    expect(err.message).not.toContain('not-a-known-login');
  });

  it('redacts the login when Messaggio echoes it in title or detail', async () => {
    fake.failNext(1, {
      kind: 'status',
      status: 403,
      title: `Login ${LOGIN}`,
      detail: `Project ${LOGIN} is blocked`,
    });
    const err = await failure(client.send(otp));
    expect(err.code).toBe('MESSAGGIO_FORBIDDEN');
    expect(JSON.stringify({ ...err, message: err.message })).not.toContain(LOGIN);
    expect(err.detail).toBe('Project [redacted] is blocked');
  });

  it('treats a 500 as retryable MESSAGGIO_SERVER_ERROR', async () => {
    fake.failNext(1, { kind: 'status', status: 500, detail: 'database on fire' });
    const err = await failure(client.send(otp));
    expect(err).toMatchObject({
      code: 'MESSAGGIO_SERVER_ERROR',
      retryable: true,
      status: 500,
      detail: 'database on fire',
    });
    expect(err.message).toBe(
      'Messaggio had a server error (500 Internal Server Error): Internal Server Error: database on fire',
    );
  });

  it('treats a 429 as retryable and reads Retry-After: 7 as 7000 ms', async () => {
    fake.failNext(1, { kind: 'status', status: 429, retryAfterSeconds: 7 });
    const err = await failure(client.send(otp));
    expect(err).toMatchObject({
      code: 'MESSAGGIO_RATE_LIMITED',
      retryable: true,
      status: 429,
      retryAfterMs: 7000,
    });
    expect(err.message).toContain('retry after 7 s');
  });

  it('treats a 402 as permanent MESSAGGIO_NO_BALANCE', async () => {
    fake.failNext(1, { kind: 'status', status: 402, title: 'Payment Required', detail: 'Balance is 0' });
    const err = await failure(client.send(otp));
    expect(err).toMatchObject({ code: 'MESSAGGIO_NO_BALANCE', retryable: false, status: 402 });
  });

  it('treats an unapproved sender as permanent MESSAGGIO_BAD_REQUEST naming the sender', async () => {
    fake.failNext(1, { kind: 'reject-sender' });
    const err = await failure(client.send(otp));
    expect(err).toMatchObject({ code: 'MESSAGGIO_BAD_REQUEST', retryable: false, status: 400 });
    expect(err.title).toContain('OTPSENDER');
  });

  it('times out a hung request as retryable MESSAGGIO_TIMEOUT', async () => {
    const impatient = createMessaggioClient({ baseUrl: fake.baseUrl, login: LOGIN, timeoutMs: 200 });
    fake.failNext(1, { kind: 'hang' });
    const started = performance.now();
    const err = await failure(impatient.send(otp));
    expect(err).toMatchObject({ code: 'MESSAGGIO_TIMEOUT', retryable: true, status: undefined });
    expect(err.message).toContain('within 200 ms');
    expect(performance.now() - started).toBeLessThan(1500);
    expect(fake.requests[0]?.response).toBe('hung');
  });

  it('times out a stalled response body too, not only missing headers', async () => {
    const stalling = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"accepted_at":');
    });
    await new Promise<void>((resolve) => stalling.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = stalling.address() as AddressInfo;
      const impatient = createMessaggioClient({
        baseUrl: `http://127.0.0.1:${port}/api/v1`,
        login: LOGIN,
        timeoutMs: 200,
      });
      const err = await failure(impatient.send(otp));
      expect(err).toMatchObject({ code: 'MESSAGGIO_TIMEOUT', retryable: true });
    } finally {
      stalling.closeAllConnections();
      await new Promise((resolve) => stalling.close(resolve));
    }
  });

  it('turns a dropped connection into retryable MESSAGGIO_NETWORK', async () => {
    fake.failNext(1, { kind: 'drop' });
    const err = await failure(client.send(otp));
    expect(err).toMatchObject({ code: 'MESSAGGIO_NETWORK', retryable: true, status: undefined });
    expect(fake.requests[0]?.response).toBe('dropped');
  });

  it('turns a refused connection into retryable MESSAGGIO_NETWORK naming the host', async () => {
    const closedPort = await freePort();
    const nowhere = createMessaggioClient({ baseUrl: `http://127.0.0.1:${closedPort}/api/v1`, login: LOGIN });
    const err = await failure(nowhere.send(otp));
    expect(err).toMatchObject({ code: 'MESSAGGIO_NETWORK', retryable: true });
    expect(err.message).toContain(`127.0.0.1:${closedPort}`);
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.message).not.toContain(LOGIN);
  });

  it('fails a refused connection at once, not at the timeout', async () => {
    // Port 1 on loopback refuses immediately. A client that waited for the full timeout
    // (as one over ky once did: its spare body copy never settled) would hang the test past
    // vitest's limit instead of returning MESSAGGIO_NETWORK.
    const refused = createMessaggioClient({
      baseUrl: 'http://127.0.0.1:1/api/v1',
      login: LOGIN,
      timeoutMs: 60_000,
    });
    const err = await failure(refused.send(otp));
    expect(err).toMatchObject({ code: 'MESSAGGIO_NETWORK', retryable: true });
    await expect(refused.probe()).rejects.toMatchObject({ code: 'MESSAGGIO_NETWORK' });
  });

  it('rejects with the caller’s abort reason, not a MessaggioError, when the caller aborts', async () => {
    fake.failNext(1, { kind: 'hang' });
    const controller = new AbortController();
    const reason = new Error('job cancelled');
    const pending = client.send(otp, { signal: controller.signal });
    await fake.waitForRequests(1);
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
  });

  it('calls a 200 whose body is not a send result MESSAGGIO_BAD_RESPONSE, retryable', async () => {
    const fetchStub = answering(
      () => new Response('{"ok":true}', { status: 200, headers: { 'Content-Type': 'application/json' } }),
    );
    const odd = createMessaggioClient({
      baseUrl: 'https://msg.example/api/v1',
      login: LOGIN,
      fetch: fetchStub,
    });
    const err = await failure(odd.send(otp));
    expect(err).toMatchObject({ code: 'MESSAGGIO_BAD_RESPONSE', retryable: true, status: 200 });
  });

  it('calls a 200 with an HTML body MESSAGGIO_BAD_RESPONSE too', async () => {
    const fetchStub = answering(() => new Response('<html>captive portal</html>', { status: 200 }));
    const odd = createMessaggioClient({
      baseUrl: 'https://msg.example/api/v1',
      login: LOGIN,
      fetch: fetchStub,
    });
    const err = await failure(odd.send(otp));
    expect(err).toMatchObject({ code: 'MESSAGGIO_BAD_RESPONSE', retryable: true });
    expect(err.message).toContain('not JSON');
  });

  it('does not hang when an injected fetch fails without reading the body', async () => {
    const failingFetch: typeof fetch = async () => {
      throw new TypeError('fetch failed', {
        cause: Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }),
      });
    };
    const unlucky = createMessaggioClient({
      baseUrl: 'https://msg.example/api/v1',
      login: LOGIN,
      fetch: failingFetch,
    });
    const err = await failure(unlucky.send(otp));
    expect(err).toMatchObject({ code: 'MESSAGGIO_NETWORK', retryable: true });
    expect(err.message).toBe(
      'Could not reach Messaggio at https://msg.example for POST /send: ENOTFOUND (getaddrinfo ENOTFOUND).',
    );
  });
});

describe('probe', () => {
  it('reports a 422 with title and detail when the login is accepted', async () => {
    const result = await client.probe();
    expect(result.status).toBe(422);
    expect(result.title).toBe('Validation Failed');
    expect(result.detail).toContain('recipients');
    expect(JSON.parse(fake.requests[0]?.rawBody ?? '')).toStrictEqual({});
    expect(fake.requests[0]?.path).toBe('/api/v1/send');
  });

  it('reports a 403 when the login is rejected', async () => {
    const stranger = createMessaggioClient({ baseUrl: fake.baseUrl, login: 'not-a-known-login' });
    const result = await stranger.probe();
    expect(result).toEqual({ status: 403, title: 'Forbidden', detail: expect.any(String) });
  });

  it('throws MESSAGGIO_TIMEOUT when Messaggio does not answer', async () => {
    const impatient = createMessaggioClient({ baseUrl: fake.baseUrl, login: LOGIN, timeoutMs: 200 });
    fake.failNext(1, { kind: 'hang' });
    const err = await failure(impatient.probe());
    expect(err).toMatchObject({ code: 'MESSAGGIO_TIMEOUT', retryable: true });
  });
});

describe('createMessaggioClient', () => {
  it.each([
    ['an empty login', { baseUrl: 'https://msg.example/api/v1', login: '' }],
    ['a base URL that is not a URL', { baseUrl: 'msg.example', login: LOGIN }],
    ['a zero timeout', { baseUrl: 'https://msg.example/api/v1', login: LOGIN, timeoutMs: 0 }],
  ])('refuses %s', (_label, options) => {
    expect(() => createMessaggioClient(options)).toThrow(TypeError);
  });
});
