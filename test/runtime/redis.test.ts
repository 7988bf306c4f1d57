import { runtimeContract } from '../contract/runtime-contract.js';
import { afterManagers } from '../support/manager.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';

// A key prefix per log, deleted once the test's managers are closed (never FLUSHDB).
runtimeContract({
  name: 'redis',
  url: () => {
    const prefix = uniquePrefix();
    afterManagers(() => deletePrefix(prefix));
    const url = new URL(REDIS_URL);
    url.searchParams.set('prefix', prefix);
    return Promise.resolve(url.toString());
  },
});
