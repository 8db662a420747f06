#!/usr/bin/env node
// Standalone fake Messaggio for local development: point MESSAGGIO_BASE_URL at the printed URL
// and read the OTP codes off stdout instead of a phone. The only file here that reads process.env.
import { closeOnSignals, listFromEnv, reportStartFailure } from '@otp/sms/testing';
import { createFakeMessaggio } from '../fake-server.js';

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
    logins: listFromEnv(process.env.FAKE_MESSAGGIO_LOGINS) ?? ['test-login'],
    senders: listFromEnv(process.env.FAKE_MESSAGGIO_SENDERS) ?? [],
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

  closeOnSignals('fake Messaggio', () => fake.close());
}

main().catch((err: unknown) => reportStartFailure('Fake Messaggio', 'FAKE_MESSAGGIO_PORT', err));
