import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeliveryReportOptions } from './fake-delivery-reports.js';
import { createFakeMessaggio, type FakeMessaggio, type FakeMessaggioOptions } from './fake-server.js';

const LOGIN = 'test-login';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MESSAGGIO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z$/;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

async function startFake(options?: FakeMessaggioOptions): Promise<FakeMessaggio> {
  const fake = await createFakeMessaggio(options);
  cleanups.push(() => fake.close());
  return fake;
}

interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

async function post(
  fake: FakeMessaggio,
  path: string,
  body: unknown,
  headers: Record<string, string> = { 'Messaggio-Login': LOGIN },
): Promise<Answer> {
  const response = await fetch(`${fake.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

const validBody = () => ({
  recipients: [{ phone: '77088043414' }],
  channels: ['sms'],
  options: { ttl: 300, external_id: 'ver-1' },
  sms: { from: 'OTPSENDER', content: [{ type: 'text', text: 'Your code: 123456' }] },
});

describe('POST /api/v1/send: request validation', () => {
  const without = <K extends keyof ReturnType<typeof validBody>>(key: K) => {
    const body: Partial<ReturnType<typeof validBody>> = validBody();
    delete body[key];
    return body;
  };

  const cases: [
    label: string,
    body: unknown,
    headers: Record<string, string> | undefined,
    status: number,
    detail: RegExp,
  ][] = [
    ['a missing Messaggio-Login', validBody(), {}, 403, /missing/],
    ['an unknown Messaggio-Login', validBody(), { 'Messaggio-Login': 'who-dis' }, 403, /not a known/],
    ['malformed JSON', '{"recipients": [', undefined, 400, /not valid JSON/],
    ['a JSON array body', '[]', undefined, 400, /JSON object/],
    ['missing recipients', without('recipients'), undefined, 422, /recipients/],
    ['empty recipients', { ...validBody(), recipients: [] }, undefined, 422, /recipients/],
    ['missing channels', without('channels'), undefined, 422, /channels/],
    ['empty channels', { ...validBody(), channels: [] }, undefined, 422, /channels/],
    [
      'a listed channel without a block',
      { ...validBody(), channels: ['sms', 'viber'] },
      undefined,
      422,
      /viber block/,
    ],
    ['an sms channel without an sms block', without('sms'), undefined, 422, /sms block/],
    [
      'a missing sms.from',
      { ...validBody(), sms: { content: [{ type: 'text', text: 'x' }] } },
      undefined,
      422,
      /sms\.from/,
    ],
    [
      'an empty sms.content',
      { ...validBody(), sms: { from: 'OTPSENDER', content: [] } },
      undefined,
      422,
      /sms\.content/,
    ],
    ['a fractional options.ttl', { ...validBody(), options: { ttl: 1.5 } }, undefined, 422, /options\.ttl/],
    ['a string options.ttl', { ...validBody(), options: { ttl: '300' } }, undefined, 422, /options\.ttl/],
  ];

  it.each(cases)(
    'answers %s with the right status and {title, detail}',
    async (_label, body, headers, status, detail) => {
      const fake = await startFake();
      const answer = await post(fake, '/send', body, headers ?? { 'Messaggio-Login': LOGIN });
      expect(answer.status).toBe(status);
      expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
      expect(answer.body).toEqual({ title: expect.any(String), detail: expect.stringMatching(detail) });
      expect(fake.sent).toHaveLength(0);
      expect(fake.requests).toHaveLength(1);
      expect(fake.requests[0]?.response).toEqual({ status, body: answer.body });
    },
  );

  it('answers 200 with one entry per recipient, in order, fresh UUIDs, and per-recipient errors for bad phones', async () => {
    const fake = await startFake();
    const phones = [
      '77088043414',
      '+77011234567',
      '79161234567',
      '123456789',
      '1234567890123456',
      '123456789012345',
    ];
    const answer = await post(fake, '/send', {
      ...validBody(),
      recipients: phones.map((phone) => ({ phone })),
    });

    expect(answer.status).toBe(200);
    const body = answer.body as { accepted_at: string; messages: Record<string, unknown>[] };
    expect(body.accepted_at).toMatch(MESSAGGIO_TIMESTAMP);
    expect(body.messages.map((entry) => (entry.recipient as { phone: string }).phone)).toEqual(phones);
    const invalid = { error: { title: 'Invalid phone number', detail: expect.any(String) } };
    expect(body.messages).toEqual([
      { recipient: { phone: phones[0] }, message_id: expect.stringMatching(UUID) },
      { recipient: { phone: phones[1] }, ...invalid },
      { recipient: { phone: phones[2] }, message_id: expect.stringMatching(UUID) },
      { recipient: { phone: phones[3] }, ...invalid },
      { recipient: { phone: phones[4] }, ...invalid },
      { recipient: { phone: phones[5] }, message_id: expect.stringMatching(UUID) },
    ]);
    const ids = body.messages.flatMap((entry) => (entry.message_id ? [entry.message_id] : []));
    expect(new Set(ids).size).toBe(3);
    expect(fake.sent).toEqual(
      [phones[0], phones[2], phones[5]].map((phone, index) => ({
        phone,
        text: 'Your code: 123456',
        sender: 'OTPSENDER',
        externalId: 'ver-1',
        ttl: 300,
        messageId: ids[index],
      })),
    );
  });

  it('rejects a sender outside the approved list with a 400 naming it, and accepts an approved one', async () => {
    const fake = await startFake({ senders: ['APPROVED'] });
    const refused = await post(fake, '/send', validBody());
    expect(refused.status).toBe(400);
    expect(refused.body).toEqual({ title: expect.stringContaining('OTPSENDER'), detail: expect.any(String) });

    const body = validBody();
    body.sms.from = 'APPROVED';
    expect((await post(fake, '/send', body)).status).toBe(200);
    expect(fake.sent.map((message) => message.sender)).toEqual(['APPROVED']);
  });

  it('accepts any of several configured logins', async () => {
    const fake = await startFake({ logins: ['one', 'two'] });
    expect((await post(fake, '/send', validBody(), { 'Messaggio-Login': 'two' })).status).toBe(200);
    expect((await post(fake, '/send', validBody(), { 'Messaggio-Login': LOGIN })).status).toBe(403);
  });
});

describe('routing', () => {
  it('answers an unknown path with a JSON 404', async () => {
    const fake = await startFake();
    const answer = await post(fake, '/status/abc', {});
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual({ title: 'Not Found', detail: 'No route for POST /api/v1/status/abc.' });
  });

  it('answers GET /send with a 405 and records it', async () => {
    const fake = await startFake();
    const response = await fetch(`${fake.baseUrl}/send`);
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
    await response.arrayBuffer();
    expect(fake.requests.map((request) => [request.method, request.path])).toEqual([['GET', '/api/v1/send']]);
  });

  it('answers the status poll for known message ids in the nested form', async () => {
    const fake = await startFake();
    const sent = await post(fake, '/send', validBody());
    const messageId = (sent.body as { messages: { message_id: string }[] }).messages[0]?.message_id;
    const answer = await post(fake, '/statuses', { message_ids: [messageId, 'unknown-id'] });
    expect(answer).toMatchObject({
      status: 200,
      body: {
        statuses: [
          {
            message_id: messageId,
            external_id: 'ver-1',
            status: { status: 200, channel: 'sms', recipient: { phone: '77088043414' } },
          },
        ],
      },
    });
    expect((await post(fake, '/statuses', { message_ids: [] })).status).toBe(422);
    expect((await post(fake, '/statuses', { message_ids: [messageId] }, {})).status).toBe(403);
  });
});

describe('switches', () => {
  it('failNext answers the next N sends that way, then goes back to normal', async () => {
    const fake = await startFake();
    fake.failNext(2, { kind: 'status', status: 503, retryAfterSeconds: 3 });
    const first = await post(fake, '/send', validBody());
    const second = await post(fake, '/send', validBody());
    const third = await post(fake, '/send', validBody());
    expect([first.status, second.status, third.status]).toEqual([503, 503, 200]);
    expect(first.headers.get('retry-after')).toBe('3');
    expect(first.body).toEqual({ title: 'Service Unavailable', detail: expect.any(String) });
    expect(fake.sent).toHaveLength(1);
  });

  it('setMode applies to every send until reset()', async () => {
    const fake = await startFake();
    fake.setMode({ kind: 'status', status: 500, title: 'Internal', detail: 'boom' });
    expect((await post(fake, '/send', validBody())).body).toEqual({ title: 'Internal', detail: 'boom' });
    expect((await post(fake, '/send', validBody())).status).toBe(500);
    fake.reset();
    expect(fake.requests).toHaveLength(0);
    expect((await post(fake, '/send', validBody())).status).toBe(200);
  });

  it('reject-recipient answers 200 with the given error for every recipient', async () => {
    const fake = await startFake();
    fake.failNext(1, { kind: 'reject-recipient', title: 'Blocked', detail: 'Recipient is on the stop list' });
    const answer = await post(fake, '/send', validBody());
    expect(answer.status).toBe(200);
    expect((answer.body as { messages: unknown[] }).messages).toEqual([
      {
        recipient: { phone: '77088043414' },
        error: { title: 'Blocked', detail: 'Recipient is on the stop list' },
      },
    ]);
    expect(fake.sent).toHaveLength(0);
  });

  it('reject-sender answers a 400 naming the sender', async () => {
    const fake = await startFake();
    fake.failNext(1, { kind: 'reject-sender' });
    const answer = await post(fake, '/send', validBody());
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ title: 'Sender "OTPSENDER" is not approved', detail: expect.any(String) });
  });

  it('drop destroys the socket without an answer, and records it', async () => {
    const fake = await startFake();
    fake.failNext(1, { kind: 'drop' });
    await expect(post(fake, '/send', validBody())).rejects.toThrow(TypeError);
    expect(fake.requests[0]?.response).toBe('dropped');
    expect(fake.requests[0]?.body).toEqual(validBody());
  });

  it('setLatency delays every answer', async () => {
    const fake = await startFake();
    fake.setLatency(150);
    const started = performance.now();
    await post(fake, '/send', validBody());
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('waitForRequests counts requests, or accepted sends with acceptedOnly', async () => {
    const fake = await startFake();
    const anyTwo = fake.waitForRequests(2);
    const oneAccepted = fake.waitForRequests(1, { acceptedOnly: true });
    await post(fake, '/send', {});
    await post(fake, '/send', validBody());
    await expect(Promise.all([anyTwo, oneAccepted])).resolves.toBeDefined();
  });

  it('waitForRequests rejects with a clear message after its timeout', async () => {
    const fake = await startFake();
    await post(fake, '/send', {});
    await expect(fake.waitForRequests(2, { timeoutMs: 50, acceptedOnly: true })).rejects.toThrow(
      'Fake Messaggio: waited 50 ms for 2 accepted sends, got 0 (1 requests, 0 accepted).',
    );
  });

  it('waitForRequests rejects at once when the fake closes under it', async () => {
    const fake = await startFake();
    const waiting = fake.waitForRequests(1, { timeoutMs: 10_000 });
    await fake.close();
    await expect(waiting).rejects.toThrow(/closed/);
  });
});

interface Receiver {
  url: string;
  /** Every POST body received, in order, with the status it was answered with. */
  received: { body: Record<string, unknown>; answeredWith: number }[];
  waitFor(n: number, timeoutMs?: number): Promise<void>;
}

/** A little DLR receiver that answers each POST with the next queued status, then 200. */
async function startReceiver(answers: number[] = []): Promise<Receiver> {
  const received: Receiver['received'] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const answeredWith = answers.shift() ?? 200;
      received.push({ body: JSON.parse(Buffer.concat(chunks).toString('utf8')), answeredWith });
      res.writeHead(answeredWith).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks/messaggio/secret`,
    received,
    async waitFor(n, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < n) {
        if (Date.now() > deadline) throw new Error(`receiver got ${received.length} reports, wanted ${n}`);
        await sleep(10);
      }
    },
  };
}

