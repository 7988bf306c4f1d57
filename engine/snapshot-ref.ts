import { InvalidArgumentError } from './errors.js';
import type { Position } from './position.js';

const REF = /^snapshot-(\d{20})\.cbor$/;

/**
 * The name a store gives the snapshot at `position`: `snapshot-<position, 20 digits>.cbor`, so names sort
 * by position and carry it (a file name, a key suffix, a row's ref alike).
 */
export function snapshotRef(position: Position): string {
  return `snapshot-${String(position).padStart(20, '0')}.cbor`;
}

/** The position a snapshot ref names; undefined for any other name (a temp file, a stray). */
export function snapshotRefPosition(ref: string): Position | undefined {
  const m = REF.exec(ref);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/**
 * Checks a ref given to `getSnapshot` / `deleteSnapshot`: only names {@link snapshotRef} makes (never a
 * path, so a ref cannot reach outside the store's snapshots).
 * @throws InvalidArgumentError for anything else.
 */
export function checkSnapshotRef(ref: unknown): Position {
  const position = typeof ref === 'string' ? snapshotRefPosition(ref) : undefined;
  if (position === undefined) {
    throw new InvalidArgumentError(
      `snapshot ref must look like "snapshot-<20 digits>.cbor", got: ${JSON.stringify(ref)}`,
    );
  }
  return position;
}

/** Checks the bytes given to `putSnapshot`. */
export function checkSnapshotData(data: unknown): Uint8Array {
  if (!(data instanceof Uint8Array)) {
    throw new InvalidArgumentError(`snapshot data must be a Uint8Array, got: ${typeof data}`);
  }
  return data;
}
