// Redis commands and Redis CPU per send and per delivery, from INFO commandstats and
// INFO cpu of a private redis-server: `pnpm bench:commandstats [-- --sends 2000]`.
// N sends through the real API (in-process, inject, default limits on) with no worker
// running, then the N deliveries by a real worker to the fake Messaggio; the counters are
// reset before each phase and read after it. Run on a quiet machine: the CPU figures are
// the redis-server process's own (user + sys), the basis of the README's Scaling section.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createApp } from '@otp/api';
import { loadApiConfig } from '@otp/api/config';
import { createLogger, type Env } from '@otp/core';
import { createFakeMessaggio } from '@otp/messaggio/testing';
import type { Redis } from 'ioredis';
import { startPrivateRedis } from './lib/processes.ts';

const { values } = parseArgs({ options: { sends: { type: 'string', default: '2000' } } });
const N = Number(values.sends);

interface Snapshot {
  calls: Map<string, number>;
  usec: number;
  cpuSeconds: number;
}

async function snapshot(redis: Redis): Promise<Snapshot> {
  const stats = await redis.info('commandstats');
  const cpu = await redis.info('cpu');
  const calls = new Map<string, number>();
  let usec = 0;
  for (const line of stats.split('\r\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
    if (!match) continue;
    calls.set(match[1] as string, Number(match[2]));
    usec += Number(match[3]);
  }
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(cpu)?.[1] ?? 0);
  return { calls, usec, cpuSeconds: field('used_cpu_user') + field('used_cpu_sys') };
}

async function measure(redis: Redis, what: string, work: () => Promise<void>) {
  // Not counted: the CONFIG and INFO calls of the measurement itself are left out below.
  await redis.config('RESETSTAT');
  const before = await snapshot(redis);
  await work();
  const after = await snapshot(redis);
  const perOp = [...after.calls.entries()]
    .filter(([name]) => name !== 'info' && name !== 'config' && !name.startsWith('config|'))
    .map(([name, calls]) => [name, calls / N] as const)
    .sort((a, b) => b[1] - a[1]);
  const commands = perOp.reduce((sum, [, n]) => sum + n, 0);
  const cpuUsec = ((after.cpuSeconds - before.cpuSeconds) * 1e6) / N;
  const cmdUsec = after.usec / N;
  console.log(`\n${what}: ${commands.toFixed(1)} Redis commands each`);
  console.log(`  ${perOp.map(([name, n]) => `${name} ${n.toFixed(2)}`).join(', ')}`);
  console.log(
    `  Redis CPU: ${cpuUsec.toFixed(0)} usec each (process user+sys); in commands: ${cmdUsec.toFixed(0)} usec`,
  );
  return { commands, cpuUsec };
}

// The bench's own redis-server (bench/lib/processes.ts): a free port, no persistence.
const privateRedis = await startPrivateRedis();
const redis = privateRedis.client;
const fake = await createFakeMessaggio({ logins: ['bench-login'], senders: ['OTPTEST'] });
const env: Env = {
  NODE_ENV: 'production',
  REDIS_URL: privateRedis.url,
  OTP_SECRET: 'c0mmandstats-7f3a9d1e5b2c8a4f6e0d3b7a9c1e5f2a8d4b6c0e3f7a1d9b5c2e8f4a6d0b3c7e',
  MESSAGGIO_API_KEY: 'bench-login',
  MESSAGGIO_SENDER: 'OTPTEST',
  MESSAGGIO_BASE_URL: fake.baseUrl,
  LOG_LEVEL: 'silent',
  METRICS_PORT: '0',
  // Every limit on, as deployed; high enough that none refuses the run's sends.
  OTP_SENDS_PER_IP_PER_HOUR: String(N + 1),
  SMS_DAILY_BUDGET: String(N + 1),
  RATE_LIMIT_PER_IP_PER_MINUTE: '0',
  OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
  ALLOWED_COUNTRIES: 'KZ',
};
const logger = createLogger({ service: 'commandstats', level: 'silent' });
const api = await createApp({ config: loadApiConfig(env), logger });
await api.ready();

try {
  const send = await measure(redis, `send (POST /send-otp/, ${N} phones)`, async () => {
    const phones = Array.from({ length: N }, (_, i) => `+7701${String(1_000_000 + i).slice(-7)}`);
    // 20 at a time, as concurrent clients would.
    for (let i = 0; i < phones.length; i += 20) {
      const answers = await Promise.all(
        phones
          .slice(i, i + 20)
          .map((phone) =>
            api.inject({ method: 'POST', url: '/send-otp/', payload: { phone_number: phone } }),
          ),
      );
      const bad = answers.find((answer) => answer.statusCode !== 200);
      if (bad) throw new Error(`send answered ${bad.statusCode}: ${bad.body}`);
    }
  });
  const delivery = await measure(redis, `delivery (worker to the fake Messaggio, ${N} jobs)`, async () => {
    // The built worker, as deployed, in its own process.
    const worker = spawn(process.execPath, [join(import.meta.dirname, '../apps/worker/dist/main.js')], {
      env: { PATH: process.env.PATH, ...env },
      stdio: 'ignore',
    });
    try {
      while (fake.sent.length < N) {
        if (worker.exitCode !== null) throw new Error(`the worker exited with ${worker.exitCode}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      const exited = once(worker, 'exit');
      worker.kill('SIGTERM');
      await exited;
    }
  });
  const total = send.cpuUsec + delivery.cpuUsec;
  console.log(
    `\nOne Redis core: about ${Math.floor(1e6 / total)} sends/s (send + delivery = ${total.toFixed(0)} usec of Redis CPU each)`,
  );
} finally {
  await api.close();
  await fake.close();
  await privateRedis.stop();
}
