// pnpm bench: the built service as a user runs it (API and worker as separate processes,
// a private redis-server, the fake Messaggio over real HTTP), driven by autocannon over
// loopback, against naive baselines measured in the same run; prints one table of ratios
// with the goals of issue 11 and writes bench/results/latest.json.
//
// Needs `pnpm build` first (`pnpm bench` runs it) and `redis-server` on PATH.
// Options (flags, or BENCH_* variables): --duration 10 --warmup 3 --connections 100
// --jobs 3000 --concurrency 50; --quick = --duration 3 --warmup 1 --jobs 1000;
// --set NAME=VALUE (repeatable) changes a variable of the service's API and worker, e.g.
// --set FRAUD_GUARD=off to see what a feature costs.
// Exits non-zero only when the bench itself breaks, never for a missed goal.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { normalizePhone } from '@otp/core';
import { Queue } from 'bullmq';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import {
  apiEnv,
  FAKE_LOGIN,
  FAKE_SENDER,
  makeSecrets,
  NAIVE_QUEUE,
  naiveApiEnv,
  parseOverrides,
  plainWorkerEnv,
  SERVICE_QUEUE,
  type Wiring,
  workerEnv,
} from './env.ts';
import { type LoadResult, type LoadSettings, type LoadTarget, measureHttp, nextPhone } from './lib/load.ts';
import {
  answers,
  type Child,
  cpuSeconds,
  freePort,
  killAllNow,
  type PrivateRedis,
  startChild,
  startPrivateRedis,
  stopAll,
  waitUntil,
} from './lib/processes.ts';
import {
  type DeliveryResult,
  describeDelivery,
  describeHttp,
  GOALS,
  perCpuRatio,
  percent,
  type Row,
  type RssRow,
  ratioTable,
  rssTable,
  times,
} from './lib/report.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const ENTRIES = {
  api: 'apps/api/dist/server.js',
  worker: 'apps/worker/dist/main.js',
  fakeLibrary: 'packages/messaggio/dist/index.js',
  coreLibrary: 'packages/core/dist/index.js',
};
/** A phase whose answers are more than this share unexpected measured something else. */
const MAX_UNEXPECTED_SHARE = 0.01;
const DELIVERY_TIMEOUT_MS = 90_000;
const START_TIMEOUT_MS = 20_000;

interface Settings extends LoadSettings {
  jobs: number;
  concurrency: number;
  /** Variables changed on the service's API and worker (--set NAME=VALUE), e.g. FRAUD_GUARD=off. */
  overrides: Record<string, string>;
}

function readSettings(): Settings {
  // `pnpm bench -- --quick` passes the `--` along; parseArgs would take it as the end of options.
  const args = process.argv.slice(2).filter((arg) => arg !== '--');
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: 'boolean', default: process.env.BENCH_QUICK === '1' },
      duration: { type: 'string', default: process.env.BENCH_DURATION },
      warmup: { type: 'string', default: process.env.BENCH_WARMUP },
      connections: { type: 'string', default: process.env.BENCH_CONNECTIONS },
      jobs: { type: 'string', default: process.env.BENCH_JOBS },
      concurrency: { type: 'string', default: process.env.BENCH_CONCURRENCY },
      set: { type: 'string', multiple: true, default: [] },
    },
  });
  const overrides = parseOverrides(values.set ?? []);
  const number = (name: string, value: string | undefined, fallback: number, min: number) => {
    if (value === undefined || value === '') return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n < min)
      throw new Error(`--${name} must be a number >= ${min}, got "${value}"`);
    return n;
  };
  const quick = values.quick === true;
  return {
    durationSeconds: number('duration', values.duration, quick ? 3 : 10, 1),
    warmupSeconds: number('warmup', values.warmup, quick ? 1 : 3, 0),
    connections: number('connections', values.connections, 100, 1),
    jobs: number('jobs', values.jobs, quick ? 1000 : 3000, 1),
    concurrency: number('concurrency', values.concurrency, 50, 1),
    overrides,
  };
}

const progress = (line: string) => console.error(`[bench] ${line}`);

