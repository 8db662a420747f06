import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { testRedisUrl, uniquePrefix } from './redis.js';

// The entry files run as real processes, from TypeScript source, as `pnpm start` runs
// their builds: signals, exit codes and start-up refusals only exist at this level.
const ENTRIES = { api: 'apps/api/src/server.ts', worker: 'apps/worker/src/main.ts' };
const children = new Set<ChildProcess>();

afterEach(() => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
});

function start(entry: keyof typeof ENTRIES, env: Record<string, string>) {
  // Only what the entry needs, so the developer's own .env or shell cannot leak in.
  const child = spawn(process.execPath, ['--conditions=@otp/source', '--import', 'tsx', ENTRIES[entry]], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  return {
    child,
    output: () => output,
    async waitFor(text: string, timeoutMs = 15_000): Promise<void> {
      const until = Date.now() + timeoutMs;
      while (!output.includes(text)) {
        if (Date.now() > until || child.exitCode !== null) {
          throw new Error(`"${text}" never appeared; output so far:\n${output}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async exit(): Promise<number | null> {
      if (child.exitCode !== null) return child.exitCode;
      const [code] = await once(child, 'exit');
      return code as number | null;
    },
  };
}

function isolatedEnv(): Record<string, string> {
  const prefix = uniquePrefix('proc');
  return {
    REDIS_URL: testRedisUrl(),
    REDIS_KEY_PREFIX: prefix,
    QUEUE_NAME: prefix.replaceAll(':', '-').replace(/-$/, ''),
    NODE_ENV: 'development',
    // The worker's metrics port stays closed: a developer's running worker may hold 9464.
    METRICS_PORT: '0',
  };
}

describe.each(['api', 'worker'] as const)('%s process', (entry) => {
  it('refuses to start in production without OTP_SECRET and MESSAGGIO_API_KEY, naming both', async () => {
    const proc = start(entry, { ...isolatedEnv(), NODE_ENV: 'production' });
    expect(await proc.exit()).toBe(1);
    expect(proc.output()).toMatch(/OTP_SECRET: is required/);
    expect(proc.output()).toMatch(/MESSAGGIO_API_KEY: is required/);
  });

  it('starts in debug mode and exits 0 on SIGTERM', async () => {
    const proc = start(entry, { ...isolatedEnv(), PORT: '0', HOST: '127.0.0.1' });
    await proc.waitFor(entry === 'api' ? 'Server listening' : 'worker ready');
    expect(proc.output()).toMatch(/debug mode/);
    proc.child.kill('SIGTERM');
    expect(await proc.exit()).toBe(0);
    expect(proc.output()).toMatch(entry === 'api' ? /shutting down/ : /worker stopped/);
  });
});
