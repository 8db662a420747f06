#!/usr/bin/env node
// Standalone fake Twilio for local development: point TWILIO_BASE_URL at the printed URL and
// read the OTP codes off stdout instead of a phone. The only file here that reads process.env.
import { createFakeTwilio, FAKE_TWILIO_ACCOUNT_SID, FAKE_TWILIO_AUTH_TOKEN } from '../fake-server.js';

const SHUTDOWN_DEADLINE_MS = 5000;

function list(name: string): string[] | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function readConfig() {
  const portText = process.env.FAKE_TWILIO_PORT?.trim() || '4020';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    throw new Error(`FAKE_TWILIO_PORT must be a port number (0-65535), got "${portText}".`);
  }
  const callbacksText = (process.env.FAKE_TWILIO_CALLBACKS ?? 'true').trim().toLowerCase();
  if (!['true', 'false', '1', '0', ''].includes(callbacksText)) {
    throw new Error(
      `FAKE_TWILIO_CALLBACKS must be true or false, got "${process.env.FAKE_TWILIO_CALLBACKS}".`,
    );
  }
  const senders = list('FAKE_TWILIO_SENDERS');
  return {
    port,
    host: process.env.FAKE_TWILIO_HOST?.trim() || '127.0.0.1',
    accountSid: process.env.FAKE_TWILIO_ACCOUNT_SID?.trim() || FAKE_TWILIO_ACCOUNT_SID,
    authToken: process.env.FAKE_TWILIO_AUTH_TOKEN?.trim() || FAKE_TWILIO_AUTH_TOKEN,
    statusCallbacks: callbacksText !== 'false' && callbacksText !== '0',
    ...(senders === undefined ? {} : { senders }),
  };
}

async function main(): Promise<void> {
  const { accountSid, authToken, ...config } = readConfig();
  const fake = await createFakeTwilio({
    ...config,
    accounts: [{ accountSid, authToken }],
    onAccepted(message) {
      console.log(`SMS to ${message.to}: ${JSON.stringify(message.body)} (sid ${message.sid})`);
    },
  });
  // The Auth Token is not printed: whoever set it knows it, and terminals end up in screenshots.
  console.log(
    `Fake Twilio listening at ${fake.baseUrl} (account ${accountSid}, senders: ${config.senders?.join(', ') ?? 'any'}, ` +
      `status callbacks: ${config.statusCallbacks ? 'on' : 'off'})`,
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal} received, closing the fake Twilio`);
    // close() destroys hung sockets itself; the deadline only guards against a bug there.
    const deadline = setTimeout(() => {
      console.error(`Fake Twilio did not close within ${SHUTDOWN_DEADLINE_MS} ms; exiting anyway.`);
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    fake.close().then(
      () => clearTimeout(deadline),
      (err: unknown) => {
        clearTimeout(deadline);
        console.error('Fake Twilio failed to close:', err);
        process.exitCode = 1;
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  const { code, address, port } = err as NodeJS.ErrnoException & { address?: string; port?: number };
  // One line that says what to do, not a stack: the usual cause is a fake already running.
  if (code === 'EADDRINUSE') {
    console.error(
      `Fake Twilio failed to start: ${address}:${port} is already in use (another fake Twilio?); stop it or set FAKE_TWILIO_PORT.`,
    );
  } else {
    console.error(`Fake Twilio failed to start: ${err instanceof Error ? err.message : String(err)}`);
  }
  process.exitCode = 1;
});