/** Phone normalization against libphonenumber's own parse+validate of the same inputs. */
function phoneMicroBench() {
  const inputs = [
    '+7 708 804 34 14',
    '8 (708) 804-34-14',
    '87088043414',
    '7088043414',
    '+7-916-123-4567',
    '+1 212 555 0123',
  ];
  const ops = 50_000;
  const time = (run: (input: string) => unknown) => {
    for (let i = 0; i < 2000; i++) run(inputs[i % inputs.length] ?? '');
    const start = performance.now();
    for (let i = 0; i < ops; i++) run(inputs[i % inputs.length] ?? '');
    return ops / ((performance.now() - start) / 1000);
  };
  const library = time((input) => {
    const parsed = parsePhoneNumberFromString(input.replace(/[^\d+]/g, '').replace(/^8/, '+7'));
    return parsed?.isValid() && parsed.getType();
  });
  const ours = time((input) => normalizePhone(input, { allowedCountries: ['RU', 'KZ'] }));
  return { libphonenumberPerSecond: library, normalizePhonePerSecond: ours, ratio: ours / library };
}

/** Talks to bench/fake-messaggio.ts over its IPC channel. */
function fakeControl(child: Child) {
  let nextId = 1;
  return async <T extends Record<string, unknown>>(command: Record<string, unknown>, timeoutMs = 10_000) => {
    const id = nextId++;
    const answer = child.message<T & { id?: number; ok?: boolean; error?: string }>(
      (message) => message.id === id,
      timeoutMs + 5_000,
    );
    child.process.send({ ...command, id });
    const reply = await answer;
    if (reply.ok !== true) throw new Error(`fake Messaggio: ${reply.error ?? 'command failed'}`);
    return reply;
  };
}

const wallClock = () => performance.timeOrigin + performance.now();

