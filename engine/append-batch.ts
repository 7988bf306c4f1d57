import { ConflictError, InvalidArgumentError } from './errors.js';
import { checkPosition, type Position } from './position.js';
import type { StoredRecord, RecordDraft } from './records.js';

/** Checks an append batch at the edge, before any I/O. */
export function checkDrafts(input: readonly RecordDraft[]): void {
  const records: unknown = input;
  if (!Array.isArray(records) || records.length === 0) {
    throw new InvalidArgumentError(`append needs a non-empty array of records, got: ${describe(records)}`);
  }
  for (const [i, r] of (records as unknown[]).entries()) {
    const type: unknown = typeof r === 'object' && r !== null ? (r as { type?: unknown }).type : undefined;
    if (typeof type !== 'string' || type.length === 0) {
      throw new InvalidArgumentError(
        `record ${i} must be an object with a non-empty string type, got: ${describe(r)}`,
      );
    }
  }
}

/**
 * Encodes each draft with `encode`; a value CBOR cannot carry (a function, a symbol) is the caller's
 * error, raised as `invalid-argument` naming the record, before anything is written.
 */
export function encodeDrafts<T>(
  drafts: readonly RecordDraft[],
  encode: (draft: RecordDraft, i: number) => T,
): T[] {
  return drafts.map((draft, i) => {
    try {
      return encode(draft, i);
    } catch (e) {
      throw new InvalidArgumentError(`record ${i} cannot be stored: ${(e as Error).message}`, { cause: e });
    }
  });
}

/** Checks a replicate batch: stamped, contiguous, continuing at `head`. Returns false when it does not. */
export function continuesAt(records: readonly StoredRecord[], head: Position): boolean {
  return records.every(
    (r, i) => r.position === head + i && typeof r.time === 'number' && typeof r.v === 'number',
  );
}

/**
 * Checks a {@link LogStore.replicate} batch at the edge: an array of stamped records with contiguous
 * positions. Returns the first position, or undefined for an empty batch (nothing to do).
 * @throws InvalidArgumentError for a non-array or records without a numeric `v` and `time`.
 * @throws ConflictError when the positions are not contiguous.
 */
export function checkReplica(records: readonly StoredRecord[]): Position | undefined {
  const list: unknown = records;
  if (!Array.isArray(list)) {
    throw new InvalidArgumentError(`replicate needs an array of records, got: ${typeof records}`);
  }
  const first = records[0];
  if (first === undefined) return undefined;
  const from = checkPosition('position of the first record', first.position);
  const gap = records.findIndex((r, i) => r.position !== from + i);
  if (gap !== -1) throw new ConflictError(from + gap, records[gap]?.position ?? -1);
  if (!continuesAt(records, from)) {
    throw new InvalidArgumentError('replicate needs stamped records, each with a numeric v and time');
  }
  return from;
}

/** Log time for a new batch: the wall clock, but never before the last time given. */
export function nextTime(last: number, now = Date.now()): number {
  return now > last ? now : last;
}

function describe(value: unknown): string {
  try {
    return (JSON.stringify(value) as string | undefined)?.slice(0, 80) ?? String(value);
  } catch {
    return String(value);
  }
}
