import { InvalidArgumentError } from './errors.js';
import type { Position } from './position.js';
import type { RetentionPolicy, SnapshotKeeping } from './storage.js';

const DURATION_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const BYTE_UNITS: Record<string, number> = {
  B: 1,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
};

/**
 * Reads a retention duration such as `7d`, `12h`, `90m` or `30s` (an integer and one of s, m, h, d).
 * @returns milliseconds.
 * @throws InvalidArgumentError naming the option and the accepted units.
 */
export function parseDuration(name: string, text: string): number {
  const m = /^(\d{1,12})(s|m|h|d)$/.exec(text.trim());
  const unit = m?.[2] === undefined ? undefined : DURATION_UNITS[m[2]];
  if (m?.[1] === undefined || unit === undefined) {
    throw new InvalidArgumentError(
      `${name} must be an integer with a unit s, m, h or d (e.g. 7d, 12h, 90m), got: ${JSON.stringify(text)}`,
    );
  }
  return Number(m[1]) * unit;
}

/**
 * Reads a size such as `10GiB`, `512MiB`, `64KiB` or `1000B` (an integer and one of B, KiB, MiB, GiB, TiB).
 * @throws InvalidArgumentError naming the option and the accepted units.
 */
export function parseByteSize(name: string, text: string): number {
  const m = /^(\d{1,15})(B|KiB|MiB|GiB|TiB)$/.exec(text.trim());
  const unit = m?.[2] === undefined ? undefined : BYTE_UNITS[m[2]];
  if (m?.[1] === undefined || unit === undefined || !Number.isSafeInteger(Number(m[1]) * unit)) {
    throw new InvalidArgumentError(
      `${name} must be an integer with a unit B, KiB, MiB, GiB or TiB (e.g. 10GiB), got: ${JSON.stringify(text)}`,
    );
  }
  return Number(m[1]) * unit;
}

/** The URL query parameters that carry a retention policy; every store URL accepts them. */
export const RETENTION_PARAMS = ['retention', 'retentionBytes'] as const;

/**
 * The retention policy of a store URL's `?retention=7d&retentionBytes=10GiB`; undefined when neither is
 * given (keep everything).
 * @throws InvalidArgumentError for a value without a known unit.
 */
export function parseRetention(params: {
  readonly retention?: string | undefined;
  readonly retentionBytes?: string | undefined;
}): RetentionPolicy | undefined {
  const { retention, retentionBytes } = params;
  if (retention === undefined && retentionBytes === undefined) return undefined;
  return {
    ...(retention !== undefined && { maxAgeMs: parseDuration('retention', retention) }),
    ...(retentionBytes !== undefined && { maxBytes: parseByteSize('retentionBytes', retentionBytes) }),
  };
}

/** Checks a policy given in code (the same bounds as the URL form). */
export function checkRetention(policy: RetentionPolicy | undefined): RetentionPolicy | undefined {
  if (policy === undefined) return undefined;
  for (const key of ['maxAgeMs', 'maxBytes'] as const) {
    const v = policy[key];
    if (v !== undefined && !(Number.isSafeInteger(v) && v >= 0)) {
      throw new InvalidArgumentError(`retention ${key} must be a non-negative integer, got: ${String(v)}`);
    }
  }
  return policy;
}

/** One segment as retention sees it: the positions `[from, to)` it holds and its bytes. */
export interface SegmentSpan {
  readonly from: Position;
  readonly to: Position;
  readonly bytes: number;
}

/**
 * How many of the oldest segments a compaction removes: a prefix of `segments` (oldest first, the last
 * one being written to), each lying entirely before `keepFrom`, not the last, and let go by the policy:
 * its newest record older than `maxAgeMs` relative to `headTime`, or the log keeping more than
 * `maxBytes` without it. A segment the policy keeps stops the prefix: the log stays contiguous.
 * `newest(i)` gives segment i's newest record time, asked only when an age limit is set.
 */
export async function segmentsToRemove(
  segments: readonly SegmentSpan[],
  keepFrom: Position,
  policy: RetentionPolicy | undefined,
  headTime: number,
  newest: (i: number) => Promise<number>,
): Promise<number> {
  if (policy === undefined || (policy.maxAgeMs === undefined && policy.maxBytes === undefined)) return 0;
  let kept = segments.reduce((sum, s) => sum + s.bytes, 0);
  let n = 0;
  for (; n < segments.length - 1; n++) {
    const s = segments[n] as SegmentSpan;
    if (s.to > keepFrom) break;
    const bySize = policy.maxBytes !== undefined && kept > policy.maxBytes;
    const byAge = !bySize && policy.maxAgeMs !== undefined && headTime - (await newest(n)) > policy.maxAgeMs;
    if (!bySize && !byAge) break;
    kept -= s.bytes;
  }
  return n;
}

/** Checks {@link CompactOptions}' `keepFrom` and `policy`. */
export function checkCompact(options: {
  readonly keepFrom: unknown;
  readonly policy?: RetentionPolicy | undefined;
}): void {
  if (typeof (options as unknown) !== 'object' || (options as unknown) === null) {
    throw new InvalidArgumentError(`compact needs { keepFrom }, got: ${JSON.stringify(options)}`);
  }
  const k = options.keepFrom;
  if (typeof k !== 'number' || !Number.isSafeInteger(k) || k < 0) {
    throw new InvalidArgumentError(`keepFrom must be a non-negative integer position, got: ${String(k)}`);
  }
  checkRetention(options.policy);
}

/**
 * Deletes the snapshots that no longer lead anywhere: a snapshot at P is folded forward from P + 1, so
 * once retention removed P + 1 it cannot be used. Returns how many went.
 */
export async function dropStaleSnapshots(
  store: Pick<SnapshotKeeping, 'listSnapshots' | 'deleteSnapshot'>,
  first: Position,
): Promise<number> {
  let n = 0;
  for (const s of await store.listSnapshots()) {
    if (s.position + 1 < first && (await store.deleteSnapshot(s.ref))) n++;
  }
  return n;
}
