import {
  decodeSnapshot,
  foldStates,
  initialStates,
  isEventyError,
  openEventPositions,
  snapshotDifference,
  type LogStore,
  type Position,
  type RecordOf,
  type Snapshot,
  type SnapshotInfo,
} from '../index.js';

/** What `eventy verify` found of one snapshot. */
export interface SnapshotCheck {
  readonly ref: string;
  readonly position: Position;
  /** `ok`: it equals a fold of the log; `mismatch`, `corrupt`: a finding; `unchecked`: nothing to compare it with. */
  readonly status: 'ok' | 'mismatch' | 'corrupt' | 'unchecked';
  readonly message: string;
}

/**
 * Checks every snapshot the store keeps, oldest first: decodes it and compares it with a fold of the
 * log from the previous snapshot (or from position 0 while the log holds it) up to its position.
 */
export async function checkSnapshots(store: LogStore, signal: AbortSignal): Promise<SnapshotCheck[]> {
  const infos = (await store.listSnapshots()).reverse();
  const first = await store.first();
  let base: Snapshot | undefined =
    first === 0 ? { position: -1, time: 0, states: initialStates(), events: [] } : undefined;
  const out: SnapshotCheck[] = [];
  for (const info of infos) {
    const { ref, position } = info;
    const snap = await loadSnapshot(store, info);
    if (typeof snap === 'string') {
      out.push({ ref, position, status: 'corrupt', message: snap });
      continue; // the fold goes on from the last good one
    }
    if (!base || base.position + 1 < first) {
      out.push({ ref, position, status: 'unchecked', message: 'the records before it were removed' });
      base = snap;
      continue;
    }
    const expected = await foldOn(store, base, position, signal);
    const diff = snapshotDifference(expected, snap);
    out.push({
      ref,
      position,
      status: diff ? 'mismatch' : 'ok',
      message: diff ?? 'equals a fold of the log',
    });
    base = diff ? expected : snap;
  }
  return out;
}

/**
 * The snapshot `info` names, or why it cannot be used: damaged, unreadable (a start-up skips it too,
 * so it is a finding, not a reason to stop checking the others), or holding another position than
 * the one its name gives.
 */
async function loadSnapshot(store: LogStore, info: SnapshotInfo): Promise<Snapshot | string> {
  try {
    const snap = decodeSnapshot(await store.getSnapshot(info.ref), info.ref);
    if (snap.position === info.position) return snap;
    return `snapshot ${info.ref} holds position ${snap.position}, expected ${info.position} as its name says`;
  } catch (e) {
    if (isEventyError(e, 'corrupt-record')) return e.message;
    return `snapshot ${info.ref} cannot be read: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/**
 * Folds the log on from `base` (into its states: each base is used once) up to `position`, with the
 * open events taken from the base and the log.
 */
async function foldOn(
  store: LogStore,
  base: Snapshot,
  position: Position,
  signal: AbortSignal,
): Promise<Snapshot> {
  const states = base.states;
  const events = new Map(base.events.map((e) => [e.position, e]));
  let time = base.time;
  for await (const r of store.read({ from: base.position + 1, to: position + 1, signal })) {
    foldStates(states, r);
    time = r.time;
    if (r.type === 'event.published') events.set(r.position, r as RecordOf<'event.published'>);
  }
  const open = openEventPositions(states.dispatch).map((p) => events.get(p));
  return { position, time, states, events: open.filter((e) => e !== undefined) };
}
