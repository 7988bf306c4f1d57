import { openRedisStore } from '../adapters/redis/index.js';
import { logStoreContract } from './contract/log-store-contract.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from './fixtures/redis-helpers.js';

// Segments of 7 records: the contract's tests roll segments many times.
logStoreContract('redis', () => {
  const keyPrefix = uniquePrefix();
  return Promise.resolve({
    open: () => openRedisStore(REDIS_URL, { keyPrefix, segmentRecords: 7 }),
    cleanup: () => deletePrefix(keyPrefix),
    persistent: true,
  });
});
