import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startEnvironment } from '../scripts/start-env.mjs';
import { killEntryProcesses, startEntry } from './entry-process.js';
import { connectTestRedis, deleteKeys, testRedisUrl, uniquePrefix } from './redis.js';

// What a new user meets in the first minutes: .env read by the package scripts, the mode
// `pnpm start` picks, and one plain line (not a stack) when a port is taken.
const root = join(import.meta.dirname, '..');
afterEach(killEntryProcesses);

const used: string[] = [];
afterAll(async () => {
  const redis = connectTestRedis();
  await deleteKeys(redis, ...used);
  await redis.quit();
});

function isolatedEnv(): Record<string, string> {
  const prefix = uniquePrefix('first');
  const queue = prefix.replaceAll(':', '-').replace(/-$/, '');
  used.push(prefix, `bull:${queue}:`);
  return {
    REDIS_URL: testRedisUrl(),
    REDIS_KEY_PREFIX: prefix,
    QUEUE_NAME: queue,
    NODE_ENV: 'development',
    OTP_DEBUG: 'true',
  };
}

/** A port something else already holds, for as long as the test runs. */
async function takenPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('no address');
  return { port: address.port, server };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('package scripts read .env', () => {
  const scripts = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts as Record<
    string,
    string
  >;

  it.each(['start', 'start:api', 'start:worker', 'messaggio:check', 'fake-messaggio'])(
    '%s loads ./.env before its entry',
    (name) => {
      expect(scripts[name]).toMatch(/node --import \.\/scripts\/load-env\.mjs \S+\.(m?js)$/);
    },
  );

  const loadEnv = join(root, 'scripts/load-env.mjs');
  function printVar(cwd: string, env: Record<string, string>) {
    return spawnSync(
      process.execPath,
      ['--import', loadEnv, '-e', 'console.log(process.env.FIRST_RUN_VAR ?? "unset")'],
      {
        cwd,
        env: { PATH: process.env.PATH ?? '', ...env },
        encoding: 'utf8',
      },
    );
  }

  it('reads the file when present, the environment winning, and says nothing when absent', () => {
    const dir = mkdtempSync(join(tmpdir(), 'first-run-'));
    try {
      const absent = printVar(dir, {});
      expect(absent.stdout.trim()).toBe('unset');
      expect(absent.stderr).toBe('');
      writeFileSync(join(dir, '.env'), 'FIRST_RUN_VAR=from-file\n');
      expect(printVar(dir, {}).stdout.trim()).toBe('from-file');
      expect(printVar(dir, { FIRST_RUN_VAR: 'from-env' }).stdout.trim()).toBe('from-env');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('pnpm start picks the mode', () => {
  it('turns on debug mode (OTP_DEBUG=true) for the children when no provider is configured, and says so', () => {
    const start = startEnvironment({});
    expect(start.debug).toBe(true);
    expect(start.env.OTP_DEBUG).toBe('true');
    expect(start.lines.join('\n')).toMatch(/debug mode \(OTP_DEBUG=true\)/);
    expect(start.lines.join('\n')).toMatch(/per-IP limits do not apply/);
  });

  it.each([
    ['a Messaggio key is set', { MESSAGGIO_API_KEY: 'login' }],
    ['a Twilio token is set', { TWILIO_AUTH_TOKEN: 'twilio-token' }],
    ['OTP_DEBUG is set explicitly', { OTP_DEBUG: 'false' }],
    ['NODE_ENV is production', { NODE_ENV: 'production' }],
  ] as [string, Record<string, string>][])('leaves OTP_DEBUG alone when %s', (_label, env) => {
    const start = startEnvironment(env);
    expect(start.debug).toBe(false);
    expect(start.env.OTP_DEBUG).toBe(env.OTP_DEBUG);
    expect(start.lines.join('\n')).not.toMatch(/OTP_DEBUG=true/);
  });

  it('names a local fake Messaggio the worker sends to', () => {
    const start = startEnvironment({
      MESSAGGIO_API_KEY: 'login',
      MESSAGGIO_BASE_URL: 'http://127.0.0.1:4010/api/v1',
    });
    expect(start.lines.join('\n')).toContain('fake Messaggio at http://127.0.0.1:4010/api/v1');
  });
});

// Real processes from TypeScript source: slow to start on a busy machine.
describe('a busy port is one line naming the variable to set', { timeout: 60_000 }, () => {
  it('API: "port N is in use; set PORT", exit 1, no JSON, no stack', async () => {
    const { port, server } = await takenPort();
    try {
      const proc = startEntry('apps/api/src/server.ts', {
        ...isolatedEnv(),
        HOST: '127.0.0.1',
        PORT: String(port),
      });
      expect(await proc.exit()).toBe(1);
      const lines = proc
        .output()
        .split('\n')
        .filter((line) => line.trim() !== '' && !line.includes('"level":40'));
      expect(lines).toEqual([`otp-api: port ${port} is in use; set PORT`]);
    } finally {
      await closeServer(server);
    }
  });

  it('fake Messaggio: one line naming the address in use and FAKE_MESSAGGIO_PORT, exit 1', async () => {
    const { port, server } = await takenPort();
    try {
      const proc = startEntry('packages/messaggio/src/bin/fake-messaggio.ts', {
        FAKE_MESSAGGIO_PORT: String(port),
      });
      expect(await proc.exit()).toBe(1);
      expect(proc.output().trim()).toBe(
        `Fake Messaggio failed to start: 127.0.0.1:${port} is already in use (another fake Messaggio?); stop it or set FAKE_MESSAGGIO_PORT.`,
      );
    } finally {
      await closeServer(server);
    }
  });

  it('worker: METRICS_PORT taken is one error line naming METRICS_PORT; the worker keeps sending', async () => {
    const { port, server } = await takenPort();
    try {
      const proc = startEntry('apps/worker/src/main.ts', {
        ...isolatedEnv(),
        METRICS_HOST: '127.0.0.1',
        METRICS_PORT: String(port),
      });
      await proc.waitFor('is in use', 45_000);
      await proc.waitFor('worker ready', 45_000);
      const line = proc
        .output()
        .split('\n')
        .find((l) => l.includes('is in use'));
      expect(JSON.parse(line ?? '{}')).toMatchObject({
        msg: `port ${port} is in use; set METRICS_PORT (metrics and health checks are off)`,
      });
      expect(line).not.toContain('stack');
      proc.child.kill('SIGTERM');
      expect(await proc.exit()).toBe(0);
    } finally {
      await closeServer(server);
    }
  });
});

describe('the API start-up line', { timeout: 60_000 }, () => {
  it('names the URLs and the mode (JSON when stdout is not a terminal)', async () => {
    const proc = startEntry('apps/api/src/server.ts', { ...isolatedEnv(), HOST: '127.0.0.1', PORT: '0' });
    await proc.waitFor('otp-api ready', 45_000);
    const line = proc
      .output()
      .split('\n')
      .find((l) => l.includes('otp-api ready'));
    const ready = JSON.parse(line ?? '{}');
    expect(ready.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(ready).toMatchObject({
      docs: `${ready.url}/docs`,
      mode: 'debug',
      loopbackExemptFromIpLimit: true,
    });
    expect(ready.bullBoard).toBeUndefined();
    proc.child.kill('SIGTERM');
    expect(await proc.exit()).toBe(0);
  });
});
