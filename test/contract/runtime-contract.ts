import { describe } from 'vitest';
import { runtimeHarness, type RuntimeStore } from '../support/manager.js';
import { deliveryContract } from './runtime/delivery.js';
import { filtersValidationContract } from './runtime/filters-validation.js';
import { inspectContract } from './runtime/inspect.js';
import { lifecycleContract } from './runtime/lifecycle.js';
import { publishContract } from './runtime/publish.js';
import { queriesContract } from './runtime/queries.js';
import { restartContract } from './runtime/restart.js';
import { retryTimeoutContract } from './runtime/retry-timeout.js';
import { streamsContract } from './runtime/streams.js';
import { subscribersContract } from './runtime/subscribers.js';

/**
 * The runtime's behaviour (delivery, retries and timeouts, lifecycle, subscribers, queries, filters and
 * validation, publish, streams, reservations, inspect, restarts) on one store backend: every backend
 * passes this suite unchanged, as every store passes the LogStore contract.
 */
export function runtimeContract(store: RuntimeStore): void {
  const h = runtimeHarness(store);
  describe(`runtime contract: ${store.name}`, () => {
    deliveryContract(h);
    retryTimeoutContract(h);
    lifecycleContract(h);
    subscribersContract(h);
    queriesContract(h);
    filtersValidationContract(h);
    publishContract(h);
    streamsContract(h);
    inspectContract(h);
    restartContract(h);
  });
}
