// The benchmark's pieces (bench/): no speed is asserted here, ever; these only check that
// what `pnpm bench` starts is what it claims to start.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { normalizePhone } from '@otp/core';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { matchApiKey } from '../apps/api/src/auth/api-keys.js';
import { loadApiConfig } from '../apps/api/src/config.js';
import { loadWorkerConfig } from '../apps/worker/src/config.js';
import { apiEnv, FAKE_LOGIN, FAKE_SENDER, makeSecrets, SERVICE_QUEUE, workerEnv } from '../bench/env.ts';
import { nextPhone } from '../bench/lib/load.ts';
import { readPeakRss, startPrivateRedis } from '../bench/lib/processes.ts';
import { type Row, ratioTable, rssTable } from '../bench/lib/report.ts';

const wiring = { redisUrl: 'redis://127.0.0.1:1', fakeBaseUrl: 'http://127.0.0.1:2/api/v1' };

describe('bench env', () => {
  it('runs the API in production on the real provider path, per-IP limit off, every other protection on', () => {
    const secrets = makeSecrets();
    expect(secrets.otpSecret).toMatch(/^[0-9a-f]{64}$/);
    const config = loadApiConfig(apiEnv(wiring, secrets, { port: 3001, withApiKey: false }));
    expect(config).toMatchObject({
      nodeEnv: 'production',
      debugMode: false,
      insecureSecret: false,
      otpSecret: secrets.otpSecret,
      logLevel: 'warn',
      host: '127.0.0.1',
      port: 3001,
      queueName: SERVICE_QUEUE.name,
      queuePrefix: SERVICE_QUEUE.prefix,
      apiKeys: [],
    });
    expect(config.limits.perIpPerHour).toBe(0);
    expect(config.limits.perPhonePerHour).toBeGreaterThan(0);
    expect(config.resendCooldownSeconds).toBeGreaterThan(0);
  });

  it('gives the keyed API a hashed key that matches the key the bench presents', () => {
    const secrets = makeSecrets();
    const config = loadApiConfig(apiEnv(wiring, secrets, { port: 3001, withApiKey: true }));
    expect(config.apiKeys).toHaveLength(1);
    expect(matchApiKey(config.apiKeys, secrets.apiKey)?.perMinute).toBeGreaterThan(0);
    expect(JSON.stringify(apiEnv(wiring, secrets, { port: 3001, withApiKey: true }))).not.toContain(
      secrets.apiKey,
    );
  });

  it('sends the worker to the fake Messaggio with the same secret and queue', () => {
    const secrets = makeSecrets();
    const config = loadWorkerConfig(workerEnv(wiring, secrets, { concurrency: 50, metricsPort: 9999 }));
    expect(config).toMatchObject({
      nodeEnv: 'production',
      debugMode: false,
      debugFallback: false,
      otpSecret: secrets.otpSecret,
      concurrency: 50,
      metricsPort: 9999,
      queueName: SERVICE_QUEUE.name,
      messaggio: { baseUrl: wiring.fakeBaseUrl, login: FAKE_LOGIN, sender: FAKE_SENDER },
    });
  });
});

describe('bench phones', () => {
  it('hands out distinct, valid KZ mobile numbers', () => {
    const phones = Array.from({ length: 2000 }, () => nextPhone());
    expect(new Set(phones).size).toBe(phones.length);
    for (const phone of phones) {
      const result = normalizePhone(phone, { allowedCountries: ['KZ'] });
      expect(result, phone).toMatchObject({ ok: true, country: 'KZ', e164: phone });
    }
  });
});

describe('bench report', () => {
  it('marks a missed goal and leaves reference rows unmarked', () => {
    const rows: Row[] = [
      { path: 'a', service: '', baseline: '', ratio: '0.50×', goal: '≥ 1.20×', met: false },
      { path: 'b', service: '', baseline: '', ratio: '1.30×', goal: '≥ 1.20×', met: true },
      { path: 'c', service: '', baseline: '', ratio: '', goal: '', met: undefined },
    ];
    const lines = ratioTable(rows).split('\n');
    expect(lines[2]).toContain('**MISS**');
    expect(lines[3]).toMatch(/\| met \|$/);
    expect(lines[4]).toMatch(/\| {2}\|$/);
    const rss = rssTable([
      { process: 'API', peakRss: 200 * 1024 * 1024, hasGoal: true },
      { process: 'worker', peakRss: 100 * 1024 * 1024, hasGoal: true },
    ]).split('\n');
    expect(rss[2]).toContain('**MISS**');
    expect(rss[3]).toContain('met');
  });
});

const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

describe('bench private Redis', () => {
  it.skipIf(!hasRedisServer)(
    'starts a redis-server of its own on a free port, reports its peak RSS, and leaves nothing behind',
    async () => {
      const redis = await startPrivateRedis();
      try {
        expect(redis.port).not.toBe(6379);
        await redis.client.set('bench-test', '1');
        expect(readPeakRss(redis.child.process.pid)).toBeGreaterThan(0);
        await redis.flush();
        expect(await redis.client.dbsize()).toBe(0);
      } finally {
        await redis.stop();
      }
      expect(redis.child.process.exitCode ?? redis.child.process.signalCode).not.toBeNull();
      const probe = new Redis(redis.url, { lazyConnect: true, retryStrategy: () => null });
      probe.on('error', () => {});
      await expect(probe.connect()).rejects.toThrow();
      probe.disconnect();
      expect(existsSync(redis.dir)).toBe(false);
    },
  );
});
