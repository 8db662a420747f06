import { connect, createServer, type Server, type Socket } from 'node:net';
import { createLogger } from '@otp/core';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deleteKeys, testRedisUrl, uniquePrefix } from '../../../test/redis.js';
import { createApp } from '../src/app.js';
import { loadApiConfig } from '../src/config.js';
import { freshPhone, LogCapture } from './helper.js';

/**
 * A TCP proxy in front of the real Redis that, once armed, holds Redis's replies to the
 * API for `holdMs` from the next script call on: the script runs in Redis, its answer
 * arrives after the API's command timeout. That is a stalled Redis as the API sees it.
 */
class StallingProxy {
  private server: Server;
  private sockets = new Set<Socket>();
  private armed = false;
  private holdUntil = 0;
  port = 0;

  constructor(
    private readonly target: { host: string; port: number },
    private readonly holdMs: number,
  ) {
    this.server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      this.sockets.add(client).add(upstream);
      client.on('data', (chunk) => {
        if (this.armed && /evalsha/i.test(chunk.toString('latin1'))) {
          this.armed = false;
          this.holdUntil = Date.now() + this.holdMs;
        }
        upstream.write(chunk);
      });
      upstream.on('data', (chunk) => {
        const wait = this.holdUntil - Date.now();
        if (wait <= 0) {
          client.write(chunk);
          return;
        }
        upstream.pause();
        setTimeout(() => {
          client.write(chunk);
          upstream.resume();
        }, wait);
      });
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
  }

  /** Resolves once no answer is held any more. */
  async released(): Promise<void> {
    while (this.armed || Date.now() < this.holdUntil) await new Promise((resolve) => setTimeout(resolve, 25));
  }

  /** The next script call's answer (and everything after it) comes `holdMs` late. */
  arm(): void {
    this.armed = true;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

let proxy: StallingProxy;
let app: Awaited<ReturnType<typeof createApp>>;
let redis: Redis;
let logs: LogCapture;
let prefix: string;
let queueName: string;

beforeEach(async () => {
  const target = new URL(testRedisUrl());
  proxy = new StallingProxy({ host: target.hostname, port: Number(target.port || 6379) }, 4000);
  await proxy.listen();
  prefix = uniquePrefix('slow');
  queueName = prefix.replaceAll(':', '-').replace(/-$/, '');
  const config = loadApiConfig({
    NODE_ENV: 'test',
    OTP_DEBUG: 'true',
    REDIS_URL: `redis://127.0.0.1:${proxy.port}${target.pathname}`,
    REDIS_KEY_PREFIX: prefix,
    QUEUE_NAME: queueName,
    REDIS_COMMAND_TIMEOUT_MS: '1500',
    OTP_SECRET: 'slow-redis-secret-0123456789abcdef0123456789',
    OTP_SENDS_PER_IP_PER_HOUR: '0',
    RATE_LIMIT_PER_IP_PER_MINUTE: '0',
  });
  logs = new LogCapture();
  app = await createApp({ config, logger: createLogger({ service: 'otp-api', stream: logs }) });
  await app.ready();
  redis = new Redis(testRedisUrl());
  // One send and one verify first, so every script is loaded before an answer is held (a
  // NOSCRIPT answer held past the timeout would stop the script from ever running).
  await until('a first send', async () => (await send(freshPhone())).statusCode === 200);
  await until('a first verify', async () => (await verify(freshPhone(), '000000')).statusCode === 400);
}, 60_000);

afterEach(async () => {
  await app.close();
  await proxy.close();
  await deleteKeys(redis, prefix, `bull:${queueName}:`);
  await redis.quit();
});

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const send = (phone: string) =>
  app.inject({ method: 'POST', url: '/send-otp/', payload: { phone_number: phone } });
const verify = (phone: string, code: string, key?: string) =>
  app.inject({
    method: 'POST',
    url: '/verify-otp/',
    headers: key === undefined ? {} : { 'idempotency-key': key },
    payload: { phone_number: phone, code },
  });

// Generous bounds: the machine running the tests may be busy, and nothing here is timed.
describe('a send whose issue times out', { timeout: 60_000 }, () => {
  it('is undone by verification id in the background: the retry gets a code and an SMS', async () => {
    const phone = freshPhone();
    const day = new Date().toISOString().slice(0, 10);
    const budgetBefore = Number(await redis.get(`${prefix}limit:budget:${day}`));
    proxy.arm();
    const timedOut = await send(phone);
    expect(timedOut.statusCode).toBe(503);
    // The late issue wrote the code, the cooldown and its limit charges; the undo takes
    // every one of them back.
    await until('the undo', async () => {
      const [code, cooldown, hour, budget] = await Promise.all([
        redis.exists(`${prefix}code:{${phone}}`),
        redis.exists(`${prefix}cooldown:{${phone}}`),
        redis.zcard(`${prefix}limit:phone-hour:{${phone}}`),
        redis.get(`${prefix}limit:budget:${day}`),
      ]);
      return code === 0 && cooldown === 0 && hour === 0 && Number(budget) === budgetBefore;
    });
    await proxy.released();
    const retry = await send(phone);
    expect(retry.statusCode).toBe(200);
    expect(retry.json().debug_code).toMatch(/^\d{6}$/);
    expect(await app.sendQueue.getJob(retry.json().verification_id)).toBeTruthy();
    expect(await redis.zcard(`${prefix}limit:phone-hour:{${phone}}`)).toBe(1);
    expect(Number(await redis.get(`${prefix}limit:budget:${day}`))).toBe(budgetBefore + 1);
  });
});

describe('a verify whose answer times out', { timeout: 60_000 }, () => {
  it('answers the retry with the same Idempotency-Key with the 200 it earned', async () => {
    const phone = freshPhone();
    const code = (await send(phone)).json().debug_code as string;
    proxy.arm();
    const timedOut = await verify(phone, code, 'verify-retry-1');
    expect(timedOut.statusCode).toBe(503);
    // The script ran in Redis: the code is spent.
    await until('the late verify', async () => (await redis.exists(`${prefix}code:{${phone}}`)) === 0);
    await until('the answers to arrive', async () => {
      const res = await verify(phone, code, 'verify-retry-1');
      if (res.statusCode === 503) return false;
      expect(res.statusCode).toBe(200);
      expect(res.headers['idempotent-replayed']).toBe('true');
      expect(res.json()).toEqual({ message: 'Код подтвержден', phone_number: phone, verified: true });
      return true;
    });
  });

  it('keeps a spent code spent for a retry without a key', async () => {
    const phone = freshPhone();
    const code = (await send(phone)).json().debug_code as string;
    proxy.arm();
    const first = await verify(phone, code);
    expect(first.statusCode).toBe(503);
    await until('the late verify', async () => (await redis.exists(`${prefix}code:{${phone}}`)) === 0);
    await until('the answers to arrive', async () => {
      const res = await verify(phone, code);
      if (res.statusCode === 503) return false;
      expect(res.json()).toMatchObject({ code: 'OTP_EXPIRED' });
      return true;
    });
  });
});
