import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// pino-pretty runs in a worker thread and writes to file descriptor 1, so the lines are read
// from a child process's stdout.
function logWith(pretty: boolean): string {
  const logger = join(import.meta.dirname, 'logger.ts');
  const script = `
    const { createLogger } = await import(${JSON.stringify(logger)});
    const log = createLogger({ service: 'otp-worker', pretty: ${pretty} });
    log.warn({ component: 'debug-sms', code: '482913' }, 'DEBUG SMS (not sent)');
    log.info({ port: 3000 }, 'plain line');
  `;
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH ?? '' },
    encoding: 'utf8',
  });
  return result.stdout;
}

describe('createLogger', () => {
  it('pretty: one readable line per entry, the service first, a debug code in reverse video', () => {
    const lines = logWith(true).trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain('otp-worker: DEBUG SMS (not sent)');
    expect(lines[0]).toContain('\u001b[1;7m code 482913 \u001b[0m');
    expect(lines[1]).toContain('otp-worker: plain line');
    expect(lines[1]).not.toContain('code');
    expect(() => JSON.parse(lines[0] ?? '')).toThrow();
  });

  it('JSON by default', () => {
    const lines = logWith(false).trim().split('\n');
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({
      service: 'otp-worker',
      code: '482913',
      msg: 'DEBUG SMS (not sent)',
    });
  });
});
