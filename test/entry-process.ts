import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

const children = new Set<ChildProcess>();

/**
 * How long a process may take to start. Starting from TypeScript source (tsx) on a busy
 * 2-core machine can take many seconds; the wait ends as soon as the process is ready, so
 * the bound only has to be generous, never tight. Tests that start processes use
 * PROCESS_TEST_TIMEOUT_MS as their own timeout.
 */
export const STARTUP_TIMEOUT_MS = 90_000;
export const PROCESS_TEST_TIMEOUT_MS = 180_000;

/** Polls `url` until it answers 200: readiness, not a log line or a fixed sleep. */
export async function waitForHttpOk(url: string, timeoutMs = STARTUP_TIMEOUT_MS): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = 'no answer';
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > until) throw new Error(`${url} not ready after ${timeoutMs} ms (${last})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Kills every entry process a test started; call from afterEach. */
export function killEntryProcesses(): void {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
}

/**
 * Runs an entry file as a real process, from TypeScript source, as `pnpm start` runs its
 * build: signals, exit codes and start-up refusals only exist at this level. Only PATH and
 * `env` reach it, so the developer's own shell or .env cannot leak in.
 */
export function startEntry(entry: string, env: Record<string, string>, args: string[] = []) {
  const child = spawn(process.execPath, ['--conditions=@otp/source', '--import', 'tsx', entry, ...args], {
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
    /** Resolves once `text` appears in the output; fails if the process exits first. */
    async waitFor(text: string, timeoutMs = STARTUP_TIMEOUT_MS): Promise<void> {
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
