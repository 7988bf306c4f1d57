import type { Redis } from 'ioredis';

/**
 * The keys under `<prefix>:` a page of SCAN at a time (never KEYS, which blocks the server). The prefix
 * is a SCAN pattern: one with `*`, `?` or `[` matches more than itself.
 */
export async function* keyPagesUnder(redis: Redis, prefix: string): AsyncGenerator<string[]> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) yield keys;
    cursor = next;
  } while (cursor !== '0');
}

/** Deletes the keys under `<prefix>:` (SCAN + UNLINK): never anything else, never FLUSHDB. */
export async function unlinkKeysUnder(redis: Redis, prefix: string): Promise<void> {
  for await (const keys of keyPagesUnder(redis, prefix)) await redis.unlink(...keys);
}
