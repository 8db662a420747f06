// HTTP plumbing the providers' fake servers (and their command-line entries) share: the
// fakes differ in wire format and failure modes, never in how they read a body, answer,
// let go of sockets or stop on a signal.
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** A fake's request body limit: far above any real SMS request. */
const FAKE_MAX_BODY_BYTES = 1024 * 1024;

class BodyTooLargeError extends Error {}

/** Reads a request body as UTF-8; rejects past `maxBytes` or when the client leaves mid-body. */
function readBody(req: IncomingMessage, maxBytes = FAKE_MAX_BODY_BYTES): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        reject(new BodyTooLargeError(`The body is larger than ${maxBytes} bytes.`));
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
    req.once('close', () => {
      if (!req.complete) reject(new Error('The client went away mid-body.'));
    });
  });
}

export interface JsonAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** Answers with JSON, unless the socket is gone or an answer already went out. */
function sendJson(res: ServerResponse, answer: JsonAnswer): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(answer.status, { 'Content-Type': 'application/json; charset=utf-8', ...answer.headers });
  res.end(JSON.stringify(answer.body));
}

/** The body as JSON, or undefined when it is empty or not JSON (the fake then says why). */
export function parseJsonOrUndefined(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Keeps the server's open sockets, so close() can destroy them: hung requests and idle
 * keep-alive sockets would otherwise hold server.close() open.
 */
function trackSockets(server: Server): { destroyAll(): void } {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return {
    destroyAll() {
      for (const socket of sockets) socket.destroy();
    },
  };
}

/** What a fake does with a request: answer it, drop the connection, or never answer. */
export type FakeOutcome = JsonAnswer | 'dropped' | 'hung';

/** A request as every fake records it, before its own parsing of the body. */
export interface FakeRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
  receivedAt: Date;
}

export interface FakeHttpServerOptions {
  host: string;
  /** @defaultValue 0 (any free port) */
  port?: number | undefined;
  /** Read per request: how long to hold it before answering (the fake's setLatency). */
  latencyMs: () => number;
  /** Aborted when the fake closes: held requests then lose their socket. */
  closing: AbortSignal;
  /** The fake's own answer to a body over the limit (its wire format's 413). */
  tooLarge: (message: string) => JsonAnswer;
  /** Records and routes one request; the server then answers, drops or hangs it. */
  answer: (request: FakeRequest) => FakeOutcome;
  /** Called once the outcome is carried out (waiters of the fake). */
  answered?: () => void;
}

/**
 * The HTTP side every fake provider shares: body limit, latency, answer / drop / hang, and a
 * close that does not wait for hung or idle keep-alive sockets. The fake supplies the wire
 * format (`tooLarge`, `answer`). Resolves once it listens.
 */
export async function startFakeHttpServer(
  options: FakeHttpServerOptions,
): Promise<{ port: number; urlHost: string; close(): Promise<void> }> {
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = new Date();
    let rawBody: string;
    try {
      rawBody = await readBody(req);
    } catch (err) {
      if (err instanceof BodyTooLargeError) sendJson(res, options.tooLarge(err.message));
      return;
    }
    const latencyMs = options.latencyMs();
    if (latencyMs > 0) {
      try {
        await sleep(latencyMs, undefined, { signal: options.closing });
      } catch {
        req.socket.destroy();
        return;
      }
    }
    const outcome = options.answer({
      method: req.method ?? 'GET',
      path: new URL(req.url ?? '/', 'http://fake').pathname,
      headers: { ...req.headers },
      rawBody,
      receivedAt,
    });
    if (outcome === 'dropped') req.socket.destroy();
    else if (outcome !== 'hung') sendJson(res, outcome);
    options.answered?.();
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      // Only a socket that died mid-answer gets here; there is nobody left to tell.
      req.socket.destroy();
    });
  });
  const sockets = trackSockets(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    urlHost: options.host.includes(':') ? `[${options.host}]` : options.host,
    close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      sockets.destroyAll();
      return closed;
    },
  };
}

/** A comma-separated variable as a list; undefined when unset or blank. */
export function listFromEnv(raw: string | undefined): string[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/**
 * For a fake's command-line entry: closes it on SIGINT or SIGTERM, under a deadline that
 * only guards against a bug in close() (it destroys hung sockets itself).
 */
export function closeOnSignals(name: string, close: () => Promise<void>, deadlineMs = 5000): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal} received, closing the ${name}\n`);
    const deadline = setTimeout(() => {
      console.error(`${name} did not close within ${deadlineMs} ms; exiting anyway.`);
      process.exit(1);
    }, deadlineMs);
    close().then(
      () => clearTimeout(deadline),
      (err: unknown) => {
        clearTimeout(deadline);
        console.error(`${name} failed to close:`, err);
        process.exitCode = 1;
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/**
 * For a fake's command-line entry: one line that says what to do, not a stack; the usual
 * cause is a fake already running on the port.
 */
export function reportStartFailure(name: string, portVariable: string, err: unknown): void {
  const { code, address, port } = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (code === 'EADDRINUSE') {
    console.error(
      `${name} failed to start: ${address}:${port} is already in use (another ${name.charAt(0).toLowerCase()}${name.slice(1)}?); stop it or set ${portVariable}.`,
    );
  } else {
    console.error(`${name} failed to start: ${err instanceof Error ? err.message : String(err)}`);
  }
  process.exitCode = 1;
}