async function sendWithCallback(
  deliveryReports: DeliveryReportOptions,
  receiver: Receiver,
  phone = '77088043414',
): Promise<{ fake: FakeMessaggio; messageId: string }> {
  const fake = await startFake({ deliveryReports: { delayMs: 5, retryDelayMs: 10, ...deliveryReports } });
  const body = validBody();
  body.recipients = [{ phone }];
  const answer = await post(fake, '/send', {
    ...body,
    options: { ...body.options, dlr_callback_url: receiver.url },
  });
  const messageId = (answer.body as { messages: { message_id: string }[] }).messages[0]?.message_id ?? '';
  return { fake, messageId };
}

const statuses = (receiver: Receiver) => receiver.received.map(({ body }) => body.status);

describe('delivery reports', () => {
  it('POSTs 200, 100, then 70 in order in the webhook form', async () => {
    const receiver = await startReceiver();
    const { messageId } = await sendWithCallback({}, receiver);
    await receiver.waitFor(3);
    await sleep(50);
    expect(statuses(receiver)).toEqual([200, 100, 70]);
    for (const { body } of receiver.received) {
      expect(body).toEqual({
        type: 'status',
        message_id: messageId,
        external_id: 'ver-1',
        channel: 'sms',
        status: body.status,
        timestamp: expect.stringMatching(MESSAGGIO_TIMESTAMP),
      });
    }
  });

  it('ends with 60 for a phone listed as undeliverable (a + in the list is tolerated)', async () => {
    const receiver = await startReceiver();
    await sendWithCallback({ undeliverable: ['+77088043414'] }, receiver);
    await receiver.waitFor(3);
    expect(statuses(receiver)).toEqual([200, 100, 60]);
  });

  it('re-sends a report the receiver answered with 500 until it gets a 200', async () => {
    const receiver = await startReceiver([500]);
    await sendWithCallback({}, receiver);
    await receiver.waitFor(4);
    expect(receiver.received.map(({ body, answeredWith }) => [body.status, answeredWith])).toEqual([
      [200, 500],
      [200, 200],
      [100, 200],
      [70, 200],
    ]);
  });

  it('gives up on a report after maxAttempts and moves on', async () => {
    const receiver = await startReceiver([500, 500, 500]);
    await sendWithCallback({ maxAttempts: 2 }, receiver);
    await receiver.waitFor(5);
    expect(receiver.received.map(({ body, answeredWith }) => [body.status, answeredWith])).toEqual([
      [200, 500],
      [200, 500],
      [100, 500],
      [100, 200],
      [70, 200],
    ]);
  });

  it('with duplicate, sends every report twice', async () => {
    const receiver = await startReceiver();
    await sendWithCallback({ duplicate: true }, receiver);
    await receiver.waitFor(6);
    expect(statuses(receiver)).toEqual([200, 200, 100, 100, 70, 70]);
  });

  it('with outOfOrder, sends the final status first', async () => {
    const receiver = await startReceiver();
    await sendWithCallback({ outOfOrder: true }, receiver);
    await receiver.waitFor(3);
    expect(statuses(receiver)).toEqual([70, 100, 200]);
  });

  it('with shape poll, nests the status with channel and recipient', async () => {
    const receiver = await startReceiver();
    const { messageId } = await sendWithCallback({ shape: 'poll' }, receiver);
    await receiver.waitFor(3);
    expect(receiver.received[2]?.body).toEqual({
      message_id: messageId,
      external_id: 'ver-1',
      status: { status: 70, channel: 'sms', recipient: { phone: '77088043414' } },
      timestamp: expect.stringMatching(MESSAGGIO_TIMESTAMP),
    });
  });

  it('lets the status poll see the furthest status, even when reports came out of order', async () => {
    const receiver = await startReceiver();
    const { fake, messageId } = await sendWithCallback({ outOfOrder: true }, receiver);
    await receiver.waitFor(3);
    const answer = await post(fake, '/statuses', { message_ids: [messageId] });
    expect(answer.body).toMatchObject({ statuses: [{ status: { status: 70 } }] });
  });

  it('sends nothing when delivery reports are off', async () => {
    const receiver = await startReceiver();
    const fake = await startFake();
    await post(fake, '/send', { ...validBody(), options: { dlr_callback_url: receiver.url } });
    await sleep(150);
    expect(receiver.received).toHaveLength(0);
  });

  it('stops re-sending once closed', async () => {
    const receiver = await startReceiver(Array.from({ length: 100 }, () => 500));
    const { fake } = await sendWithCallback({ retryDelayMs: 20, maxAttempts: 100 }, receiver);
    await receiver.waitFor(2);
    await fake.close();
    const afterClose = receiver.received.length;
    await sleep(100);
    expect(receiver.received.length).toBe(afterClose);
  });
});

