import { openStore, type LogStore } from '../index.js';

/** Opens the store a URL names, runs `fn` with it and closes it, whatever happens. */
export async function withStore<T>(url: string, fn: (store: LogStore) => Promise<T>): Promise<T> {
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
