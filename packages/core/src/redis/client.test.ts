import { describe, expect, it } from 'vitest';
import { resolveRedisTarget } from '../config/env.js';
import { ConfigError } from '../errors.js';
import { sendQueueNames, shardIndex } from '../queue/shards.js';
import { hashTagOf, parseClusterNodes } from './client.js';

describe('REDIS_CLUSTER_NODES', () => {
  it('takes host:port and redis[s]:// entries; credentials and TLS come from the first URL', () => {
    expect(parseClusterNodes('10.0.0.1:7000, 10.0.0.2:7001')).toEqual({
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
      ],
      tls: false,
    });
    expect(parseClusterNodes('rediss://app:s%40cret@redis-a:6380,redis-b:6380')).toEqual({
      nodes: [
        { host: 'redis-a', port: 6380 },
        { host: 'redis-b', port: 6380 },
      ],
      username: 'app',
      password: 's@cret',
      tls: true,
    });
    expect(parseClusterNodes('[::1]:7000').nodes).toEqual([{ host: '::1', port: 7000 }]);
  });

  it('refuses entries without a port, bad ports and an empty list', () => {
    expect(() => parseClusterNodes('redis-a')).toThrow(/"redis-a" is not host:port/);
    expect(() => parseClusterNodes('redis-a:70000')).toThrow(/no valid port/);
    expect(() => parseClusterNodes(' , ')).toThrow(/at least one/);
  });

  it('is refused beside an explicit REDIS_URL, naming both; alone it wins over the default URL', () => {
    const both = () =>
      resolveRedisTarget(
        { REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_NODES: 'b:7000' },
        { REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_NODES: 'b:7000' },
      );
    expect(both).toThrow(ConfigError);
    expect(both).toThrow(/REDIS_URL and REDIS_CLUSTER_NODES: set one, not both/);
    expect(
      resolveRedisTarget(
        { REDIS_CLUSTER_NODES: 'b:7000' },
        { REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_NODES: 'b:7000' },
      ),
    ).toEqual({ cluster: { nodes: [{ host: 'b', port: 7000 }], tls: false } });
    expect(() => resolveRedisTarget({}, { REDIS_URL: 'x', REDIS_CLUSTER_NODES: 'nope' })).toThrow(
      /REDIS_CLUSTER_NODES: "nope" is not host:port/,
    );
  });
});

describe('key layout', () => {
  it('hashes the first non-empty {…} or else the whole key, as Redis Cluster does', () => {
    expect(hashTagOf('otp:code:{+77011234567}')).toBe('+77011234567');
    expect(hashTagOf('otp:{+77011234567}:vf:ip:1.2.3.4')).toBe('+77011234567');
    expect(hashTagOf('otp:limit:budget:2026-01-01')).toBe('otp:limit:budget:2026-01-01');
    expect(hashTagOf('otp:{}:x{a}')).toBe('otp:{}:x{a}');
  });

  it('QUEUE_SHARDS=1 on one Redis is QUEUE_NAME itself; otherwise each queue has its own hash tag', () => {
    expect(sendQueueNames('otp-sms', 1, false)).toEqual(['otp-sms']);
    expect(sendQueueNames('otp-sms', 1, true)).toEqual(['{otp-sms}']);
    expect(sendQueueNames('otp-sms', 3, false)).toEqual(['{otp-sms-0}', '{otp-sms-1}', '{otp-sms-2}']);
  });

  it('picks a stable shard per phone, spread over all of them', () => {
    expect(shardIndex('+77011234567', 1)).toBe(0);
    expect(shardIndex('+77011234567', 8)).toBe(shardIndex('+77011234567', 8));
    const used = new Set(Array.from({ length: 200 }, (_, i) => shardIndex(`+7701${1_000_000 + i}`, 8)));
    expect(used.size).toBe(8);
  });
});
