// HTTP plumbing the providers' fake servers (and their command-line entries) share: the
// fakes differ in wire format and failure modes, never in how they read a body, answer,
// let go of sockets or stop on a signal.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** A fake's request body limit: far above any real SMS request. */
export const FAKE_MAX_BODY_BYTES = 1024 * 1024;

export class BodyTooLargeError extends Error {}

/** Reads a request body as UTF-8; rejects past `maxBytes` or when the client leaves mid-body. */
export function readBody(req: IncomingMessage, maxBytes = FAKE_MAX_BODY_BYTES): Promise<string> {
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
export function sendJson(res: ServerResponse, answer: JsonAnswer): void {
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
export function trackSockets(server: Server): { destroyAll(): void } {
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
