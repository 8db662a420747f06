import { Agent } from 'node:http';
import { describe, expect, it } from 'vitest';
import { baseEnv, type HttpAnswer, phone, postJson, report, startApi, useFaultsFixture } from './harness.js';

const fixture = useFaultsFixture();

const CONNECTIONS = 100;
const REQUESTS = 4000;

/** A saturating benchmark: 100 keep-alive connections, each sending back to back. */
async function saturate(base: string): Promise<HttpAnswer[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const answers: HttpAnswer[] = [];
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (next < REQUESTS) {
          const i = next++;
          answers.push(await postJson(base, '/send-otp/', { phone_number: phone(i) }, { agent }));
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  return answers;
}

describe('load shedding (under-pressure) in a real API process', () => {
  it('with the default limits, a saturating 100-connection benchmark gets ≥ 99 % 200s', async () => {
    const redis = await fixture.startRedis();
    const api = await startApi(baseEnv(redis.url));
    const answers = await saturate(api.base);
    const ok = answers.filter((a) => a.status === 200).length;
    report(
      `${CONNECTIONS} connections, ${REQUESTS} sends, default limits: ${((ok / REQUESTS) * 100).toFixed(2)} % 200`,
    );
    expect(ok / REQUESTS).toBeGreaterThanOrEqual(0.99);
  });

  it('with a low event-loop limit, sheds that load with 503 SERVICE_OVERLOADED and Retry-After', async () => {
    const redis = await fixture.startRedis();
    const api = await startApi({ ...baseEnv(redis.url), OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '1' });
    const answers = await saturate(api.base);
    const shed = answers.filter((a) => a.status === 503);
    report(
      `${CONNECTIONS} connections, OVERLOAD_MAX_EVENT_LOOP_DELAY_MS=1: ${shed.length} of ${REQUESTS} shed`,
    );
    expect(shed.length).toBeGreaterThan(0);
    for (const a of shed) {
      expect(JSON.parse(a.body).code).toBe('SERVICE_OVERLOADED');
      expect(a.headers['retry-after']).toBe('5');
    }
    expect(answers.every((a) => a.status === 200 || a.status === 503)).toBe(true);
  });
});