describe('close', () => {
  const tcpHandles = () =>
    process.getActiveResourcesInfo().filter((kind) => kind === 'TCPSocketWrap' || kind === 'TCPServerWrap')
      .length;

  async function settlesTo(baseline: number): Promise<number> {
    const deadline = Date.now() + 2000;
    while (tcpHandles() > baseline && Date.now() < deadline) await sleep(10);
    return tcpHandles();
  }

  it('resolves with a hung request pending, ends that request, and leaves no open handles', async () => {
    const baseline = tcpHandles();
    const fake = await startFake();
    fake.setMode({ kind: 'hang' });

    const hung = new Promise<string>((resolve) => {
      const req = httpRequest(`${fake.baseUrl}/send`, {
        method: 'POST',
        agent: false,
        headers: { 'Content-Type': 'application/json', 'Messaggio-Login': LOGIN },
      });
      req.on('response', () => resolve('answered'));
      req.on('error', (err) => resolve(err.message));
      req.end(JSON.stringify(validBody()));
    });
    await fake.waitForRequests(1);
    expect(fake.requests[0]?.response).toBe('hung');
    expect(tcpHandles()).toBeGreaterThan(baseline);

    await fake.close();
    await expect(hung).resolves.toBe('socket hang up');
    expect(await settlesTo(baseline)).toBeLessThanOrEqual(baseline);
    await expect(fetch(`${fake.baseUrl}/send`, { method: 'POST' })).rejects.toThrow(TypeError);
  });

  it('is idempotent', async () => {
    const fake = await startFake();
    const first = fake.close();
    const second = fake.close();
    expect(second).toBe(first);
    await Promise.all([first, second]);
    await expect(fake.close()).resolves.toBeUndefined();
  });

  it('ends a request that is still waiting out its latency', async () => {
    const fake = await startFake();
    fake.setLatency(10_000);
    const pending = fetch(`${fake.baseUrl}/send`, { method: 'POST', body: '{}' });
    await sleep(50);
    await fake.close();
    await expect(pending).rejects.toThrow(TypeError);
  });
});
