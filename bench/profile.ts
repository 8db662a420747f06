// pnpm bench:profile: where the service's CPU goes on one hot path, as a table rather than a
// flame graph. Starts what `pnpm bench` starts (a private redis-server, the fake Messaggio,
// the built API or worker) with `node --cpu-prof`, drives a fixed amount of work, stops the
// process (which writes its profile) and prints CPU per operation and self time grouped by
// package, then the heaviest functions. The .cpuprofile stays in bench/results/ for
// Chrome DevTools or speedscope.
//
// pnpm bench:profile [send|send-keyed|verify|delivery|naive-send|naive-verify] [--count N]
//   [--latency MS (delivery)] [--cpu-only (no profiler: CPU per operation only)] [--set NAME=VALUE ...]
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Queue } from 'bullmq';
import {
  apiEnv,
  FAKE_LOGIN,
  FAKE_SENDER,
  makeSecrets,
  naiveApiEnv,
  parseOverrides,
  SERVICE_QUEUE,
  workerEnv,
} from './env.ts';
import { nextPhone } from './lib/load.ts';
import {
  answers,
  cpuSeconds,
  freePort,
  startChild,
  startPrivateRedis,
  stopAll,
  waitUntil,
} from './lib/processes.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const TARGETS = ['send', 'send-keyed', 'verify', 'delivery', 'naive-send', 'naive-verify'] as const;
type Target = (typeof TARGETS)[number];

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** The package (or Node's own module) a frame belongs to: what a table can add up. */
export function groupOf(url: string, functionName: string): string {
  if (url === '')
    return functionName === '' ? '(anonymous native)' : `(${functionName.replace(/[()]/g, '')})`;
  if (url.startsWith('node:')) return url.replace(/^node:internal\//, 'node:').replace(/\/.*$/, '');
  const pnpm = /node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pnpm?.[1]) return pnpm[1];
  const plain = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (plain?.[1]) return plain[1];
  const path = url.replace(/^file:\/\//, '');
  const rel = relative(root, path);
  const project = /^(apps|packages)\/([^/]+)\/(?:dist|src)\/(.+)$/.exec(rel);
  if (project) return `${project[1] === 'apps' ? project[2] : `@otp/${project[2]}`}: ${project[3]}`;
  return rel;
}

/** Now on the clock V8's profiler stamps samples with (CLOCK_MONOTONIC), in µs. */
const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);

function summarize(
  profile: CpuProfile,
  window: { from: number; to: number },
  operations: number,
  cpuMicros: number,
) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  // Only the samples taken during the measured load: start-up, warm-up and shutdown would
  // skew the shares.
  const inWindow: boolean[] = [];
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    inWindow.push(at >= window.from && at <= window.to);
  }
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    if (!inWindow[i]) continue;
    const id = profile.samples[i] as number;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = [...self.entries()]
    .filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)')
    .reduce((a, [, t]) => a + t, 0);
  const busy = total - idle;
  const groups = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, time] of self) {
    const frame = byId.get(id)?.callFrame;
    if (!frame || frame.functionName === '(idle)') continue;
    const group = groupOf(frame.url, frame.functionName);
    groups.set(group, (groups.get(group) ?? 0) + time);
    const name = `${frame.functionName || '(anonymous)'}  ${group}:${frame.lineNumber + 1}`;
    functions.set(name, (functions.get(name) ?? 0) + time);
  }
  const perOp = (micros: number) => ((micros / busy) * cpuMicros) / operations;
  const table = (title: string, rows: Map<string, number>, limit: number) => {
    console.log(`\n${title}`);
    const sorted = [...rows.entries()].sort((a, b) => b[1] - a[1]).slice(0, limit);
    for (const [name, time] of sorted) {
      console.log(
        `${((time / busy) * 100).toFixed(1).padStart(6)} %  ${perOp(time).toFixed(1).padStart(7)} µs/op  ${name}`,
      );
    }
  };
  console.log(
    `\n${operations.toLocaleString('en')} operations, ${(cpuMicros / operations).toFixed(0)} µs of process CPU each ` +
      `(user+system, from /proc), ${((busy / total) * 100).toFixed(0)} % of the profile busy`,
  );
  table('self time by package', groups, 30);
  table('self time by function', functions, 40);
}

