import type { LogStore } from '../index.js';
import { formatCount, formatDuration } from './output.js';

/** What `eventy stats` shows of the log's history: its size, first retained position, newest snapshot. */
export interface LogHistory {
  readonly first: number;
  readonly head: number;
  readonly bytes: number;
  readonly segments: number;
  readonly snapshotBytes: number;
  /** The newest snapshot: position, bytes and age (ms of log time before the head's last record). */
  readonly newestSnapshot: { position: number; bytes: number; ageMs: number | null } | null;
}

/** The log's history. */
export async function logHistory(store: LogStore, now: number): Promise<LogHistory> {
  const size = await store.historySize();
  const [newest] = await store.listSnapshots();
  let newestSnapshot: LogHistory['newestSnapshot'] = null;
  if (newest !== undefined) {
    // The snapshot's age is that of the last record folded into it, when the log still holds it.
    let time: number | undefined;
    if (newest.position >= size.first && newest.position < size.head) {
      for await (const r of store.read({ from: newest.position, to: newest.position + 1 })) time = r.time;
    }
    newestSnapshot = {
      position: newest.position,
      bytes: newest.bytes,
      ageMs: time === undefined ? null : Math.max(0, now - time),
    };
  }
  const { first, head, bytes, segments, snapshotBytes } = size;
  return { first, head, bytes, segments, snapshotBytes, newestSnapshot };
}

/** One line for humans. */
export function historyText(h: LogHistory): string {
  const snap = h.newestSnapshot;
  const snapText =
    snap === null
      ? 'no snapshot'
      : `newest snapshot at position ${snap.position} (${formatCount(snap.bytes)} bytes` +
        (snap.ageMs === null ? ')' : `, ${formatDuration(snap.ageMs)} old)`);
  return (
    `history: ${formatCount(h.bytes)} bytes in ${formatCount(h.segments)} segment(s), ` +
    `positions ${h.first}–${Math.max(h.first, h.head - 1)} (first retained ${h.first}); ${snapText}`
  );
}
