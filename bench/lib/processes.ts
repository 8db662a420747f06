// The processes the bench starts: each in its own process group (a terminal's Ctrl-C
// reaches only the bench, which then stops each child once), with only PATH and the env it
// is given, its output kept (bounded) for the error message should it die.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

const OUTPUT_KEPT = 16_384;
const STOP_GRACE_MS = 10_000;

export interface Child {
  name: string;
  process: ChildProcess;
  /** The last few KB of stdout and stderr. */
  output(): string;
  /** Peak resident set size so far (VmHWM), in bytes; the last value seen once it exited. */
  peakRss(): number | undefined;
  /** The next IPC message matching `test` (for children started with `ipc`). */
  message<T>(test: (message: T) => boolean, timeoutMs?: number): Promise<T>;
  /** SIGTERM, then SIGKILL after a grace period; resolves once it exited. Idempotent. */
  stop(): Promise<void>;
}

const running = new Set<Child>();

/** Reads VmHWM (peak RSS) from /proc; undefined where there is no /proc or the process is gone. */
export function readPeakRss(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function startChild(
  name: string,
  command: string,
  args: string[],
  env: Record<string, string>,
  options: { ipc?: boolean; cwd?: string } = {},
): Child {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_KEPT);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // VmHWM only grows; polling keeps the last value should the process exit unexpectedly.
  let peak: number | undefined;
  const poll = setInterval(() => {
    peak = readPeakRss(child.pid) ?? peak;
  }, 500);
  poll.unref();
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      clearInterval(poll);
      resolve();
    });
  });
  child.once('error', (err) => {
    output += `\n${err.message}`;
  });

  let stopping: Promise<void> | undefined;
  const handle: Child = {
    name,
    process: child,
    output: () => output,
    peakRss() {
      if (child.exitCode === null && child.signalCode === null) peak = readPeakRss(child.pid) ?? peak;
      return peak;
    },
    message<T>(test: (message: T) => boolean, timeoutMs = 30_000) {
      return new Promise<T>((resolve, reject) => {
        const onMessage = (message: T) => {
          if (!test(message)) return;
          cleanup();
          resolve(message);
        };
        const onExit = () => {
          cleanup();
          reject(new Error(`${name} exited (${child.exitCode ?? child.signalCode}); output:\n${output}`));
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${name}: no answer within ${timeoutMs} ms; output:\n${output}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          child.off('message', onMessage);
          child.off('exit', onExit);
        };
        child.on('message', onMessage);
        child.once('exit', onExit);
      });
    },
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          handle.peakRss();
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
          await exited;
          clearTimeout(timer);
        }
        running.delete(handle);
      })();
      return stopping;
    },
  };
  running.add(handle);
  return handle;
}

/** Stops every child still running; the first one started (Redis) last, after its clients. */
export async function stopAll(): Promise<void> {
  const [first, ...rest] = running;
  await Promise.all(rest.map((child) => child.stop()));
  await first?.stop();
}

/** Last resort when the bench exits without stopping them (a crash): no child outlives it. */
export function killAllNow(): void {
  for (const { process: child } of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/** Throws with the child's output when it has exited: a dead process measures nothing. */
export function assertAlive(child: Child): void {
  if (child.process.exitCode !== null || child.process.signalCode !== null) {
    throw new Error(
      `${child.name} exited (${child.process.exitCode ?? child.process.signalCode}); output:\n${child.output()}`,
    );
  }
}

/** A loopback port free right now (the OS picks it; a tiny race with other programs remains). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

/** Polls `check` every 50 ms until it resolves true; throws naming `what` after timeoutMs. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  child?: Child,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (child) assertAlive(child);
    if (await check().catch(() => false)) return;
    if (Date.now() > until) {
      throw new Error(`${what} within ${timeoutMs} ms${child ? `; output:\n${child.output()}` : ''}`);
    }
    await sleep(50);
  }
}

/** Resolves true once GET url answers 2xx. */
export async function answers(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
  await response.body?.cancel();
  return response.ok;
}

export interface PrivateRedis {
  child: Child;
  port: number;
  url: string;
  /** Its working directory (empty: no persistence), removed when it exits. */
  dir: string;
  /** A client for the bench's own use (pausing queues, flushing between runs). */
  client: Redis;
  /** Empties this private instance between runs, so each starts from the same state. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A redis-server of the bench's own on a free loopback port: no persistence, its working
 * directory a temp dir removed at the end. Never the shared Redis on 6379.
 */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'otp-bench-redis-'));
  const child = startChild(
    'redis-server',
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--daemonize',
      'no',
    ],
    {},
  );
  // However the bench ends (even Ctrl-C), the directory goes with the server.
  child.process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const url = `redis://127.0.0.1:${port}`;
  await waitUntil(
    'redis-server did not answer PING',
    async () => {
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => {});
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG';
      } finally {
        probe.disconnect();
      }
    },
    10_000,
    child,
  );
  const client = new Redis(url, { maxRetriesPerRequest: null });
  return {
    child,
    port,
    url,
    dir,
    client,
    async flush() {
      // This is the bench's own instance (started above on a port of its own), never a shared one.
      if ((client.options.port ?? 0) !== port || port === 6379) throw new Error('refusing to flush');
      await client.flushall();
    },
    async stop() {
      client.disconnect();
      await child.stop();
    },
  };
}

/** CPU time (user + system) a process has used so far, in seconds; undefined without /proc. */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // The command name (field 2) may hold spaces; the fields after its ')' are fixed.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}
