import { createStatusStore } from '@otp/core';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTestRedis, deleteKeys, uniquePrefix } from '../../../test/redis.js';
import { composeSendListeners, type SendEvent } from './send-events.js';
import { createStatusListener } from './status-listener.js';

let redis: Redis;
const prefix = uniquePrefix('status-listener');

beforeAll(() => {
  redis = connectTestRedis();
});
afterAll(async () => {
  await deleteKeys(redis, prefix);
  await redis.quit();
});

describe('status listener (real Redis)', () => {
  const store = () => createStatusStore({ redis, keyPrefix: prefix });
  async function queued(verificationId: string) {
    await store().queued({
      verificationId,
      phone: '+77088043414',
      country: 'KZ',
      expiresAt: Date.now() + 60_000,
    });
  }

  it('records attempts, the provider and its message id, and the reason the worker gave up', async () => {
    const listener = createStatusListener(store());
    const ids = { verificationId: 'v-path', country: 'KZ' };
    await queued(ids.verificationId);
    await listener({ type: 'sending', ...ids, attempt: 1, provider: 'messaggio' });
    await listener({
      type: 'retrying',
      ...ids,
      attempt: 1,
      provider: 'messaggio',
      errorCode: 'MESSAGGIO_TIMEOUT',
      scope: 'transient',
      next: 'backup',
    });
    await listener({ type: 'sending', ...ids, attempt: 2, provider: 'backup' });
    expect(await store().get(ids.verificationId)).toMatchObject({ status: 'sending', attempts: 2 });
    await listener({
      type: 'sent',
      ...ids,
      attempt: 2,
      provider: 'backup',
      providerMessageId: 'msg-1',
      latencyMs: 5,
    });
    expect(await store().get(ids.verificationId)).toMatchObject({
      status: 'sent',
      provider: 'backup',
      providerMessageId: 'msg-1',
    });
    // The index lets the message's delivery reports find the verification, by provider.
    expect(
      await store().deliveryReport({ provider: 'backup', messageId: 'msg-1', status: 'delivered' }),
    ).toMatchObject({ outcome: 'applied', verificationId: ids.verificationId });

    await queued('v-failed');
    await listener({
      type: 'failed',
      verificationId: 'v-failed',
      country: 'KZ',
      attempt: 3,
      provider: 'messaggio',
      errorCode: 'MESSAGGIO_SERVER_ERROR',
      scope: 'transient',
      failureCode: 'SMS_DELIVERY_FAILED',
      permanent: false,
    });
    expect(await store().get('v-failed')).toMatchObject({
      status: 'failed',
      attempts: 3,
      failureCode: 'SMS_DELIVERY_FAILED',
      failureReason: 'The SMS could not be sent before the retries ran out.',
    });
  });

  it('marks a skipped send failed, unless the code was already verified', async () => {
    const listener = createStatusListener(store());
    await queued('v-replaced');
    await listener({ type: 'skipped', verificationId: 'v-replaced', country: 'KZ', reason: 'replaced' });
    expect(await store().get('v-replaced')).toMatchObject({
      status: 'failed',
      failureCode: 'SKIPPED_REPLACED',
      failureReason: expect.stringMatching(/newer code/),
    });
    await queued('v-spent');
    await store().verified({ verificationId: 'v-spent' });
    await listener({ type: 'skipped', verificationId: 'v-spent', country: 'KZ', reason: 'gone' });
    expect((await store().get('v-spent'))?.status).toBe('verified');
  });
});

describe('composeSendListeners', () => {
  const event: SendEvent = { type: 'sending', verificationId: 'v', country: 'KZ', attempt: 1, provider: 'p' };

  it('tells every listener, even after one throws, then rethrows that failure', async () => {
    const seen: string[] = [];
    const boom = new Error('status write failed');
    const composed = composeSendListeners(
      async () => {
        throw boom;
      },
      undefined,
      (e) => {
        seen.push(e.type);
      },
    );
    await expect(composed(event)).rejects.toBe(boom);
    expect(seen).toEqual(['sending']);
  });

  it('resolves when every listener does', async () => {
    const seen: number[] = [];
    await composeSendListeners(
      () => {
        seen.push(1);
      },
      async () => {
        seen.push(2);
      },
    )(event);
    expect(seen.sort()).toEqual([1, 2]);
  });
});