async function main() {
  const args = process.argv.slice(2).filter((arg) => arg !== '--');
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      count: { type: 'string' },
      latency: { type: 'string', default: '0' },
      'cpu-only': { type: 'boolean', default: false },
      set: { type: 'string', multiple: true, default: [] },
    },
  });
  const target = (positionals[0] ?? 'send') as Target;
  if (!TARGETS.includes(target))
    throw new Error(`the target is one of ${TARGETS.join(', ')}, got "${target}"`);
  const count = Number(values.count ?? (target === 'delivery' ? 5000 : 20_000));
  const overrides = parseOverrides(values.set ?? []);
  const cpuOnly = values['cpu-only'] === true;
  const latencyMs = Number(values.latency);
  const profiling = (dir: string) => (cpuOnly ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  const dir = join(root, 'bench/results', `profile-${target}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });

  const node = process.execPath;
  const redis = await startPrivateRedis();
  try {
    const fake = startChild(
      'fake-messaggio',
      node,
      ['bench/fake-messaggio.ts'],
      { FAKE_LOGIN, FAKE_SENDER },
      {
        ipc: true,
        cwd: root,
      },
    );
    const { baseUrl } = await fake.message<{ type?: string; baseUrl: string }>(
      (m) => m.type === 'ready',
      20_000,
    );
    const wiring = { redisUrl: redis.url, fakeBaseUrl: baseUrl };
    const secrets = makeSecrets();
    const port = await freePort();
    const withApiKey = target === 'send-keyed';
    const naive = target.startsWith('naive-');
    const api = naive
      ? startChild(
          'naive API',
          node,
          [...profiling(dir), 'bench/baselines/naive-api.ts'],
          naiveApiEnv(wiring),
          {
            cwd: root,
            ipc: true,
          },
        )
      : startChild(
          'API',
          node,
          [...(target === 'delivery' ? [] : profiling(dir)), 'apps/api/dist/server.js'],
          { ...apiEnv(wiring, secrets, { port, withApiKey }), ...overrides },
          { cwd: root },
        );
    const naivePort = naive
      ? (await api.message<{ type?: string; port?: number }>((m) => m.type === 'ready', 20_000)).port
      : undefined;
    const url = `http://127.0.0.1:${naivePort ?? port}`;
    if (!naive) await waitUntil('the API was not ready', () => answers(`${url}/health/ready`), 20_000, api);
    let idempotencyKey = 0;
    const request = () => {
      const phone = nextPhone();
      if (target.endsWith('verify')) return { body: JSON.stringify({ phone_number: phone, code: '123456' }) };
      return {
        body: JSON.stringify({ phone_number: phone }),
        headers: withApiKey
          ? { authorization: `Bearer ${secrets.apiKey}`, 'idempotency-key': `profile-${idempotencyKey++}` }
          : undefined,
      };
    };
    const load = (path: string, amount: number) =>
      autocannon({
        url: `${url}${path}`,
        connections: 100,
        amount,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        requests: [
          {
            method: 'POST',
            setupRequest: (req) => {
              const { body, headers } = request();
              return { ...req, body, headers: { ...req.headers, ...headers } };
            },
          },
        ],
      });
    const path = target.endsWith('verify') ? '/verify-otp/' : '/send-otp/';
    let measured: { process: typeof api; before: number; from: number };
    if (target === 'delivery') {
      const queue = new Queue(SERVICE_QUEUE.name, { connection: redis.client, prefix: SERVICE_QUEUE.prefix });
      await queue.pause();
      await load(path, count);
      const metricsPort = await freePort();
      const worker = startChild(
        'worker',
        node,
        [...profiling(dir), 'apps/worker/dist/main.js'],
        { ...workerEnv(wiring, secrets, { concurrency: 50, metricsPort }), ...overrides },
        { cwd: root },
      );
      await waitUntil(
        'the worker was not ready',
        () => answers(`http://127.0.0.1:${metricsPort}/health/ready`),
        20_000,
        worker,
      );
      const fakeCommand = (command: Record<string, unknown>) => {
        const answer = fake.message<{ id?: number; ok?: boolean; error?: string }>(
          (m) => m.id === 1,
          130_000,
        );
        fake.process.send({ ...command, id: 1 });
        return answer;
      };
      await fakeCommand({ type: 'setup', latencyMs });
      const accepted = fakeCommand({ type: 'wait', accepted: count, timeoutMs: 120_000 });
      measured = { process: worker, before: cpuSeconds(worker.process.pid) ?? 0, from: monotonicMicros() };
      const started = performance.now();
      await queue.resume();
      const reply = await accepted;
      if (reply.ok !== true) throw new Error(`fake Messaggio: ${reply.error ?? 'did not receive every SMS'}`);
      const seconds = (performance.now() - started) / 1000;
      console.error(
        `[profile] ${count} SMS at provider latency ${latencyMs} ms in ${seconds.toFixed(2)} s: ` +
          `${Math.round(count / seconds)} SMS/s (C/L ${latencyMs > 0 ? Math.round((50 * 1000) / latencyMs) : '-'})`,
      );
      await queue.close();
    } else {
      await load(path, 2000);
      measured = { process: api, before: cpuSeconds(api.process.pid) ?? 0, from: monotonicMicros() };
      const result = await load(path, count);
      const statuses = Object.keys(result.statusCodeStats ?? {}).join(', ');
      console.error(
        `[profile] ${count} requests, ${Math.round(result.requests.average)} req/s, statuses ${statuses}`,
      );
    }
    const cpuMicros = ((cpuSeconds(measured.process.process.pid) ?? 0) - measured.before) * 1e6;
    const window = { from: measured.from, to: monotonicMicros() };
    const peakRss = measured.process.peakRss();
    await measured.process.stop();
    if (process.env.SHOW_OUTPUT)
      console.log(
        measured.process
          .output()
          .split('\n')
          .filter((l) => l.includes('TIMING'))
          .join('\n'),
      );
    if (cpuOnly) {
      console.log(
        `${count.toLocaleString('en')} operations, ${(cpuMicros / count).toFixed(0)} µs of process CPU each (no profiler), ` +
          `peak RSS ${Math.round((peakRss ?? 0) / 2 ** 20)} MB`,
      );
      return;
    }
    const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
    if (!file) throw new Error(`no profile written in ${dir}`);
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    summarize(profile, window, count, cpuMicros);
    console.log(`\nprofile: ${relative(root, join(dir, file))}`);
  } finally {
    await stopAll();
    await redis.stop?.();
  }
}

await main();
