import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpClient, type HttpClient, withDeadline } from './http.js';

interface CountingServer {
  origin: string;
  /** Connections accepted so far. */
  accepted: number;
  /** Connections still open. */
  open: Set<Socket>;
  /** Most requests in progress at once. */
  peakInFlight: number;
  /** Resolves once no connection is open. */
  allClosed(): Promise<void>;
  close(): Promise<void>;
}

/** An HTTP server that counts connections and answers each POST on the next turn of the loop. */
async function countingServer(
  answer: (req: IncomingMessage, res: ServerResponse, body: string) => void = (_req, res, body) =>
    res.end(body),
): Promise<CountingServer> {
  let inFlight = 0;
  const closed: Array<() => void> = [];
  const server: Server = createServer((req, res) => {
    inFlight++;
    state.peakInFlight = Math.max(state.peakInFlight, inFlight);
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () =>
      setImmediate(() => {
        inFlight--;
        answer(req, res, body);
      }),
    );
  });
  server.on('connection', (socket) => {
    state.accepted++;
    state.open.add(socket);
    socket.on('close', () => {
      state.open.delete(socket);
      if (state.open.size === 0) for (const resolve of closed.splice(0)) resolve();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const state: CountingServer = {
    origin: `http://127.0.0.1:${port}`,
    accepted: 0,
    open: new Set(),
    peakInFlight: 0,
    allClosed: () =>
      state.open.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => closed.push(resolve)),
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return state;
}

const servers: CountingServer[] = [];
const clients: HttpClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function setUp(connections: number, answer?: Parameters<typeof countingServer>[0]) {
  const server = await countingServer(answer);
  servers.push(server);
  const client = createHttpClient({ origin: server.origin, connections });
  clients.push(client);
  return { server, client };
}

const post = (client: HttpClient, body: string, signal = new AbortController().signal) =>
  client.post('/send', { headers: { 'content-type': 'text/plain' }, body, signal });

describe('createHttpClient: the connection pool', () => {
  it('sends over at most `connections` keep-alive connections, reused call after call', async () => {
    const { server, client } = await setUp(3);
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all(
        Array.from({ length: 12 }, (_, i) => post(client, `sms ${round}-${i}`)),
      );
      expect(answers.map((a) => a.text)).toEqual(Array.from({ length: 12 }, (_, i) => `sms ${round}-${i}`));
    }
    expect(server.accepted).toBe(3);
    expect(server.peakInFlight).toBeLessThanOrEqual(3);
  });

  it('close() closes every connection it opened', async () => {
    const { server, client } = await setUp(4);
    await Promise.all(Array.from({ length: 8 }, (_, i) => post(client, `sms ${i}`)));
    expect(server.open.size).toBeGreaterThan(0);
    await client.close();
    await server.allClosed();
    expect(server.open.size).toBe(0);
  });

  it('returns the status, Retry-After and the whole body of an error answer', async () => {
    const { client } = await setUp(1, (_req, res) => {
      res.writeHead(429, { 'retry-after': '7', 'content-type': 'application/json' });
      res.end('{"title":"slow down"}');
    });
    await expect(post(client, 'x')).resolves.toEqual({
      status: 429,
      retryAfter: '7',
      text: '{"title":"slow down"}',
    });
  });

  it('rejects with the abort reason when the signal aborts mid-answer (a stalled body)', async () => {
    const controller = new AbortController();
    const reason = new Error('deadline');
    const { client } = await setUp(1, (_req, res) => {
      res.writeHead(200);
      // Part of the body, then nothing more until the caller gives up.
      res.write('{"partial":', () => controller.abort(reason));
    });
    await expect(post(client, 'x', controller.signal)).rejects.toBe(reason);
  });

  it('refuses a connection count that is not a positive whole number', () => {
    for (const connections of [0, -1, 1.5, Number.NaN]) {
      expect(() => createHttpClient({ origin: 'http://127.0.0.1:1', connections })).toThrow(TypeError);
    }
  });
});

describe('withDeadline', () => {
  it('aborts at the deadline and says so; done() stops the timer', async () => {
    const deadline = withDeadline(undefined, 20);
    expect(deadline.signal.aborted).toBe(false);
    await new Promise((resolve) => deadline.signal.addEventListener('abort', resolve, { once: true }));
    expect(deadline.expired).toBe(true);
    expect((deadline.signal.reason as Error).name).toBe('TimeoutError');
    const stopped = withDeadline(undefined, 20);
    stopped.done();
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(stopped.signal.aborted).toBe(false);
  });

  it("follows the caller's signal, with its reason, without counting as expired; done() lets go of it", () => {
    const caller = new AbortController();
    const deadline = withDeadline(caller.signal, 10_000);
    const reason = new Error('shutdown');
    caller.abort(reason);
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.signal.reason).toBe(reason);
    expect(deadline.expired).toBe(false);
    deadline.done();

    const already = withDeadline(AbortSignal.abort(reason), 10_000);
    expect(already.signal.reason).toBe(reason);
    already.done();

    const later = new AbortController();
    const finished = withDeadline(later.signal, 10_000);
    finished.done();
    later.abort();
    expect(finished.signal.aborted).toBe(false);
  });
});
