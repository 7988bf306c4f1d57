import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The PostgreSQL server the tests use; every test keeps to a schema it creates and drops. */
export const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A schema name no other test (or run) uses. */
export function uniqueSchema(): string {
  return `eventy_test_${randomBytes(6).toString('hex')}`;
}

/** The tests' server URL with these store parameters in its query. */
export function pgUrl(params: Record<string, string | number>, base = POSTGRES_URL): string {
  const url = new URL(base);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, String(v));
  return url.toString();
}

/** Runs `fn` on a client of its own, closed after. */
export async function withClient<T>(fn: (c: pg.Client) => Promise<T>, url = POSTGRES_URL): Promise<T> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Drops a schema the test created (and only such a one: the name must be a test schema's). */
export async function dropSchema(schema: string, url = POSTGRES_URL): Promise<void> {
  if (!schema.startsWith('eventy_test_')) throw new Error(`not a test schema: ${schema}`);
  await withClient((c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`), url);
}
