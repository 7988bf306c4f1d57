import { existsSync } from 'node:fs';
import { NotFoundError, openStore, type LogStore } from '../index.js';
import { UsageError } from './errors.js';

/** The directory a `file:` URL names, or undefined for other stores. */
function fileDir(url: string): string | undefined {
  if (!url.startsWith('file:')) return undefined;
  let rest = url.slice('file:'.length);
  if (rest.startsWith('//')) rest = rest.slice(2);
  const q = rest.indexOf('?');
  return decodeURIComponent(q >= 0 ? rest.slice(0, q) : rest);
}

/**
 * Opens the store a URL names, runs `fn` with it and closes it, whatever happens. With `existing`, a
 * filesystem log must already exist: commands that only read never create an empty one by mistake.
 * @throws NotFoundError when `existing` is set and the log's directory does not exist.
 */
export async function withStore<T>(
  url: string,
  fn: (store: LogStore) => Promise<T>,
  { existing = false } = {},
): Promise<T> {
  const dir = fileDir(url);
  if (existing && dir !== undefined && dir !== '' && !existsSync(dir)) throw new NotFoundError('log', url);
  const store = await openStore(url);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** Segment files or streams of a store that has them (filesystem, Redis); undefined for the others. */
export async function segmentsOf(
  store: LogStore,
): Promise<{ base: number; name: string; bytes?: number }[] | undefined> {
  const s = store as LogStore & {
    segments?: () => Promise<{ base: number; file?: string; key?: string; bytes?: number }[]>;
  };
  if (typeof s.segments !== 'function') return undefined;
  const list = await s.segments();
  return list.map((seg) => ({
    base: seg.base,
    name: seg.file ?? seg.key ?? String(seg.base),
    ...(seg.bytes === undefined ? {} : { bytes: seg.bytes }),
  }));
}

/**
 * Checks before any worker process starts that the store opens and can be shared by processes.
 * @throws InvalidArgumentError for a bad URL or a store that lives in one process (`memory:`).
 */
export async function checkSharedStore(url: string, command: string): Promise<void> {
  await withStore(url, (store) => {
    if (!store.capabilities.multiProcess) {
      return Promise.reject(
        new UsageError(
          `${command} runs worker processes: ${url} lives in one process; use file:<dir> or redis://…`,
        ),
      );
    }
    return Promise.resolve();
  });
}

/** {@link withStore} for commands that only read: a filesystem log must exist. */
export function withExistingStore<T>(url: string, fn: (store: LogStore) => Promise<T>): Promise<T> {
  return withStore(url, fn, { existing: true });
}
