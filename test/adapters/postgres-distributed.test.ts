import { afterAll } from 'vitest';
import { distributedSuite } from '../contract/distributed.js';
import { dropSchema, pgUrl, uniqueSchema } from '../support/postgres.js';

// The same multi-process guarantees on PostgreSQL: every test in a schema of its own, dropped once the
// suite's surviving workers are gone (it kills them after each test).
const schemas: string[] = [];

distributedSuite('postgres', () => {
  const schema = uniqueSchema();
  schemas.push(schema);
  return Promise.resolve({ url: pgUrl({ schema }), cleanup: () => Promise.resolve() });
});

afterAll(async () => {
  for (const schema of schemas) await dropSchema(schema);
});
