import { afterAll, expect, it } from 'vitest';
import { openPostgresStore } from '../../adapters/postgres/index.js';
import type { StoredRecord } from '../../engine/records.js';
import { draft } from '../contract/log-store-contract.js';
import { dropSchema, POSTGRES_URL, uniqueSchema } from '../support/postgres.js';

// A server, database or role may set bytea_output = 'escape' (PostgreSQL's format before 9.0): reads
// must not take every body for hex. PGOPTIONS reaches every connection the store opens.
const schema = uniqueSchema();
const before = process.env.PGOPTIONS;
afterAll(async () => {
  if (before === undefined) delete process.env.PGOPTIONS;
  else process.env.PGOPTIONS = before;
  await dropSchema(schema);
});

it('reads records back when the server sends bytea in the escape format', async () => {
  process.env.PGOPTIONS = '-c bytea_output=escape';
  await using store = await openPostgresStore(POSTGRES_URL, { schema });
  await store.append([draft(1), draft(2)]);
  const read: StoredRecord[] = [];
  for await (const r of store.read()) read.push(r);
  expect(read.map((r) => (r as unknown as { eventId: string }).eventId)).toEqual(['e1', 'e2']);
});
