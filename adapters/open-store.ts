import { InvalidArgumentError } from '../engine/errors.js';
import { maskUrl } from '../engine/store-url.js';
import type { Durability, LogStore } from '../engine/storage.js';

/** Options understood by {@link openStore}; each store takes the ones that apply to it. */
export interface OpenStoreOptions {
  /** fsync policy of the filesystem store: `always`, `batch` (default) or `never`. */
  readonly durability?: Durability;
  /** Size at which the filesystem store rolls to a new segment; default 64 MiB. */
  readonly segmentBytes?: number;
}

/** The store used when none is named: `EVENTY_STORE`, else `file:.eventy`. */
export function defaultStoreUrl(env: NodeJS.ProcessEnv = process.env): string {
  const url = env.EVENTY_STORE;
  return url === undefined || url === '' ? 'file:.eventy' : url;
}

/**
 * Opens the log a URL names: `memory:`, `memory:<name>`, `file:<dir>`, `redis://…` / `rediss://…`
 * (see `openRedisStore`), `postgres://…` / `postgresql://…` (see `openPostgresStore`). Adapters load on use.
 * @throws InvalidArgumentError for an unknown scheme or a bad option, naming it.
 * @example await using store = await openStore('file:.eventy');
 */
export async function openStore(
  url: string = defaultStoreUrl(),
  options: OpenStoreOptions = {},
): Promise<LogStore> {
  if (typeof url !== 'string' || url === '') {
    throw new InvalidArgumentError(
      `store URL must be a non-empty string like "file:.eventy" or "memory:", got: ${JSON.stringify(url)}`,
    );
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'memory': {
      const { openMemoryStore } = await import('./memory/index.js');
      return openMemoryStore(url);
    }
    case 'file': {
      const { openFileStore } = await import('./filesystem/index.js');
      return openFileStore(url, options);
    }
    case 'redis':
    case 'rediss': {
      // Key prefix, log name and segment size travel in the URL's query (?prefix=&log=&segmentRecords=).
      const { openRedisStore } = await import('./redis/index.js');
      return openRedisStore(url);
    }
    case 'postgres':
    case 'postgresql': {
      // Schema, log, segment size, deadline and pool size travel in the URL's query
      // (?schema=&log=&segmentRecords=&timeout=&pool=&sslmode=).
      const { openPostgresStore } = await import('./postgres/index.js');
      return openPostgresStore(url);
    }
    default:
      throw new InvalidArgumentError(
        `unknown store URL ${JSON.stringify(maskUrl(url))}: expected memory:, memory:<name>, file:<dir>, redis://…, rediss://…, postgres://…`,
      );
  }
}
