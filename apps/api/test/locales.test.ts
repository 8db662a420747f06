import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApi, freshPhone, type TestApi } from './helper.js';

// Issue 12, item 3: the human `message` follows Accept-Language; codes never change.
let api: TestApi;
beforeAll(async () => {
  api = await buildTestApi({ OTP_RESEND_COOLDOWN_SECONDS: '60', OTP_MAX_ATTEMPTS: '3' });
});
afterAll(async () => {
  await api.close();
});

const send = (payload: object, headers: Record<string, string> = {}) =>
  api.app.inject({ method: 'POST', url: '/send-otp/', payload, headers });
const verify = (payload: object, headers: Record<string, string> = {}) =>
  api.app.inject({ method: 'POST', url: '/verify-otp/', payload, headers });
const lang = (value: string | undefined): Record<string, string> =>
  value === undefined ? {} : { 'accept-language': value };

describe('Accept-Language', () => {
  it.each([
    [undefined, 'SMS код отправлен успешно'],
    ['*', 'SMS код отправлен успешно'],
    ['de-DE, fr;q=0.8', 'SMS код отправлен успешно'],
    ['en-US,en;q=0.9', 'SMS code sent successfully'],
    ['kk-KZ', 'SMS код сәтті жіберілді'],
    ['en;q=0.5, ru', 'SMS код отправлен успешно'],
  ])('%j: the send answers %j', async (header, message) => {
    const res = await send({ phone_number: freshPhone() }, lang(header));
    expect(res.json()).toMatchObject({ message });
  });

  it.each([
    [undefined, /^A code was sent to this number recently; ask again in \d+ s\.$/],
    ['*', /^A code was sent to this number recently; ask again in \d+ s\.$/],
    ['fr', /^A code was sent to this number recently; ask again in \d+ s\.$/],
    ['en', /^A code was sent to this number recently; ask again in \d+ s\.$/],
    ['ru-RU', /^Код на этот номер уже отправлен; запросите новый через \d+ с\.$/],
    ['kk', /^Бұл нөмірге код жақында жіберілді; \d+ секундтан кейін қайта сұраңыз\.$/],
  ])('%j: a refused send keeps its code and says %s', async (header, message) => {
    const phone = freshPhone();
    await send({ phone_number: phone });
    const res = await send({ phone_number: phone }, lang(header));
    expect(res.statusCode).toBe(429);
    expect(res.json()).toMatchObject({ code: 'RESEND_TOO_SOON', retry_after: expect.any(Number) });
    expect(res.json().message).toMatch(message);
  });

  it('translates verify answers, the right code’s and a wrong one’s, with their parameters', async () => {
    const phone = freshPhone();
    const code = (await send({ phone_number: phone })).json().debug_code as string;
    const wrong = code === '000000' ? '000001' : '000000';
    const kk = await verify({ phone_number: phone, code: wrong }, lang('kk'));
    expect(kk.json()).toMatchObject({ code: 'OTP_INVALID', message: 'Код қате; қалған әрекет саны: 2.' });
    const plain = await verify({ phone_number: phone, code: wrong }, lang('*'));
    expect(plain.json()).toMatchObject({ code: 'OTP_INVALID', message: 'Wrong code; 1 attempt(s) left.' });
    const ok = await verify({ phone_number: phone, code }, lang('en'));
    expect(ok.json()).toMatchObject({ message: 'Code verified', verified: true });
    const gone = await verify({ phone_number: phone, code }, lang('ru'));
    expect(gone.json()).toMatchObject({
      code: 'OTP_EXPIRED',
      message: 'Для этого номера нет действующего кода: срок истёк, код уже использован или не отправлялся.',
    });
  });

  it('keeps the detailed English of errors the catalog has no English for', async () => {
    const en = await send({ phone_number: '12' }, lang('en'));
    const none = await send({ phone_number: '12' });
    expect(en.json()).toEqual(none.json());
    const ru = await send({ phone_number: '12' }, lang('ru'));
    expect(ru.json()).toMatchObject({ code: 'PHONE_INVALID', message: 'Неверный номер телефона.' });
  });
});

describe('locale and app_hash on a send', () => {
  it('carries them in the job, not secret, only when asked for', async () => {
    const withBoth = (
      await send({ phone_number: freshPhone(), locale: 'kk', app_hash: 'FA+9qCX9VSu' })
    ).json();
    expect((await api.app.sendQueue.getJob(withBoth.verification_id))?.data).toMatchObject({
      locale: 'kk',
      appHash: 'FA+9qCX9VSu',
    });
    const plain = (await send({ phone_number: freshPhone() })).json();
    const data = (await api.app.sendQueue.getJob(plain.verification_id))?.data;
    expect(data).not.toHaveProperty('locale');
    expect(data).not.toHaveProperty('appHash');
  });

  it.each([
    [{ app_hash: 'short' }],
    [{ app_hash: 'FA+9qCX9VS!' }],
    [{ app_hash: 'FA+9qCX9VSuX' }],
    [{ locale: 'de' }],
  ])('refuses %j with 400 VALIDATION_ERROR, counting nothing', async (extra) => {
    const phone = freshPhone();
    const res = await send({ phone_number: phone, ...extra });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('VALIDATION_ERROR');
    expect(await api.redis.exists(`${api.config.redisKeyPrefix}cooldown:{${phone}}`)).toBe(0);
  });
});
