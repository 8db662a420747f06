import { createCodeStore, createLogger, createStatusStore, deriveKeys } from '@otp/core';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectTestRedis, deleteKeys, uniquePrefix } from '../../../test/redis.js';
import { createOtpService } from '../src/services/otp-service.js';
import { freshPhone, LogCapture } from './helper.js';

// The status record is written beside the enqueue, not after it: when the enqueue fails,
// the send must leave nothing behind, as when the record came only after a good enqueue.
let redis: Redis;
let prefix: string;

beforeEach(() => {
  redis = connectTestRedis();
  prefix = uniquePrefix('enqueue-failure');
});

afterEach(async () => {
  await deleteKeys(redis, prefix);
  await redis.quit();
});

function service(queue: { add: () => Promise<never> }, queued: string[]) {
  const status = createStatusStore({ redis, keyPrefix: prefix });
  return createOtpService({
    store: createCodeStore({
      redis,
      keyPrefix: prefix,
      ttlSeconds: 300,
      maxAttempts: 3,
      resendCooldownSeconds: 60,
    }),
    queue: queue as never,
    keys: deriveKeys('enqueue-failure-secret-0123456789abcdef0123456789'),
    allowedCountries: ['KZ', 'RU'],
    otpLength: 6,
    otpTtlSeconds: 300,
    resendCooldownSeconds: 60,
    jobOptions: { maxAttempts: 3, backoffDelayMs: 1000 },
    debugMode: false,
    status: {
      ...status,
      queued: (input) => {
        queued.push(input.verificationId);
        return status.queued(input);
      },
      verified: status.verified,
      discard: status.discard,
    },
    limits: {
      keyPrefix: prefix,
      perPhonePerHour: 5,
      perPhonePerDay: 10,
      perIpPerHour: 0,
      countryDaily: {},
      dailyBudget: 0,
    },
    blockedPrefixes: [],
    testNumbers: new Map(),
  });
}

const unavailable = { code: 'SERVICE_UNAVAILABLE', statusCode: 503 };

describe('a send whose enqueue fails', () => {
  it('revokes the code and leaves no status record, so the retry is not refused', async () => {
    const queued: string[] = [];
    const failing = service(
      {
        add: async () => {
          throw new Error('enqueue failed');
        },
      },
      queued,
    );
    const logs = new LogCapture();
    const log = createLogger({ service: 'otp-api', stream: logs });
    const phone = freshPhone();
    await expect(failing.send(phone, { requestId: 'r1', log })).rejects.toMatchObject(unavailable);
    expect(queued).toHaveLength(1);
    const status = createStatusStore({ redis, keyPrefix: prefix });
    expect(await status.get(queued[0] ?? '')).toBeUndefined();
    // The code and its cooldown are gone: a second try is not told to wait.
    await expect(failing.send(phone, { requestId: 'r2', log })).rejects.toMatchObject(unavailable);
    await failing.close();
  });
});
