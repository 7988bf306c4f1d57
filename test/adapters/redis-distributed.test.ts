import { afterAll } from 'vitest';
import { distributedSuite } from '../contract/distributed.js';
import { deletePrefix, keysUnder, REDIS_URL, uniquePrefix } from '../support/redis.js';

// The same multi-process guarantees on Redis: every test on its own key prefix, deleted afterwards.
const prefixes: string[] = [];

distributedSuite('redis', () => {
  const prefix = uniquePrefix();
  prefixes.push(prefix);
  const url = new URL(REDIS_URL);
  url.searchParams.set('prefix', prefix);
  return Promise.resolve({ url: url.toString(), cleanup: () => deletePrefix(prefix) });
});

// A test's cleanup runs while its surviving workers may still beat (the suite kills them after each
// test): delete again once they are gone, and check that nothing is left.
afterAll(async () => {
  for (const prefix of prefixes) {
    await deletePrefix(prefix);
    const left = await keysUnder(prefix);
    if (left.length > 0) throw new Error(`keys left under ${prefix}: ${left.join(', ')}`);
  }
});
