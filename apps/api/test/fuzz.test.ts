import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApi, type TestApi } from './helper.js';

let api: TestApi;
beforeAll(async () => {
  // Limits off, so random bodies reach the deepest code paths instead of stopping at 429.
  api = await buildTestApi({
    OTP_RESEND_COOLDOWN_SECONDS: '0',
    OTP_SENDS_PER_PHONE_PER_HOUR: '0',
    OTP_SENDS_PER_PHONE_PER_DAY: '0',
    OTP_FAILED_VERIFIES_PER_PHONE_PER_HOUR: '0',
  });
});
afterAll(async () => {
  await api.close();
});

const arabicIndic = '٠١٢٣٤٥٦٧٨٩';
const fullWidth = '０１２３４５６７８９';
const digitLike = (alphabet: string) =>
  fc
    .array(fc.constantFrom(...alphabet.split('')), { minLength: 1, maxLength: 15 })
    .map((chars) => chars.join(''));

const hostileString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  digitLike(arabicIndic),
  digitLike(fullWidth),
  digitLike('0123456789+-() '),
  fc.constantFrom(
    '\u0000',
    '+7\u0000708',
    '__proto__',
    'constructor',
    '%00',
    '{code}',
    '<script>',
    '+'.repeat(100),
  ),
  fc.string({ minLength: 3000, maxLength: 6000 }),
);

// Mostly strings: that is where phones and codes go wrong; other JSON types now and then.
const value = fc.oneof(
  { arbitrary: hostileString, weight: 6 },
  { arbitrary: fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null)), weight: 2 },
  { arbitrary: fc.array(hostileString, { maxLength: 3 }), weight: 1 },
  { arbitrary: fc.dictionary(hostileString, hostileString, { maxKeys: 3 }), weight: 1 },
);

/** JSON objects shaped like real requests, with hostile values in the real fields. */
const requestLike = fc.oneof(
  fc.record({ phone_number: value }),
  fc.record({ phone_number: value, code: value }),
  fc.record({ phone_number: value, code: value }, { requiredKeys: [] }),
  fc.record({ phone_number: value, code: value, extra: value }),
);

// Bodies as bytes on the wire: JSON of anything, raw junk, prototype-pollution attempts.
const rawBody = fc.oneof(
  fc.anything().map((body) => JSON.stringify(body) ?? ''),
  fc.string(),
  fc.constantFrom(
    '',
    '{',
    '{"phone_number": "+77088043414", "__proto__": {"polluted": true}}',
    '{"constructor": {"prototype": {"polluted": true}}, "phone_number": "+77088043414"}',
    '[]',
    'null',
    '"+77088043414"',
    `{"phone_number": "${'9'.repeat(10_000)}"}`,
  ),
);

const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
);

async function expectJsonAnswer(res: Awaited<ReturnType<TestApi['app']['inject']>>) {
  expect(res.statusCode).toBeLessThan(500);
  const body = res.json();
  if (res.statusCode >= 400) {
    expect(body).toMatchObject({
      statusCode: res.statusCode,
      code: expect.any(String),
      message: expect.any(String),
    });
  } else {
    expect(res.statusCode).toBe(200);
  }
}

describe('hostile input (fast-check)', () => {
  it.each(['/send-otp/', '/verify-otp/'])(
    '%s: hostile values in JSON fields get a JSON 4xx with a code (or a 200)',
    async (url) => {
      await fc.assert(
        fc.asyncProperty(requestLike, async (payload) => {
          await expectJsonAnswer(await api.app.inject({ method: 'POST', url, payload }));
        }),
        { numRuns: 1500 },
      );
    },
  );

  it.each(['/send-otp/', '/verify-otp/'])(
    '%s: any bytes under any content type get a JSON 4xx with a code (or a 200)',
    async (url) => {
      await fc.assert(
        fc.asyncProperty(rawBody, contentType, async (payload, type) => {
          await expectJsonAnswer(
            await api.app.inject({ method: 'POST', url, headers: { 'content-type': type }, payload }),
          );
        }),
        { numRuns: 1000 },
      );
    },
  );

  it('left no prototype polluted and still serves a normal request', async () => {
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const res = await api.app.inject({
      method: 'POST',
      url: '/send-otp/',
      payload: { phone_number: '+77088043414' },
    });
    expect(res.statusCode).toBe(200);
  });
});
