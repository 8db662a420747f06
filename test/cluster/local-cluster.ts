import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';

const run = promisify(execFile);

/** True when nothing listens on 127.0.0.1:port. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free port whose cluster bus port (+10000) is free too. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if (taken.has(port) || taken.has(port + 10_000) || taken.has(port - 10_000)) continue;
    if ((await portFree(port)) && (await portFree(port + 10_000))) return port;
  }
  throw new Error('no free port pair for a cluster node');
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** One INFO-like command to one node, on a short-lived connection. */
async function ask(port: number, ...args: string[]): Promise<unknown> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.call(args[0] as string, ...args.slice(1));
  } finally {
    client.disconnect();
  }
}

export interface LocalCluster {
  ports: readonly number[];
  /** `127.0.0.1:p1,127.0.0.1:p2,…`, as REDIS_CLUSTER_NODES takes it. */
  nodes: string;
  dir: string;
  /** Stops every node and removes the data directory. */
  destroy(): Promise<void>;
}

/** The command line of one node: its port, its own nodes file, AOF on so a restart keeps data. */
export function nodeArgs(port: number, dir: string): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    join(dir, `nodes-${port}.conf`),
    // Slots of a master that is down fail alone; the other masters keep answering.
    '--cluster-require-full-coverage',
    'no',
    '--cluster-node-timeout',
    '5000',
    '--dir',
    dir,
    '--dbfilename',
    `dump-${port}.rdb`,
    '--appendfilename',
    `appendonly-${port}.aof`,
    '--appenddirname',
    `aof-${port}`,
    '--save',
    '',
    '--appendonly',
    'yes',
    '--appendfsync',
    'everysec',
    '--daemonize',
    'no',
  ];
}

/** Starts one node process; resolves once it answers PING. */
export async function startNode(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn('redis-server', nodeArgs(port, dir), { stdio: 'ignore' });
  child.unref();
  await waitFor(`redis-server on ${port}`, async () => (await ask(port, 'PING')) === 'PONG', 30_000);
  return child;
}

/** Whether every node says cluster_state:ok. */
export async function clusterOk(ports: readonly number[]): Promise<boolean> {
  for (const port of ports) {
    const info = String(await ask(port, 'CLUSTER', 'INFO'));
    if (!info.includes('cluster_state:ok')) return false;
  }
  return true;
}

/** Asks one node to stop (SHUTDOWN: it writes its AOF first); fine if it is already gone. */
export async function stopNode(port: number): Promise<void> {
  await ask(port, 'SHUTDOWN').catch(() => {});
  await waitFor(`redis-server on ${port} to stop`, () => portFree(port), 30_000);
}

/**
 * Three masters, no replicas, on free loopback ports, with `redis-cli --cluster create`;
 * resolves once every node reports cluster_state:ok.
 */
export async function startLocalCluster(): Promise<LocalCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'otp-cluster-'));
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freeClusterPort(taken);
    taken.add(port);
    ports.push(port);
  }
  const children: ChildProcess[] = [];
  const destroy = async () => {
    await Promise.all(ports.map((port) => stopNode(port)));
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) children.push(await startNode(port, dir));
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...ports.map((port) => `127.0.0.1:${port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { timeout: 60_000 },
    );
    await waitFor('cluster_state:ok on every node', () => clusterOk(ports), 60_000);
  } catch (err) {
    await destroy();
    throw err;
  }
  return { ports, nodes: ports.map((port) => `127.0.0.1:${port}`).join(','), dir, destroy };
}
