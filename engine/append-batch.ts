import { InvalidArgumentError } from './errors.js';
import type { Position } from './position.js';
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
