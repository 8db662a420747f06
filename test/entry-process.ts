import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

const children = new Set<ChildProcess>();

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
