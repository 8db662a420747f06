import { describe, expect, it } from 'vitest';
import { computeTwilioSignature } from './signature.js';
import {
  createTwilioWebhook,
  createTwilioWebhookHandler,
  mapMessageStatus,
  readStatusCallback,
  TwilioSignatureError,
  twilioStatusCallbackUrl,
  withCallbackReference,
} from './status-callback.js';
import { MESSAGE_STATUSES } from './wire-format.js';

const TOKEN = 'callback-token-3e9a';
const SID = `SM${'a'.repeat(32)}`;
const PUBLIC = 'https://otp.example.com';
const URL_CALLED = `${PUBLIC}/webhooks/twilio?ref=abc%20123`;

function callback(status: string, extra: Record<string, string> = {}): string {
  return new URLSearchParams({
    MessageStatus: status,
    MessageSid: SID,
    SmsStatus: status,
    SmsSid: SID,
    AccountSid: `AC${'0'.repeat(32)}`,
    From: '+15017122661',
    To: '+15558675310',
    ApiVersion: '2010-04-01',
    ...extra,
  }).toString();
}

describe('mapMessageStatus', () => {
  it.each([
    ['accepted', 'sent'],
    ['scheduled', 'sent'],
    ['queued', 'sent'],
    ['sending', 'sent'],
    ['sent', 'sent'],
    ['delivered', 'delivered'],
    ['read', 'delivered'],
    ['undelivered', 'undelivered'],
    ['failed', 'undelivered'],
    ['canceled', 'undelivered'],
    ['receiving', 'unknown'],
    ['received', 'unknown'],
    ['partially_delivered', 'unknown'],
    ['something_new', 'unknown'],
    ['constructor', 'unknown'],
  ])('%s → %s', (status, expected) => {
    expect(mapMessageStatus(status)).toBe(expected);
  });

  it('covers every documented status', () => {
    for (const status of MESSAGE_STATUSES)
      expect(['sent', 'delivered', 'undelivered', 'unknown']).toContain(mapMessageStatus(status));
  });
});

