import { createHeartbeat, type Heartbeat, heartbeatKeys } from '@otp/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApi, freshPhone, type TestApi } from './helper.js';

// Debug mode is OTP_DEBUG=true; even then the code stays out of answers while a live
// worker on the same queue reports a real provider in its heartbeat.
let api: TestApi;
const beats: Heartbeat[] = [];

beforeAll(async () => {
  api = await buildTestApi({ OTP_RESEND_COOLDOWN_SECONDS: '0' });
});
afterEach(async () => {
  for (const beat of beats.splice(0)) await beat.stop();
});
afterAll(async () => {
  await api.close();
});

function workerBeat(transport: string): Heartbeat {
  const beat = createHeartbeat({
    redis: api.redis,
    keys: heartbeatKeys(api.config.redisKeyPrefix, api.config.queueName),
    transport,
  });
  beats.push(beat);
  return beat;
}

async function beatWritten(beat: Heartbeat, queueName = api.config.queueName): Promise<void> {
  const key = heartbeatKeys(api.config.redisKeyPrefix, queueName).worker(beat.workerId);
  for (let i = 0; i < 200 && (await api.redis.exists(key)) === 0; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const send = () =>
  api.app.inject({ method: 'POST', url: '/send-otp/', payload: { phone_number: freshPhone() } });

describe('debug mode beside workers', () => {
  it('answers debug_code with no worker, or only debug workers, on the queue', async () => {
    expect((await send()).json()).toHaveProperty('debug_code');
    const beat = workerBeat('debug');
    beat.start();
    await beatWritten(beat);
    expect((await send()).json()).toHaveProperty('debug_code');
  });

  it('leaves debug_code out, and logs an error, while a live worker reports a real provider', async () => {
    const beat = workerBeat('messaggio');
    beat.start();
    await beatWritten(beat);
    const res = await send();
    expect(res.statusCode).toBe(200);
    expect(res.json()).not.toHaveProperty('debug_code');
    expect(api.logs.text).toMatch(/"level":50.*a live worker on this queue sends real SMS/);

    // The worker stops gracefully: its heartbeat goes, and debug mode answers codes again.
    await beat.stop();
    expect((await send()).json()).toHaveProperty('debug_code');
  });

  it('ignores a real worker on another queue', async () => {
    const other = createHeartbeat({
      redis: api.redis,
      keys: heartbeatKeys(api.config.redisKeyPrefix, `${api.config.queueName}-other`),
      transport: 'messaggio',
    });
    beats.push(other);
    other.start();
    await beatWritten(other, `${api.config.queueName}-other`);
    expect((await send()).json()).toHaveProperty('debug_code');
  });
});
