#!/usr/bin/env node
// Standalone fake Twilio for local development: point TWILIO_BASE_URL at the printed URL and
// read the OTP codes off stdout instead of a phone. The only file here that reads process.env.
import { closeOnSignals, listFromEnv, reportStartFailure } from '@otp/sms/testing';
import { createFakeTwilio, FAKE_TWILIO_ACCOUNT_SID, FAKE_TWILIO_AUTH_TOKEN } from '../fake-server.js';

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
  const senders = listFromEnv(process.env.FAKE_TWILIO_SENDERS);
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

  closeOnSignals('fake Twilio', () => fake.close());
}

main().catch((err: unknown) => reportStartFailure('Fake Twilio', 'FAKE_TWILIO_PORT', err));
