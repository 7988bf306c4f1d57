import { InvalidArgumentError } from '../../engine/errors.js';
import type { Durability } from '../../engine/storage.js';

/** Options of the filesystem store. */
export interface FileStoreOptions {
  /**
   * `always`: every append call is written and fdatasync'd before it resolves.
   * `batch` (default): appends in flight together share one write and one fdatasync (group commit);
   * each resolves once durable.
   * `never`: written to the OS before resolving (survives a process kill, not a power cut).
   */
  readonly durability?: Durability;
  /** A segment rolls once it reaches this many bytes; default 64 MiB. */
  readonly segmentBytes?: number;
  /** Followers poll this often (ms) in case a file-system event is missed; default 100. */
  readonly pollMs?: number;
  /**
   * `batch` durability: the least time (ms) between the starts of two fsyncs, 0–5; appends that arrive
   * meanwhile share the next one. Default 0: an fsync starts as soon as the previous one ends (appends
   * that arrive during an fsync share the next). A few ms can help a disk whose fsyncs stall writers.
   */
  readonly syncIntervalMs?: number;
}

export interface ResolvedFileOptions {
  readonly dir: string;
  readonly durability: Durability;
  readonly segmentBytes: number;
  readonly pollMs: number;
  readonly syncIntervalMs: number;
}

const KNOWN = new Set(['durability', 'segmentBytes', 'pollMs', 'syncIntervalMs']);
const DURABILITIES: readonly Durability[] = ['always', 'batch', 'never'];

/**
 * Reads `file:<dir>` (also `file://<absolute dir>`) and the options; query parameters
 * (`?durability=always&segmentBytes=1048576`) are accepted too.
 * @throws InvalidArgumentError naming the bad URL or option.
 */
export function resolveFileOptions(url: string, options: FileStoreOptions = {}): ResolvedFileOptions {
  if (typeof url !== 'string' || !url.startsWith('file:')) {
    throw new InvalidArgumentError(
      `filesystem store URL must look like "file:<dir>", got: ${JSON.stringify(url)}`,
    );
  }
  let rest = url.slice('file:'.length);
  if (rest.startsWith('//')) rest = rest.slice(2);
  const q = rest.indexOf('?');
  const merged: Record<string, unknown> = {};
  if (q >= 0) {
    for (const [k, v] of new URLSearchParams(rest.slice(q + 1)))
      merged[k] = k === 'durability' ? v : Number(v);
    rest = rest.slice(0, q);
  }
  Object.assign(merged, options);
  if (rest === '') throw new InvalidArgumentError(`filesystem store URL names no directory: ${url}`);
  for (const key of Object.keys(merged)) {
    if (!KNOWN.has(key)) {
      throw new InvalidArgumentError(
        `unknown filesystem store option "${key}"; expected one of: ${[...KNOWN].join(', ')}`,
      );
    }
  }
  const durability = (merged.durability ?? 'batch') as Durability;
  if (!DURABILITIES.includes(durability)) {
    throw new InvalidArgumentError(
      `durability must be one of always, batch, never; got: ${JSON.stringify(durability)}`,
    );
  }
  return {
    dir: decodeURIComponent(rest),
    durability,
    segmentBytes: positiveInt('segmentBytes', merged.segmentBytes ?? 64 * 1024 * 1024, 256),
    pollMs: positiveInt('pollMs', merged.pollMs ?? 100, 1),
    syncIntervalMs: positiveInt('syncIntervalMs', merged.syncIntervalMs ?? 0, 0, 5),
  };
}

function positiveInt(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw new InvalidArgumentError(`${name} must be an integer ${range}, got: ${String(value)}`);
  }
  return value;
}
