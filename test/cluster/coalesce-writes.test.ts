import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { coalesceWrites } from '@otp/core';
import type { Cluster } from 'ioredis';
import { describe, expect, it } from 'vitest';
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
      const counts = new Map<unknown, number>();
      for (const master of cluster.nodes('master')) {
        const socket = master.stream as Socket & {
          _write: (...args: unknown[]) => void;
          _writev: (...args: unknown[]) => void;
        };
        if (!socket) continue;
        counts.set(master, 0);
        const write = socket._write;
        const writev = socket._writev;
        socket._write = function (this: unknown, ...args: unknown[]) {
          counts.set(master, (counts.get(master) ?? 0) + 1);
          return write.apply(this, args);
        };
        socket._writev = function (this: unknown, ...args: unknown[]) {
          counts.set(master, (counts.get(master) ?? 0) + 1);
          return writev.apply(this, args);
        };
      }
      await Promise.all(keys.map((key, i) => cluster.set(key, String(i))));
      expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(1);
      expect(await cluster.get(keys[29] as string)).toBe('29');
    } finally {
      await Promise.all(keys.map((key) => cluster.del(key)));
      await cluster.quit();
    }
  });
});
