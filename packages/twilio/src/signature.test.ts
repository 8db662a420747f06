import { describe, expect, it } from 'vitest';
import {
  computeTwilioSignature,
  signatureUrlCandidates,
  twilioSignedString,
  verifyTwilioSignature,
} from './signature.js';

// The test vectors of docs/twilio-api.md "Request signing": Twilio's worked example, twilio-python's
// unit tests, and one status callback derived there with the same algorithm.
const TOKEN = '12345';
const voiceParams = (number: string) => ({
  CallSid: 'CA1234567890ABCDE',
  Caller: number,
  Digits: '1234',
  From: number,
  To: '+18005551212',
});

describe('computeTwilioSignature: known answers', () => {
  it("signs Twilio's worked example, over the documented string", () => {
    const url = 'https://example.com/myapp.php?foo=1&bar=2';
    const params = voiceParams('+14158675310');
    expect(twilioSignedString(url, params)).toBe(
      'https://example.com/myapp.php?foo=1&bar=2CallSidCA1234567890ABCDECaller+14158675310Digits1234From+14158675310To+18005551212',
    );
    expect(computeTwilioSignature(TOKEN, url, params)).toBe('L/OH5YylLD5NRKLltdqwSvS0BnU=');
  });

  it.each([
    ['https://mycompany.com/myapp.php?foo=1&bar=2', 'RSOYDt4T1cUTdK1PDd93/VVr8B8='],
    ['https://mycompany.com:443/myapp.php?foo=1&bar=2', 'kvajT1Ptam85bY51eRf/AJRuM3w='],
  ])("matches twilio-python's vector for %s", (url, expected) => {
    expect(computeTwilioSignature(TOKEN, url, voiceParams('+14158675309'))).toBe(expected);
  });

  it('signs each distinct value of a repeated name, values sorted', () => {
    const params: Array<[string, string]> = [
      ['Sid', 'CA123'],
      ['SidAccount', 'AC123'],
      ['Digits', '5678'],
      ['Digits', '1234'],
      ['Digits', '1234'],
    ];
    const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
    expect(computeTwilioSignature(TOKEN, url, params)).toBe('IK+Dwps556ElfBT0I3Rgjkr1wJU=');
    // The same as an object with an array, and as a raw form body.
    expect(
      computeTwilioSignature(TOKEN, url, {
        Sid: 'CA123',
        SidAccount: 'AC123',
        Digits: ['5678', '1234', '1234'],
      }),
    ).toBe('IK+Dwps556ElfBT0I3Rgjkr1wJU=');
    expect(
      computeTwilioSignature(TOKEN, url, 'Digits=5678&Sid=CA123&Digits=1234&SidAccount=AC123&Digits=1234'),
    ).toBe('IK+Dwps556ElfBT0I3Rgjkr1wJU=');
  });

  it('signs a status callback from its raw form body, where %2B is a plus', () => {
    const body =
      `MessageStatus=undelivered&MessageSid=SM${'a'.repeat(32)}&AccountSid=AC${'0'.repeat(32)}` +
      `&From=%2B15017122661&ApiVersion=2010-04-01&To=%2B15558675310&SmsStatus=undelivered` +
      `&SmsSid=SM${'a'.repeat(32)}&ErrorCode=30003`;
    expect(
      computeTwilioSignature(TOKEN, 'https://otp.example.com/hooks/twilio/status?ref=abc123', body),
    ).toBe('d6jIC1Bvb7vpkzr53yPRMVLGN/M=');
  });
});

describe('verifyTwilioSignature', () => {
  const url = 'https://example.com/myapp.php?foo=1&bar=2';
  const params = voiceParams('+14158675310');
  const good = 'L/OH5YylLD5NRKLltdqwSvS0BnU=';

  it('accepts the right signature', () => {
    expect(verifyTwilioSignature({ authToken: TOKEN, url, params, signature: good })).toBe(true);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['forged', 'AAAAAAAAAAAAAAAAAAAAAAAAAAA='],
    ['truncated', good.slice(0, -2)],
    ['longer', `${good}=`],
  ])('refuses a %s signature', (_, signature) => {
    expect(verifyTwilioSignature({ authToken: TOKEN, url, params, signature })).toBe(false);
  });

  it('refuses a signature made with another token, or over other parameters or another URL', () => {
    const signature = computeTwilioSignature('other-token', url, params);
    expect(verifyTwilioSignature({ authToken: TOKEN, url, params, signature })).toBe(false);
    expect(
      verifyTwilioSignature({
        authToken: TOKEN,
        url,
        params: { ...params, Digits: '9999' },
        signature: good,
      }),
    ).toBe(false);
    expect(verifyTwilioSignature({ authToken: TOKEN, url: `${url}&baz=3`, params, signature: good })).toBe(
      false,
    );
    expect(
      verifyTwilioSignature({ authToken: TOKEN, url: url.replace('https', 'http'), params, signature: good }),
    ).toBe(false);
  });

  it('refuses a parameter added to a signed request', () => {
    expect(
      verifyTwilioSignature({
        authToken: TOKEN,
        url,
        params: { ...params, MessageStatus: 'delivered' },
        signature: good,
      }),
    ).toBe(false);
  });

  it('accepts the URL with and without its port, either way round', () => {
    const withPort = 'https://mycompany.com:443/myapp.php?foo=1&bar=2';
    const without = 'https://mycompany.com/myapp.php?foo=1&bar=2';
    const p = voiceParams('+14158675309');
    // Twilio signed with the port; the app knows the URL without it, and the other way round.
    expect(
      verifyTwilioSignature({
        authToken: TOKEN,
        url: without,
        params: p,
        signature: 'kvajT1Ptam85bY51eRf/AJRuM3w=',
      }),
    ).toBe(true);
    expect(
      verifyTwilioSignature({
        authToken: TOKEN,
        url: withPort,
        params: p,
        signature: 'RSOYDt4T1cUTdK1PDd93/VVr8B8=',
      }),
    ).toBe(true);
  });

  it('accepts any one of several candidate URLs', () => {
    expect(
      verifyTwilioSignature({ authToken: TOKEN, url: ['https://a.example/x', url], params, signature: good }),
    ).toBe(true);
  });
});

describe('signatureUrlCandidates', () => {
  it.each([
    ['https://h.example/p?q=1', ['https://h.example/p?q=1', 'https://h.example:443/p?q=1']],
    ['https://h.example:8443/p', ['https://h.example:8443/p', 'https://h.example/p']],
    ['http://h.example/p', ['http://h.example/p', 'http://h.example:80/p']],
    ['https://user:pw@h.example/p', ['https://h.example/p', 'https://h.example:443/p']],
    ['http://[::1]:4000/p', ['http://[::1]:4000/p', 'http://[::1]/p']],
    // The query stays exactly as sent: no re-encoding.
    [
      'https://h.example/p?a=%2b&b=x y',
      ['https://h.example/p?a=%2b&b=x y', 'https://h.example:443/p?a=%2b&b=x y'],
    ],
  ])('%s', (url, expected) => {
    expect(signatureUrlCandidates(url)).toEqual(expected);
  });
});
