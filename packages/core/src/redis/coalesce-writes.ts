import type { Duplex } from 'node:stream';
import type { Cluster, Redis } from 'ioredis';
import type { RedisClient } from './client.js';

const coalesced = new WeakSet<Duplex>();

/**
 * Holds what one turn of the event loop writes to the socket and sends it in one write
 * (a writev) at the end of the turn, on every connection the client makes, now and after
 * each reconnect (a cluster's node connections included).
 *
 * ioredis writes each command to its socket as it is issued, one system call apiece: on
 * loopback that call, not Redis, was a fifth of the API's CPU per send (`pnpm
 * bench:profile send`). Under load, a turn runs many requests' commands (the HTTP requests
 * that arrived together, the continuations of the replies one read brought in), and they
 * now share one write. Unlike ioredis' auto-pipelining, nothing waits for an earlier
 * batch's replies: a command stuck on a dying connection holds no other request, and
 * every command keeps its own promise, timeout and reply. The cost is the rest of the
 * turn's work (microseconds) on a command issued early in it.
 */
export function coalesceWrites(client: RedisClient): void {
  if (client.isCluster) {
    const cluster = client as Cluster;
    for (const node of cluster.nodes()) coalesceNode(node);
    cluster.on('+node', (node: Redis) => coalesceNode(node));
    return;
  }
  coalesceNode(client as Redis);
}

function coalesceNode(redis: Redis): void {
  if (redis.stream) coalesceStream(redis.stream);
  // A reconnect makes a new socket; 'connect' comes before the ready check's first write.
  redis.on('connect', () => coalesceStream(redis.stream));
}

function coalesceStream(stream: Duplex | undefined): void {
  if (!stream || coalesced.has(stream)) return;
  coalesced.add(stream);
  const write = stream.write;
  let corked = false;
  const flush = () => {
    corked = false;
    stream.uncork();
  };
  stream.write = function coalescedWrite(this: Duplex, ...args: Parameters<Duplex['write']>) {
    if (!corked) {
      corked = true;
      stream.cork();
      setImmediate(flush);
    }
    return write.apply(this, args);
  } as Duplex['write'];
}
