import { TruncatedError } from '../engine/errors.js';
import type { Position } from '../engine/position.js';
import type { LogStore, SnapshotInfo } from '../engine/storage.js';
import { viewsFold, type LogViews } from '../projections/replay.js';
import type { Snapshot } from '../projections/snapshot.js';
import { decodeSnapshot } from '../projections/snapshot-codec.js';

/** The warning code of a snapshot skipped at start-up (damaged, of another format, unreadable). */
export const BAD_SNAPSHOT = 'EVENTY_BAD_SNAPSHOT';

/**
 * Where a process starts folding: the newest snapshot it can use, or position 0. Snapshots are tried
 * newest first; one that cannot be read, is damaged, is of a format this release does not read, or
 * lies beyond the head is skipped with a process warning ({@link BAD_SNAPSHOT}) and the next older one
 * is tried. One whose position is below the first retained position but one (records between it and the
 * log are gone) cannot be used, nor any older one.
 * @throws TruncatedError when no usable snapshot covers what retention removed (the log does not start at 0).
 */
export async function startingSnapshot(store: LogStore, head: Position): Promise<Snapshot | undefined> {
  const first = await store.first();
  const infos = await store.listSnapshots();
  for (const info of infos) {
    if (info.position + 1 < first) break; // this one and older ones leave a gap before the log
    const snapshot = await loadable(store, info, head);
    if (snapshot) return snapshot;
  }
  if (first > 0) throw new TruncatedError(store.url, 0, first);
  return undefined;
}

/**
 * Views to replay a log from with `replayLog(store, { into, to })`: fresh (folded from position 0) while
 * the log holds its history from 0; on a log whose older records retention removed, the views of the
 * newest usable snapshot at or before `to` (default the head), so that replays and stats still work there.
 * @throws TruncatedError when no usable snapshot at or before `to` covers the removed records.
 * @example const views = await replayLog(store, { into: await replayStart(store) });
 */
export async function replayStart(store: LogStore, to?: Position): Promise<LogViews> {
  const first = await store.first();
  if (first === 0) return viewsFold.initial();
  if (to !== undefined && to + 1 < first) throw new TruncatedError(store.url, to, first);
  const snapshot = await startingSnapshot(store, to === undefined ? await store.head() : to + 1);
  if (snapshot === undefined) throw new TruncatedError(store.url, 0, first);
  const { dispatch, workers, stats } = snapshot.states;
  return { dispatch, workers, stats, position: snapshot.position, time: snapshot.time };
}

async function loadable(store: LogStore, info: SnapshotInfo, head: Position): Promise<Snapshot | undefined> {
  try {
    if (info.position >= head) throw new Error(`its position is beyond the log's head ${head}`);
    const snapshot = decodeSnapshot(await store.getSnapshot(info.ref), info.ref);
    if (snapshot.position !== info.position) {
      throw new Error(`it holds position ${snapshot.position}, the store lists it at ${info.position}`);
    }
    return snapshot;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    process.emitWarning(`snapshot ${info.ref} at position ${info.position} skipped (${why})`, {
      code: BAD_SNAPSHOT,
    });
    return undefined;
  }
}
