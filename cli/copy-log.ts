import { isDeepStrictEqual } from 'node:util';
import {
  InvalidArgumentError,
  isEventyError,
  type StoredRecord,
  type LogStore,
  type Position,
} from '../index.js';

/** What a copy did. */
export interface CopyOutcome {
  /** The target's head before the copy: where it resumed. */
  readonly from: Position;
  /** The source's head: the target's head after the copy. */
  readonly to: Position;
  readonly copied: number;
}

const BATCH = 1000;

async function recordAt(store: LogStore, position: Position): Promise<StoredRecord | undefined> {
  for await (const r of store.read({ from: position, to: position + 1 })) return r;
  return undefined;
}

/**
 * Where the copy into an empty `target` starts: the source's first retained position. When retention
 * removed older records, the source's newest snapshot is copied first, so that the copy folds from it.
 */
async function copyStart(source: LogStore, target: LogStore): Promise<Position> {
  const first = await source.first();
  if (first === 0) return 0;
  const [newest] = await source.listSnapshots();
  if (newest === undefined) return first;
  await target.putSnapshot(newest.position, await source.getSnapshot(newest.ref));
  return first;
}

/**
 * The first batch of a copy that starts at a later position than 0 (the source's older records were
 * removed). Redis and PostgreSQL logs cannot start there: the snapshot just copied is taken back and the
 * copy refused with what went wrong, instead of a bare conflict and a target holding only a snapshot.
 */
async function firstReplicate(source: LogStore, target: LogStore, batch: StoredRecord[]): Promise<void> {
  try {
    await target.replicate(batch);
  } catch (e) {
    if (!isEventyError(e, 'conflict')) throw e;
    const [snapshot] = await target.listSnapshots();
    if (snapshot !== undefined) await target.deleteSnapshot(snapshot.ref);
    throw new InvalidArgumentError(
      `${target.url} cannot start a log at position ${batch[0]?.position} (it takes copies from position 0 only), and ${source.url} starts there because retention removed the records before; copy it into a file: or memory: store`,
      { cause: e },
    );
  }
}

/**
 * Copies `source` into `target` with `replicate` (positions, times and versions kept), from the
 * target's head on, so an interrupted copy resumes where it stopped. The target must be empty or a
 * prefix of the source: its last record must equal the source's at the same position.
 * @throws Error when the target holds records the source does not have.
 */
export async function copyLog(
  source: LogStore,
  target: LogStore,
  options: { signal?: AbortSignal; onProgress?: (done: Position, total: Position) => void } = {},
): Promise<CopyOutcome> {
  const from = await target.head();
  const to = await source.head();
  if (from > to) {
    throw new Error(
      `${target.url} has ${from} records but ${source.url} only ${to}: it is not a copy of this log`,
    );
  }
  if (from > 0) {
    const [a, b] = await Promise.all([recordAt(source, from - 1), recordAt(target, from - 1)]);
    if (!isDeepStrictEqual(a, b)) {
      throw new Error(
        `${target.url} is not a copy of ${source.url}: their records at position ${from - 1} differ`,
      );
    }
  }
  const start = from === 0 ? await copyStart(source, target) : from;
  let batch: StoredRecord[] = [];
  let copied = 0;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    if (copied === 0 && from === 0 && start > 0) await firstReplicate(source, target, batch);
    else await target.replicate(batch);
    copied += batch.length;
    batch = [];
    options.onProgress?.(start + copied, to);
  };
  try {
    for await (const r of source.read({
      from: start,
      to,
      ...(options.signal ? { signal: options.signal } : {}),
    })) {
      batch.push(r);
      if (batch.length >= BATCH) await flush();
    }
  } catch (e) {
    if (options.signal?.aborted !== true) throw e;
  }
  // An aborted read ends early: what was read is still copied, so the next run resumes after it.
  await flush();
  return { from: start, to: start + copied, copied };
}
