import { createHash } from 'node:crypto';
import type { RedisClient } from '../redis/client.js';

/**
 * A Lua script run by EVALSHA, falling back to EVAL once when the server has not seen it
 * (after a restart or SCRIPT FLUSH). Unlike ioredis' defineCommand it leaves the shared
 * client untouched and keeps the call typed.
 */
export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly source: string,
    /** How many KEYS the script takes; 'variadic' when the caller decides per call. */
    readonly keyCount: number | 'variadic',
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(
    redis: RedisClient,
    keys: readonly string[],
    args: ReadonlyArray<string | number>,
  ): Promise<unknown> {
    if (this.keyCount !== 'variadic' && keys.length !== this.keyCount) {
      throw new Error(`${this.name} takes ${this.keyCount} keys, got ${keys.length}`);
    }
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
        return redis.eval(this.source, keys.length, ...keys, ...args);
      }
      throw err;
    }
  }
}
