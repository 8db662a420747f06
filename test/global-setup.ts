import net from 'node:net';
import type { TestProject } from 'vitest/node';
// Brings in the ProvidedContext declaration for `redisUrl`.
import type {} from './redis.js';

const LOCAL_REDIS = 'redis://127.0.0.1:6379';

/** Sends PING over a raw socket so the setup needs no Redis client of its own. */
function redisAnswers(url: string, timeoutMs = 1000): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname || '127.0.0.1', port: Number(port || 6379) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

/**
 * Finds the Redis every integration test uses: REDIS_URL, else one answering on
 * 127.0.0.1:6379, else a testcontainer when a Docker engine answers. Tests isolate
 * themselves by key prefix and queue name; nothing here flushes a Redis it did not start.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const fromEnv = process.env.REDIS_URL;
  if (fromEnv) {
    if (!(await redisAnswers(fromEnv))) {
      throw new Error(`REDIS_URL=${fromEnv} does not answer PING. Start that Redis or unset REDIS_URL.`);
    }
    project.provide('redisUrl', fromEnv);
    return undefined;
  }
  if (await redisAnswers(LOCAL_REDIS)) {
    project.provide('redisUrl', LOCAL_REDIS);
    return undefined;
  }
  try {
    const { GenericContainer } = await import('testcontainers');
    const container = await new GenericContainer('redis:7-alpine').withExposedPorts(6379).start();
    project.provide('redisUrl', `redis://${container.getHost()}:${container.getMappedPort(6379)}`);
    return async () => {
      await container.stop();
    };
  } catch (err) {
    throw new Error(
      'Integration tests need Redis 7. None answers at 127.0.0.1:6379, REDIS_URL is unset, and no Docker ' +
        'engine is available for a testcontainer. Start one with: ' +
        'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no ' +
        `(or set REDIS_URL). Cause: ${(err as Error).message}`,
    );
  }
}
