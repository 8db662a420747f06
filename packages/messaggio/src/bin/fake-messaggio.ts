#!/usr/bin/env node
// Standalone fake Messaggio for local development: point MESSAGGIO_BASE_URL at the printed URL
// and read the OTP codes off stdout instead of a phone. The only file here that reads process.env.
import { createFakeMessaggio } from '../fake-server.js';

const SHUTDOWN_DEADLINE_MS = 5000;

function list(name: string, fallback: string[]): string[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function readConfig() {
  const portText = process.env.FAKE_MESSAGGIO_PORT ?? '4010';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    throw new Error(`FAKE_MESSAGGIO_PORT must be a port number (0-65535), got "${portText}".`);
  }
  const dlrText = (process.env.FAKE_MESSAGGIO_DLR ?? 'false').trim().toLowerCase();
  if (!['true', 'false', '1', '0', ''].includes(dlrText)) {
    throw new Error(`FAKE_MESSAGGIO_DLR must be true or false, got "${process.env.FAKE_MESSAGGIO_DLR}".`);
  }
  return {
    port,
    host: process.env.FAKE_MESSAGGIO_HOST?.trim() || '127.0.0.1',
    logins: list('FAKE_MESSAGGIO_LOGINS', ['test-login']),
    senders: list('FAKE_MESSAGGIO_SENDERS', []),
    deliveryReports: dlrText === 'true' || dlrText === '1',
  };
}

async function main(): Promise<void> {
  const config = readConfig();
  const fake = await createFakeMessaggio({
    ...config,
    onAccepted(message) {
      console.log(
        `SMS to ${message.phone}: ${JSON.stringify(message.text)} (message_id ${message.messageId})`,
      );
    },
  });
  const senders = config.senders.length > 0 ? config.senders.join(', ') : 'any';
  // The logins are not printed: whoever set them knows them, and terminals end up in screenshots.
  console.log(
    `Fake Messaggio listening at ${fake.baseUrl} (${config.logins.length} login(s), senders: ${senders}, ` +
      `delivery reports: ${config.deliveryReports ? 'on' : 'off'})`,
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal} received, closing the fake Messaggio`);
    // close() destroys hung sockets itself; the deadline only guards against a bug there.
    const deadline = setTimeout(() => {
      console.error(`Fake Messaggio did not close within ${SHUTDOWN_DEADLINE_MS} ms; exiting anyway.`);
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    fake.close().then(
      () => clearTimeout(deadline),
      (err: unknown) => {
        clearTimeout(deadline);
        console.error('Fake Messaggio failed to close:', err);
        process.exitCode = 1;
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    console.error(
      `Fake Messaggio: port ${process.env.FAKE_MESSAGGIO_PORT ?? '4010'} is in use; set FAKE_MESSAGGIO_PORT`,
    );
    process.exitCode = 1;
    return;
  }
  console.error(`Fake Messaggio failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