describe('readStatusCallback', () => {
  it('verifies and maps a signed callback, with the error code for logs', () => {
    const body = callback('undelivered', { ErrorCode: '30003' });
    const signature = computeTwilioSignature(TOKEN, URL_CALLED, body);
    expect(readStatusCallback({ authToken: TOKEN, url: URL_CALLED, params: body, signature })).toEqual({
      provider: 'twilio',
      providerMessageId: SID,
      status: 'undelivered',
      providerStatus: 'undelivered/30003',
    });
  });

  it('throws a typed 403 error for a missing or forged signature', () => {
    const body = callback('delivered');
    for (const [signature, code] of [
      [undefined, 'TWILIO_SIGNATURE_MISSING'],
      ['', 'TWILIO_SIGNATURE_MISSING'],
      [computeTwilioSignature('not-the-token', URL_CALLED, body), 'TWILIO_SIGNATURE_INVALID'],
      [computeTwilioSignature(TOKEN, URL_CALLED, callback('undelivered')), 'TWILIO_SIGNATURE_INVALID'],
    ] as const) {
      let thrown: unknown;
      try {
        readStatusCallback({ authToken: TOKEN, url: URL_CALLED, params: body, signature });
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(TwilioSignatureError);
      expect(thrown).toMatchObject({ code, statusCode: 403 });
    }
  });

  it('returns nothing for a signed callback that names no message', () => {
    const body = 'ApiVersion=2010-04-01';
    const signature = computeTwilioSignature(TOKEN, URL_CALLED, body);
    expect(
      readStatusCallback({ authToken: TOKEN, url: URL_CALLED, params: body, signature }),
    ).toBeUndefined();
  });
});

describe('createTwilioWebhookHandler', () => {
  const handler = createTwilioWebhookHandler({ authToken: TOKEN, publicBaseUrl: `${PUBLIC}/` });

  it('is a neutral webhook: name, path and form content type', () => {
    expect(handler).toMatchObject({
      name: 'twilio',
      path: '/webhooks/twilio',
      contentType: 'application/x-www-form-urlencoded',
    });
  });

  it('answers 200 with the report for a signed callback at the relative URL the app sees', () => {
    const body = callback('delivered', { RawDlrDoneDate: '2608141051' });
    const signature = computeTwilioSignature(TOKEN, URL_CALLED, body);
    const result = handler.handle({
      url: '/webhooks/twilio?ref=abc%20123',
      headers: { 'x-twilio-signature': signature, 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    expect(result).toEqual({
      status: 200,
      reports: [
        { provider: 'twilio', providerMessageId: SID, status: 'delivered', providerStatus: 'delivered' },
      ],
    });
  });

  it('takes a parsed form and any header case too', () => {
    const params = Object.fromEntries(new URLSearchParams(callback('sent')));
    const signature = computeTwilioSignature(TOKEN, URL_CALLED, params);
    const result = handler.handle({
      url: URL_CALLED,
      headers: { 'X-Twilio-Signature': [signature] },
      body: params,
    });
    expect(result.status).toBe(200);
    expect(result.reports[0]?.status).toBe('sent');
  });

  it('answers 403 with no reports for a missing or forged signature', () => {
    const body = callback('delivered');
    expect(handler.handle({ url: URL_CALLED, headers: {}, body })).toEqual({
      status: 403,
      reports: [],
      code: 'TWILIO_SIGNATURE_MISSING',
    });
    const forged = computeTwilioSignature('guessed-token', URL_CALLED, body);
    expect(handler.handle({ url: URL_CALLED, headers: { 'x-twilio-signature': forged }, body })).toEqual({
      status: 403,
      reports: [],
      code: 'TWILIO_SIGNATURE_INVALID',
    });
  });

  it('refuses a signature replayed with a changed status', () => {
    const signature = computeTwilioSignature(
      TOKEN,
      URL_CALLED,
      callback('undelivered', { ErrorCode: '30003' }),
    );
    const result = handler.handle({
      url: URL_CALLED,
      headers: { 'x-twilio-signature': signature },
      body: callback('delivered'),
    });
    expect(result).toMatchObject({ status: 403, reports: [] });
  });

  it('checks the public URL, not what a proxy passed on', () => {
    const body = callback('delivered');
    // Twilio called the public https URL; the app behind the proxy sees plain http and another host.
    const signature = computeTwilioSignature(TOKEN, URL_CALLED, body);
    const seenByApp = 'http://10.0.0.7:3000/webhooks/twilio?ref=abc%20123';
    const withoutBase = createTwilioWebhookHandler({ authToken: TOKEN });
    expect(
      withoutBase.handle({ url: seenByApp, headers: { 'x-twilio-signature': signature }, body }).status,
    ).toBe(403);
    expect(
      withoutBase.handle({ url: '/webhooks/twilio', headers: { 'x-twilio-signature': signature }, body }),
    ).toEqual({
      status: 403,
      reports: [],
      code: 'TWILIO_WEBHOOK_URL_UNKNOWN',
    });
    // With the configured StatusCallback, whatever the app saw.
    const configured = createTwilioWebhookHandler({ authToken: TOKEN, statusCallbackUrl: URL_CALLED });
    expect(
      configured.handle({ url: seenByApp, headers: { 'x-twilio-signature': signature }, body }).status,
    ).toBe(200);
  });

  it('answers 200 without reports for a signed callback that names no message', () => {
    const body = 'AccountSid=AC00';
    const signature = computeTwilioSignature(TOKEN, `${PUBLIC}/webhooks/twilio`, body);
    expect(
      handler.handle({ url: '/webhooks/twilio', headers: { 'x-twilio-signature': signature }, body }),
    ).toEqual({
      status: 200,
      reports: [],
      code: 'TWILIO_CALLBACK_INCOMPLETE',
    });
  });

  it('derives the StatusCallback from PUBLIC_BASE_URL at its own path', () => {
    expect(twilioStatusCallbackUrl('https://otp.example.com/')).toBe(
      'https://otp.example.com/webhooks/twilio',
    );
    expect(twilioStatusCallbackUrl('https://example.com/otp')).toBe(
      'https://example.com/otp/webhooks/twilio',
    );
  });

  it('refuses to be built without a token', () => {
    expect(() => createTwilioWebhookHandler({ authToken: '' })).toThrow(/authToken/);
  });
});

describe("createTwilioWebhook (the API's WebhookHandler contract) and the callback reference", () => {
  const CONFIGURED = `${PUBLIC}/webhooks/twilio`;
  const request = (url: string, body: string, signature?: string) => ({
    method: 'POST',
    url,
    subpath: '',
    headers: signature === undefined ? {} : { 'x-twilio-signature': signature },
    body,
  });

  it('adds otp_ref to the query, after any parameters already there', () => {
    expect(withCallbackReference(CONFIGURED, 'abc-1')).toBe(`${CONFIGURED}?otp_ref=abc-1`);
    expect(withCallbackReference(`${CONFIGURED}?x=1`, 'a b')).toBe(`${CONFIGURED}?x=1&otp_ref=a%20b`);
    expect(withCallbackReference(`${CONFIGURED}?`, 'a')).toBe(`${CONFIGURED}?otp_ref=a`);
  });

  it('reports a signed callback with the verification id its signed URL carries, and answers TwiML', async () => {
    const webhook = createTwilioWebhook({ authToken: TOKEN, statusCallbackUrl: CONFIGURED });
    const url = withCallbackReference(CONFIGURED, 'verification-7');
    const body = callback('delivered');
    const outcome = await webhook.handle(request(url, body, computeTwilioSignature(TOKEN, url, body)));
    expect(webhook.provider).toBe('twilio');
    expect(outcome).toEqual({
      kind: 'reports',
      reports: [
        {
          provider: 'twilio',
          providerMessageId: SID,
          status: 'delivered',
          providerStatus: 'delivered',
          verificationId: 'verification-7',
        },
      ],
      answer: { status: 200, contentType: 'text/xml', body: '<Response/>' },
    });
  });

  it('refuses with 403 a missing or forged signature, and a reference added to a signed callback', async () => {
    const webhook = createTwilioWebhook({ authToken: TOKEN, statusCallbackUrl: CONFIGURED });
    const body = callback('delivered');
    const signedWithout = computeTwilioSignature(TOKEN, CONFIGURED, body);
    for (const req of [
      request(CONFIGURED, body),
      request(CONFIGURED, body, computeTwilioSignature('another-token', CONFIGURED, body)),
      // A genuine callback replayed with a reference that points at someone else's verification.
      request(withCallbackReference(CONFIGURED, 'victim'), body, signedWithout),
    ]) {
      expect(await webhook.handle(req)).toMatchObject({ kind: 'refused', status: 403 });
    }
  });
});
