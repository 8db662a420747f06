import type { TestProject } from 'vitest/node';
import { startLocalCluster } from './local-cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** REDIS_CLUSTER_NODES of the tier's private cluster. */
    clusterNodes: string;
    /** Its data directory (a restarted node needs its nodes file and AOF). */
    clusterDir: string;
  }
}

/**
 * The cluster tier's own Redis Cluster: three masters on free loopback ports, started
 * from `redis-server` on PATH, and torn down (processes stopped, files removed) at the end.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cluster = await startLocalCluster();
  project.provide('clusterNodes', cluster.nodes);
  project.provide('clusterDir', cluster.dir);
  return () => cluster.destroy();
}
