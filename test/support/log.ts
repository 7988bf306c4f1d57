import { openStore, type OpenStoreOptions } from '../../adapters/open-store.js';
import type { Position } from '../../engine/position.js';
import type { StoredRecord } from '../../engine/records.js';
import type { LogStore } from '../../engine/storage.js';
import { dispatchFold } from '../../projections/dispatch/index.js';
import { InvariantChecker } from '../../projections/invariants.js';

/**
 * Every record of a log from the start (up to `to`, exclusive): from an open store, a manager's store,
 * or a store URL, which is opened (with `open`) and closed again.
 */
export async function readAll(
  source: LogStore | { readonly store: LogStore } | string,
  options: { readonly to?: Position; readonly open?: OpenStoreOptions } = {},
): Promise<StoredRecord[]> {
  const range = options.to === undefined ? {} : { to: options.to };
  if (typeof source !== 'string') return collect(('store' in source ? source.store : source).read(range));
  const store = await openStore(source, options.open);
  try {
    return await collect(store.read(range));
  } finally {
    await store.close();
  }
}

/** The records of an iterable, at most `limit` of them. */
export async function collect(
  records: AsyncIterable<StoredRecord>,
  limit = Infinity,
): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  if (limit <= 0) return out;
  for await (const r of records) {
    out.push(r);
    if (out.length >= limit) break;
  }
  return out;
}

/** Folds `records` from the start with the invariant checker around every record, as `eventy verify` does. */
export function foldWithInvariants(records: Iterable<StoredRecord>): InvariantChecker {
  const checker = new InvariantChecker();
  const state = dispatchFold.initial();
  for (const r of records) {
    checker.before(r, state);
    dispatchFold.evolve(state, r);
    checker.after(r, state);
  }
  return checker;
}
