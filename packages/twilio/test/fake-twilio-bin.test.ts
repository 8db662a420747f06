import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killEntryProcesses, startEntry } from '../../../test/entry-process.js';
import { freePort } from '../../../test/probes.js';

const entry = join(import.meta.dirname, '../src/bin/fake-twilio.ts');

afterEach(() => {
  killEntryProcesses();
});

describe('pnpm fake-twilio', () => {
  it('listens, prints each SMS, and stops on SIGTERM', async () => {
    const port = await freePort();
    const fake = startEntry(entry, { FAKE_TWILIO_PORT: String(port), FAKE_TWILIO_AUTH_TOKEN: 'local-token' });
    await fake.waitFor('Fake Twilio listening at');
    const sid = `AC${'0'.repeat(32)}`;
    const response = await fetch(`http://127.0.0.1:${port}/2010-04-01/Accounts/${sid}/Messages.json`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${sid}:local-token`).toString('base64')}` },
      body: new URLSearchParams({ To: '+15558675310', From: '+15557122661', Body: 'Your code is 123456' }),
    });
    expect(response.status).toBe(201);
    await fake.waitFor('SMS to +15558675310: "Your code is 123456"');
    expect(fake.output()).not.toContain('local-token');
    fake.child.kill('SIGTERM');
    expect(await fake.exit()).toBe(0);
  });

  it('says in one line that the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const fake = startEntry(entry, { FAKE_TWILIO_PORT: String(port) });
      expect(await fake.exit()).toBe(1);
      const lines = fake.output().trim().split('\n');
      expect(lines).toEqual([
        `Fake Twilio failed to start: 127.0.0.1:${port} is already in use (another fake Twilio?); stop it or set FAKE_TWILIO_PORT.`,
      ]);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('names a bad variable', async () => {
    const fake = startEntry(entry, { FAKE_TWILIO_PORT: 'eighty' });
    expect(await fake.exit()).toBe(1);
    expect(fake.output()).toContain('FAKE_TWILIO_PORT must be a port number');
  });
});
