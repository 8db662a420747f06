import { randomUUID } from 'node:crypto';
import { coalesceWrites } from '@otp/core';
import type { Cluster } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { countSocketWrites } from '../redis.js';
import { clusterClient } from './system.js';

describe('coalesceWrites on a Redis Cluster', () => {
  it("coalesces each node's connection, including nodes the client finds after it was made", async () => {
    // Made before it knows any node: every node connection comes later (+node).
    const cluster = clusterClient() as Cluster;
    coalesceWrites(cluster);
    const tag = `{coalesce-${randomUUID().slice(0, 8)}}`;
    const keys = Array.from({ length: 30 }, (_, i) => `test:${tag}:${i}`);
    try {
      await cluster.set(keys[0] as string, 'warm');
      // Writes per master; every command below goes to the one holding the tag's slot.
      const counters = cluster
        .nodes('master')
        .filter((master) => master.stream)
        .map(countSocketWrites);
      await Promise.all(keys.map((key, i) => cluster.set(key, String(i))));
      expect(counters.reduce((sum, counter) => sum + counter.count, 0)).toBe(1);
      expect(await cluster.get(keys[29] as string)).toBe('29');
    } finally {
      await Promise.all(keys.map((key) => cluster.del(key)));
      await cluster.quit();
    }
  });
});