/** Runs `task` for each of `count` items, `width` at a time. */
async function pool(count: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

async function main(): Promise<number> {
  const settings = readSettings();
  for (const entry of Object.values(ENTRIES)) {
    if (!existsSync(join(root, entry))) {
      console.error(`${entry} is missing: run "pnpm build" first (pnpm bench does).`);
      return 2;
    }
  }
  const started = Date.now();
  const loadBefore = loadavg();
  progress(
    `node ${process.version}, ${cpus().length} CPUs, load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}; ` +
      `${settings.connections} connections, ${settings.warmupSeconds} s warm-up + ${settings.durationSeconds} s per HTTP run, ` +
      `${settings.jobs} jobs per delivery run at concurrency ${settings.concurrency}` +
      (Object.keys(settings.overrides).length > 0
        ? `; the service with ${Object.entries(settings.overrides)
            .map(([name, value]) => `${name}=${value}`)
            .join(' ')}`
        : ''),
  );

  const micro = phoneMicroBench();
  progress(
    `normalizePhone ${Math.round(micro.normalizePhonePerSecond).toLocaleString('en')} ops/s vs libphonenumber ` +
      `parse+validate ${Math.round(micro.libphonenumberPerSecond).toLocaleString('en')} ops/s (${times(micro.ratio)})`,
  );

  const node = process.execPath;
  const redis: PrivateRedis = await startPrivateRedis();
  try {
    progress(`private redis-server on ${redis.url}`);
    const fake = startChild(
      'fake-messaggio',
      node,
      ['bench/fake-messaggio.ts'],
      { FAKE_LOGIN, FAKE_SENDER },
      { ipc: true, cwd: root },
    );
    const { baseUrl: fakeBaseUrl } = await fake.message<{ type?: string; baseUrl: string }>(
      (m) => m.type === 'ready',
      START_TIMEOUT_MS,
    );
    const fakeCommand = fakeControl(fake);
    const wiring: Wiring = { redisUrl: redis.url, fakeBaseUrl };
    const secrets = makeSecrets();
    const rss: RssRow[] = [];
    const cpu: Record<string, Record<string, number>> = {};

    const sendRequest = () => ({ body: JSON.stringify({ phone_number: nextPhone() }) });
    // An unknown phone: the answer is "no valid code" whatever the code.
    const verifyRequest = () => ({ body: JSON.stringify({ phone_number: nextPhone(), code: '123456' }) });

    /** One HTTP run, with the CPU the server and Redis used during the measured part. */
    const http = async (label: string, server: Child, target: LoadTarget): Promise<LoadResult> => {
      let before: (number | undefined)[] = [];
      let startedAt = 0;
      const result = await measureHttp(target, settings, {
        start() {
          startedAt = performance.now();
          before = [cpuSeconds(server.process.pid), cpuSeconds(redis.child.process.pid)];
        },
        end() {
          const seconds = (performance.now() - startedAt) / 1000;
          const after = [cpuSeconds(server.process.pid), cpuSeconds(redis.child.process.pid)];
          const share = (i: number) => {
            const a = after[i];
            const b = before[i];
            return a === undefined || b === undefined ? Number.NaN : (a - b) / seconds;
          };
          cpu[label] = { server: share(0), redis: share(1) };
        },
      });
      const usage = cpu[label];
      if (usage?.server !== undefined && Number.isFinite(usage.server)) result.serverCpuShare = usage.server;
      progress(
        `${label}: ${describeHttp(result)}` +
          (usage ? ` (CPU: server ${percent(usage.server ?? 0)}, redis ${percent(usage.redis ?? 0)})` : '') +
          `; statuses ${JSON.stringify(result.statuses)}`,
      );
      if (result.total === 0 || result.unexpected > result.total * MAX_UNEXPECTED_SHARE) {
        throw new Error(
          `${label}: ${result.unexpected} of ${result.total} answers were not ${target.expectStatus} ` +
            `(${JSON.stringify(result.statuses)}); this run measured something else. ${server.name} output:\n${server.output()}`,
        );
      }
      await redis.flush();
      return result;
    };

    /** A bench/baselines script as its own process; resolves once it says it is ready. */
    const startBaseline = async (name: string, script: string, env: Record<string, string>) => {
      const child = startChild(name, node, [script], env, { ipc: true, cwd: root });
      const ready = await child.message<{ type?: string; port?: number }>(
        (m) => m.type === 'ready',
        START_TIMEOUT_MS,
      );
      return { child, port: ready.port ?? 0 };
    };
    const stopAndRecord = async (child: Child, hasGoal: boolean) => {
      const peakRss = child.peakRss();
      await child.stop();
      rss.push({ process: child.name, peakRss, hasGoal });
    };

    // Baseline: the bare route, the ceiling of one Node process over HTTP here.
    const bare = await startBaseline('bare Fastify route', 'bench/baselines/bare-route.ts', {});
    const bareUrl = `http://127.0.0.1:${bare.port}`;
    const bareSend = await http('bare route', bare.child, {
      url: `${bareUrl}/send-otp/`,
      request: sendRequest,
      expectStatus: 200,
    });
    await stopAndRecord(bare.child, false);

    // Baselines: naive send and verify.
    const naive = await startBaseline('naive API', 'bench/baselines/naive-api.ts', naiveApiEnv(wiring));
    const naiveUrl = `http://127.0.0.1:${naive.port}`;
    const naiveSend = await http('naive send', naive.child, {
      url: `${naiveUrl}/send-otp/`,
      request: sendRequest,
      expectStatus: 200,
    });
    const naiveVerify = await http('naive verify', naive.child, {
      url: `${naiveUrl}/verify-otp/`,
      request: verifyRequest,
      expectStatus: 400,
    });
    await stopAndRecord(naive.child, false);

    // The service: the built API, open (no API keys).
    const startApi = async (name: string, withApiKey: boolean) => {
      const port = await freePort();
      const child = startChild(
        name,
        node,
        [ENTRIES.api],
        { ...apiEnv(wiring, secrets, { port, withApiKey }), ...settings.overrides },
        {
          cwd: root,
        },
      );
      const url = `http://127.0.0.1:${port}`;
      await waitUntil(`${name} was not ready`, () => answers(`${url}/health/ready`), START_TIMEOUT_MS, child);
      return { child, url };
    };
    const api = await startApi('API', false);
    const apiSend = await http('service send', api.child, {
      url: `${api.url}/send-otp/`,
      request: sendRequest,
      expectStatus: 200,
    });
    const apiVerify = await http('service verify', api.child, {
      url: `${api.url}/verify-otp/`,
      request: verifyRequest,
      expectStatus: 400,
    });

    // Delivery: jobs queued while the queue is paused (the worker idles, ready), then
    // timed from resume until the fake has accepted every SMS.
    const deliver = async (
      label: string,
      queue: Queue,
      enqueue: () => Promise<void>,
      latencyMs: number,
    ): Promise<DeliveryResult> => {
      await queue.pause();
      await enqueue();
      await fakeCommand({ type: 'setup', latencyMs });
      const reached = fakeCommand<{ at: number }>(
        { type: 'wait', accepted: settings.jobs, timeoutMs: DELIVERY_TIMEOUT_MS },
        DELIVERY_TIMEOUT_MS,
      );
      const start = wallClock();
      await queue.resume();
      const { at } = await reached;
      const seconds = (at - start) / 1000;
      const result = { jobs: settings.jobs, seconds, perSecond: settings.jobs / seconds };
      progress(`${label}, provider latency ${latencyMs} ms: ${describeDelivery(result)}`);
      await redis.flush();
      return result;
    };

    const serviceQueue = new Queue(SERVICE_QUEUE.name, {
      connection: redis.client,
      prefix: SERVICE_QUEUE.prefix,
    });
    const naiveQueue = new Queue(NAIVE_QUEUE.name, { connection: redis.client, prefix: NAIVE_QUEUE.prefix });
    try {
      const metricsPort = await freePort();
      const worker = startChild(
        'worker',
        node,
        [ENTRIES.worker],
        {
          ...workerEnv(wiring, secrets, { concurrency: settings.concurrency, metricsPort }),
          ...settings.overrides,
        },
        { cwd: root },
      );
      await waitUntil(
        'the worker was not ready',
        () => answers(`http://127.0.0.1:${metricsPort}/health/ready`),
        START_TIMEOUT_MS,
        worker,
      );
      // The service's own API issues the codes, so the worker finds each one live.
      const enqueueThroughApi = () =>
        pool(settings.jobs, 32, async () => {
          const response = await fetch(`${api.url}/send-otp/`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ phone_number: nextPhone() }),
          });
          const text = await response.text();
          if (response.status !== 200)
            throw new Error(`enqueueing through the API: ${response.status} ${text}`);
        });
      const serviceDelivery0 = await deliver('service worker', serviceQueue, enqueueThroughApi, 0);
      const serviceDelivery50 = await deliver('service worker', serviceQueue, enqueueThroughApi, 50);
      await stopAndRecord(worker, true);
      await stopAndRecord(api.child, true);

      // The service with an API key (quota on) and an Idempotency-Key on every request.
      const keyed = await startApi('API with API keys', true);
      let idempotencyKey = 0;
      const runId = secrets.apiKey.slice(0, 8);
      const keyedSend = await http('service send, API key + Idempotency-Key', keyed.child, {
        url: `${keyed.url}/send-otp/`,
        request: () => ({
          body: JSON.stringify({ phone_number: nextPhone() }),
          headers: {
            authorization: `Bearer ${secrets.apiKey}`,
            'idempotency-key': `bench-${runId}-${idempotencyKey++}`,
          },
        }),
        expectStatus: 200,
      });
      await stopAndRecord(keyed.child, true);

      // Baseline: the plain BullMQ worker posting with global fetch.
      const plain = await startBaseline(
        'plain BullMQ worker',
        'bench/baselines/plain-worker.ts',
        plainWorkerEnv(wiring, settings.concurrency),
      );
      const enqueueDirectly = async () => {
        const jobs = Array.from({ length: settings.jobs }, (_, i) => ({
          name: 'send',
          data: { phone: nextPhone(), code: String(100_000 + i), id: `naive-${i}` },
          opts: { removeOnComplete: true },
        }));
        for (let i = 0; i < jobs.length; i += 500) await naiveQueue.addBulk(jobs.slice(i, i + 500));
      };
      const plainDelivery0 = await deliver('plain worker', naiveQueue, enqueueDirectly, 0);
      const plainDelivery50 = await deliver('plain worker', naiveQueue, enqueueDirectly, 50);
      await stopAndRecord(plain.child, false);

      const fakeRss = fake.peakRss();
      await fake.stop();
      const redisRss = redis.child.peakRss();
      rss.push(
        { process: 'fake Messaggio', peakRss: fakeRss, hasGoal: false },
        { process: 'redis-server', peakRss: redisRss, hasGoal: false },
      );

      // The table.
      const bound = settings.concurrency / 0.05;
      const rows: Row[] = [
        {
          path: '`POST /send-otp/`',
          service: describeHttp(apiSend),
          baseline: `naive send: ${describeHttp(naiveSend)}`,
          ratio: times(apiSend.requestsPerSecond / naiveSend.requestsPerSecond),
          ratioPerCpu: perCpuRatio(apiSend, naiveSend),
          goal: `≥ ${times(GOALS.sendRatio)}, p99 < ${GOALS.sendP99Ms} ms`,
          met:
            apiSend.requestsPerSecond / naiveSend.requestsPerSecond >= GOALS.sendRatio &&
            apiSend.p99Ms < GOALS.sendP99Ms,
        },
        {
          path: '`POST /send-otp/`, API key + `Idempotency-Key`',
          service: describeHttp(keyedSend),
          baseline: `naive send: ${describeHttp(naiveSend)}`,
          ratio: times(keyedSend.requestsPerSecond / naiveSend.requestsPerSecond),
          ratioPerCpu: perCpuRatio(keyedSend, naiveSend),
          goal: `≥ ${times(GOALS.sendWithKeyRatio)}`,
          met: keyedSend.requestsPerSecond / naiveSend.requestsPerSecond >= GOALS.sendWithKeyRatio,
        },
        {
          path: '`POST /verify-otp/` (wrong code, unknown phone)',
          service: describeHttp(apiVerify),
          baseline: `naive verify: ${describeHttp(naiveVerify)}`,
          ratio: times(apiVerify.requestsPerSecond / naiveVerify.requestsPerSecond),
          ratioPerCpu: perCpuRatio(apiVerify, naiveVerify),
          goal: `≥ ${times(GOALS.verifyRatio)}`,
          met: apiVerify.requestsPerSecond / naiveVerify.requestsPerSecond >= GOALS.verifyRatio,
        },
        {
          path: `delivery, provider latency 0 ms, concurrency ${settings.concurrency}, ${settings.jobs.toLocaleString('en')} jobs`,
          service: describeDelivery(serviceDelivery0),
          baseline: `plain BullMQ + fetch: ${describeDelivery(plainDelivery0)}`,
          ratio: times(serviceDelivery0.perSecond / plainDelivery0.perSecond),
          goal: `≥ ${times(GOALS.delivery0Ratio)}`,
          met: serviceDelivery0.perSecond / plainDelivery0.perSecond >= GOALS.delivery0Ratio,
        },
        {
          path: `delivery, provider latency 50 ms, concurrency ${settings.concurrency}`,
          service: describeDelivery(serviceDelivery50),
          baseline: `bound C/L: ${Math.round(bound).toLocaleString('en')} SMS/s (plain BullMQ + fetch: ${describeDelivery(plainDelivery50)})`,
          ratio: percent(serviceDelivery50.perSecond / bound),
          goal: `≥ ${percent(GOALS.delivery50OfBound)} of C/L`,
          met: serviceDelivery50.perSecond / bound >= GOALS.delivery50OfBound,
        },
        {
          path: 'reference: `POST /send-otp/` against a bare Fastify route (parse the body, answer a constant)',
          service: describeHttp(apiSend),
          baseline: `bare route: ${describeHttp(bareSend)}`,
          ratio: times(apiSend.requestsPerSecond / bareSend.requestsPerSecond),
          ratioPerCpu: perCpuRatio(apiSend, bareSend),
          goal: '',
          met: undefined,
        },
      ];
      const loadAfter = loadavg();
      const seconds = (Date.now() - started) / 1000;
      console.log(
        `\n${settings.connections} connections, ${settings.warmupSeconds} s warm-up + ${settings.durationSeconds} s per HTTP run; ` +
          `node ${process.version}, ${cpus().length} CPUs; load average before ${loadBefore[0]?.toFixed(2)}, after ${loadAfter[0]?.toFixed(2)}\n`,
      );
      console.log(ratioTable(rows));
      console.log(`\n${rssTable(rss)}`);
      console.log(
        `\nnormalizePhone: ${times(micro.ratio)} the speed of libphonenumber's own parse+validate (single thread)`,
      );
      console.log(`\nfinished in ${Math.round(seconds)} s`);

      const resultsDir = join(root, 'bench', 'results');
      mkdirSync(resultsDir, { recursive: true });
      writeFileSync(
        join(resultsDir, 'latest.json'),
        `${JSON.stringify(
          {
            startedAt: new Date(started).toISOString(),
            seconds,
            node: process.version,
            cpus: cpus().length,
            loadAverage: { before: loadBefore, after: loadAfter },
            settings,
            goals: GOALS,
            http: {
              bareRoute: bareSend,
              naiveSend,
              naiveVerify,
              serviceSend: apiSend,
              serviceSendWithKeys: keyedSend,
              serviceVerify: apiVerify,
            },
            cpuShareDuringHttpRuns: cpu,
            delivery: {
              boundAt50ms: bound,
              service: { latency0: serviceDelivery0, latency50: serviceDelivery50 },
              plainWorker: { latency0: plainDelivery0, latency50: plainDelivery50 },
            },
            peakRssBytes: Object.fromEntries(rss.map((row) => [row.process, row.peakRss ?? null])),
            table: rows,
            phoneNormalization: micro,
          },
          null,
          2,
        )}\n`,
      );
      progress(`wrote bench/results/latest.json`);
    } finally {
      await Promise.allSettled([serviceQueue.close(), naiveQueue.close()]);
    }
  } finally {
    await stopAll();
    await redis.stop();
  }
  return 0;
}

// Ctrl-C or a kill: stop every child (and the private Redis) before going.
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    progress(`${signal}: stopping every process the bench started`);
    void stopAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}
// Whatever else ends this process, no child outlives it.
process.on('exit', killAllNow);

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`[bench] failed: ${err instanceof Error ? err.message : String(err)}`);
    void stopAll().finally(() => process.exit(1));
  },
);
