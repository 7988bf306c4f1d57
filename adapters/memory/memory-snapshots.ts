import { NotFoundError } from '../../engine/errors.js';
import { checkPosition, type Position } from '../../engine/position.js';
import { checkSnapshotData, checkSnapshotRef, snapshotRef } from '../../engine/snapshot-ref.js';
import type { SnapshotInfo } from '../../engine/storage.js';

/** The snapshots of one in-memory log: copies of the bytes, by position. */
export class MemorySnapshots {
  readonly #byPosition = new Map<Position, Uint8Array>();

  put(position: Position, data: Uint8Array): SnapshotInfo {
    checkPosition('position', position);
    // A copy: the caller may reuse its buffer, and what the store holds must not change under it.
    const copy = Uint8Array.from(checkSnapshotData(data));
    this.#byPosition.set(position, copy);
    return info(position, copy);
  }

  list(): SnapshotInfo[] {
    return [...this.#byPosition].map(([p, d]) => info(p, d)).sort((a, b) => b.position - a.position);
  }

  get(ref: string): Uint8Array {
    const data = this.#byPosition.get(checkSnapshotRef(ref));
    if (data === undefined) throw new NotFoundError('snapshot', ref);
    return Uint8Array.from(data);
  }

  delete(ref: string): boolean {
    return this.#byPosition.delete(checkSnapshotRef(ref));
  }

  /** Bytes of every snapshot kept. */
  bytes(): number {
    let sum = 0;
    for (const d of this.#byPosition.values()) sum += d.length;
    return sum;
  }
}

function info(position: Position, data: Uint8Array): SnapshotInfo {
  return { ref: snapshotRef(position), position, bytes: data.length };
}
