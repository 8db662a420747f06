// Benchmarks, reported as ratios to a baseline measured in the same run, so the numbers
// mean something on any machine. Run: pnpm bench (needs Redis, like the tests).
//
//  1. Phone normalization vs libphonenumber's own parse+validate of the same inputs:
//     what our candidate logic costs on top of the library.
//  2. POST /send-otp/ and POST /verify-otp/ through the real app (inject, real Redis, real
//     BullMQ queue) vs a route that does one Redis PING: how many Redis round trips'
//     worth of work one OTP request costs.
//  3. Heap growth after many sends, to catch a leak per request.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createApp } from '@otp/api';
import { loadApiConfig } from '@otp/api/config';
import { createLogger, normalizePhone } from '@otp/core';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const silent = createLogger({ service: 'bench', level: 'silent' });

interface Result {
  name: string;
  ops: number;
  perSecond: number;
}

async function measure(
  name: string,
  ops: number,
  run: (i: number) => Promise<unknown> | unknown,
  concurrency = 1,
) {
  for (let i = 0; i < Math.min(200, ops); i++) await run(i); // warm-up: JIT, connections, script cache
  const start = performance.now();
  if (concurrency === 1) {
    for (let i = 0; i < ops; i++) await run(i);
  } else {
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < ops) await run(next++);
      }),
    );
  }
  const seconds = (performance.now() - start) / 1000;
  return { name, ops, perSecond: ops / seconds } satisfies Result;
}

function report(title: string, baseline: Result, others: Result[]) {
  console.log(`\n${title}`);
  console.log(`  baseline  ${baseline.name}: ${Math.round(baseline.perSecond).toLocaleString('en')} ops/s`);
  for (const r of others) {
    const ratio = baseline.perSecond / r.perSecond;
    console.log(
      `  ${r.name}: ${Math.round(r.perSecond).toLocaleString('en')} ops/s = ${ratio.toFixed(2)}x the baseline's cost per op`,
    );
  }
}

// Real-world spellings, as the normalization table tests them.
const inputs = [
  '+7 708 804 34 14',
  '8 (708) 804-34-14',
  '87088043414',
  '7088043414',
  '+7-916-123-4567',
  '+1 212 555 0123',
];
const asTyped = (i: number) => inputs[i % inputs.length] ?? '';

const libOnly = await measure('libphonenumber parse+isValid+getType', 50_000, (i) => {
  const parsed = parsePhoneNumberFromString(
    asTyped(i)
      .replace(/[^\d+]/g, '')
      .replace(/^8/, '+7'),
  );
  return parsed?.isValid() && parsed.getType();
});
const ours = await measure('normalizePhone', 50_000, (i) =>
  normalizePhone(asTyped(i), { allowedCountries: ['RU', 'KZ'] }),
);
report('Phone normalization (single thread)', libOnly, [ours]);

// HTTP benchmarks against the real app.
const prefix = `bench:${randomUUID().slice(0, 8)}:`;
const queue = prefix.replaceAll(':', '-').replace(/-$/, '');
const config = loadApiConfig({
  NODE_ENV: 'test',
  REDIS_URL,
  REDIS_KEY_PREFIX: prefix,
  QUEUE_NAME: queue,
  OTP_SECRET: 'bench-secret-0123456789abcdef0123456789',
  OTP_DEBUG: 'true',
  LOG_LEVEL: 'silent',
  OTP_RESEND_COOLDOWN_SECONDS: '0',
  OTP_SENDS_PER_PHONE_PER_HOUR: '0',
  OTP_SENDS_PER_PHONE_PER_DAY: '0',
  OTP_SENDS_PER_IP_PER_HOUR: '0',
  OTP_FAILED_VERIFIES_PER_PHONE_PER_HOUR: '0',
  OTP_FAILED_VERIFIES_PER_PHONE_CEILING: '0',
  OTP_VERIFIES_PER_IP_PER_HOUR: '0',
  RATE_LIMIT_PER_IP_PER_MINUTE: '0',
  SMS_DAILY_BUDGET: '0',
});
const app = await createApp({ config, logger: silent });
await app.ready();

const floor = Fastify({ loggerInstance: silent });
const floorRedis = new Redis(REDIS_URL);
floor.post('/ping', async () => ({ pong: await floorRedis.ping() }));
await floor.ready();

const SENDS = 4000;
const CONCURRENCY = 32;
const phone = (i: number) => `+7708${String(1_000_000 + (i % 8_000_000)).padStart(7, '0')}`;
const codes = new Map<string, string>();

const baseline = await measure(
  'Fastify route doing one Redis PING',
  SENDS,
  () => floor.inject({ method: 'POST', url: '/ping', payload: {} }),
  CONCURRENCY,
);
globalThis.gc?.();
const heapBefore = process.memoryUsage().heapUsed;
const send = await measure(
  'POST /send-otp/ (normalize, limits+store in one script, enqueue)',
  SENDS,
  async (i) => {
    const res = await app.inject({ method: 'POST', url: '/send-otp/', payload: { phone_number: phone(i) } });
    codes.set(phone(i), res.json().debug_code);
  },
  CONCURRENCY,
);
const verify = await measure(
  'POST /verify-otp/ (normalize, one atomic script)',
  SENDS,
  (i) =>
    app.inject({
      method: 'POST',
      url: '/verify-otp/',
      payload: { phone_number: phone(i), code: codes.get(phone(i)) },
    }),
  CONCURRENCY,
);
report(`HTTP, in-process inject, concurrency ${CONCURRENCY}, real Redis`, baseline, [send, verify]);

globalThis.gc?.();
const heapAfter = process.memoryUsage().heapUsed;
console.log(
  `\nHeap: ${((heapAfter - heapBefore) / 1024 / 1024).toFixed(1)} MiB growth over ${2 * SENDS + 400} requests` +
    (globalThis.gc ? '' : ' (run with --expose-gc for a settled figure)'),
);

await app.sendQueue.obliterate({ force: true });
await app.close();
await floor.close();
const cleanup = new Redis(REDIS_URL);
let cursor = '0';
do {
  const [next, keys] = await cleanup.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
  cursor = next;
  if (keys.length > 0) await cleanup.unlink(...keys);
} while (cursor !== '0');
await Promise.all([cleanup.quit(), floorRedis.quit()]);
