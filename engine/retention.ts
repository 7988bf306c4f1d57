import { InvalidArgumentError } from './errors.js';
import type { Position } from './position.js';
import type { CompactOptions, CompactResult, RetentionPolicy, SnapshotKeeping } from './storage.js';

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

/** What {@link compactLimit} asks of a store. */
export interface CompactLimitSource extends Pick<SnapshotKeeping, 'listSnapshots'> {
  first(): Promise<Position>;
  head(): Promise<Position>;
}

/**
 * Where a compaction stops, whoever calls it: the caller's `keepFrom`, lowered to the position after the
 * newest usable snapshot. A process starts from the newest snapshot it can use and folds on from the
 * record after it, so nothing from there on may go; with no usable snapshot, the log's first retained
 * position (nothing is removed: no process could start on what would be left). A snapshot is usable
 * while it lies before the head and the log still holds the record after it (`position + 1 >= first`);
 * its bytes are opaque to the store, so a damaged one counts (start-up skips it, with a warning).
 * Every store's `compact` applies it, so a direct `store.compact({ keepFrom })` cannot leave a log that
 * no process can start from (`truncated`).
 */
export async function compactLimit(store: CompactLimitSource, keepFrom: Position): Promise<Position> {
  const first = await store.first();
  const head = await store.head();
  const usable = (await store.listSnapshots()).find((s) => s.position < head && s.position + 1 >= first);
  return usable === undefined ? Math.min(keepFrom, first) : Math.min(keepFrom, usable.position + 1);
}

/** What a store's own planning of a compaction finds: {@link CompactResult} without the limit. */
export type CompactPlan = Omit<CompactResult, 'keepFrom'>;

/** The store-specific half of a compaction, for {@link compactStore}. */
export interface CompactSteps {
  /** What the store would remove, keeping everything at or after `keepFrom` (see `segmentsToRemove`). */
  plan(keepFrom: Position, policy: RetentionPolicy | undefined): Promise<CompactPlan>;
  /** Removes the segments lying before `first`, moving the log's first retained position there. */
  remove(first: Position): Promise<void>;
}

/**
 * A compaction, the same on every store: checks the options, lowers `keepFrom` to the newest usable
 * snapshot ({@link compactLimit}), applies the given policy or else the store's own, and (unless
 * `dryRun`) removes what the plan found, then the snapshots that no longer lead anywhere.
 * @throws InvalidArgumentError for bad options (before any I/O).
 */
export async function compactStore(
  store: CompactLimitSource & Pick<SnapshotKeeping, 'deleteSnapshot' | 'retention'>,
  options: CompactOptions,
  steps: CompactSteps,
): Promise<CompactResult> {
  checkCompact(options);
  const keepFrom = await compactLimit(store, options.keepFrom);
  const plan = { ...(await steps.plan(keepFrom, options.policy ?? store.retention)), keepFrom };
  if (options.dryRun === true || plan.segments === 0) return plan;
  await steps.remove(plan.first);
  await dropStaleSnapshots(store, plan.first);
  return plan;
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
