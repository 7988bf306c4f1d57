import { runtimeContract } from '../contract/runtime-contract.js';
import { afterManagers } from '../support/manager.js';
import { dropSchema, pgUrl, uniqueSchema } from '../support/postgres.js';

// A schema per log, dropped once the test's managers are closed (never one the test did not create).
runtimeContract({
  name: 'postgres',
  url: () => {
    const schema = uniqueSchema();
    afterManagers(() => dropSchema(schema));
    return Promise.resolve(pgUrl({ schema }));
  },
});
