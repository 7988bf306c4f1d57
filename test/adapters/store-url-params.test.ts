import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../adapters/open-store.js';
import { isEventyError } from '../../engine/errors.js';
import { POSTGRES_URL, uniqueSchema } from '../support/postgres.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';
import { tempDir } from '../support/temp.js';

/** The rejection of `openStore(url)`, which must be an invalid-argument error. */
async function refused(url: string): Promise<Error> {
  const e = await openStore(url).then(
    async (store) => {
      await store.close();
      return new Error(`expected ${url} to be refused, but the store opened`);
    },
    (e: unknown) => e as Error,
  );
  expect(isEventyError(e, 'invalid-argument'), String(e)).toBe(true);
  return e;
}

// A URL that gives a parameter twice does not say which value it means: every store refuses it, naming
// the parameter, before any I/O (no directory made, no connection opened).
describe('store URLs: a query parameter given twice', () => {
  const file = async (query: string): Promise<string> => `file:${path.join(await tempDir(), 'log')}?${query}`;
  // Deleted after each test, in case a store did open (the test then fails).
  const prefixes: string[] = [];
  afterEach(() => Promise.all(prefixes.splice(0).map((p) => deletePrefix(p))));
  const redis = (query: string, base = REDIS_URL): Promise<string> => {
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    return Promise.resolve(`${base}?prefix=${prefix}&${query}`);
  };
  const postgres = (query: string): Promise<string> =>
    Promise.resolve(`${POSTGRES_URL}?schema=${uniqueSchema()}&${query}`);
  const memory = (query: string): Promise<string> => Promise.resolve(`memory:twice?${query}`);

  it.each([
    ['memory', 'retention', () => memory('retention=7d&retention=1s')],
    ['memory', 'segmentRecords', () => memory('segmentRecords=4&retentionBytes=1GiB&segmentRecords=8')],
    ['filesystem', 'retention', () => file('retention=7d&retention=1s')],
    ['filesystem', 'retentionBytes', () => file('retentionBytes=1GiB&retentionBytes=1B')],
    ['filesystem', 'segmentBytes', () => file('segmentBytes=1024&segmentBytes=2048')],
    ['redis', 'retention', () => redis('retention=7d&retention=1s')],
    ['redis', 'retentionBytes', () => redis('retentionBytes=1GiB&retentionBytes=1B')],
    ['redis', 'log', () => redis('log=a&log=b', 'redis://default:s3cret@127.0.0.1:6379')],
    ['postgres', 'retention', () => postgres('retention=7d&retention=1s')],
    ['postgres', 'retentionBytes', () => postgres('retentionBytes=1GiB&retentionBytes=1B')],
  ])('%s, %s twice: invalid-argument naming it, before any I/O', async (store, name, makeUrl) => {
    const url = await makeUrl();
    const e = await refused(url);
    expect(e.message).toContain(`${store} store URL parameter ${name} is given twice`);
    expect(e.message).toContain('give each parameter once');
    expect(e.message).not.toContain('s3cret');
    if (url.startsWith('file:')) expect(fs.existsSync(url.slice(5, url.indexOf('?')))).toBe(false);
  });

  it('each given once, the same parameters open the store', async () => {
    const store = await openStore('memory:once?segmentRecords=4&retention=7d&retentionBytes=1GiB');
    expect(store.retention).toEqual({ maxAgeMs: 7 * 86_400_000, maxBytes: 1024 ** 3 });
    await store.close();
  });
});
