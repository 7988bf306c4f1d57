import { InvalidArgumentError } from '../../engine/errors.js';
import { checkRetention, parseRetention } from '../../engine/retention.js';
import { storeUrlParams } from '../../engine/store-url.js';
import type { Durability, RetentionPolicy } from '../../engine/storage.js';

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
  /**
   * Permission bits of the files the log creates (segments, indexes, lock and identity files), e.g.
   * `0o600` when payloads hold secrets; directories it creates get the same bits plus search (x) where
   * read is given (`0o600` → `0o700`). In the URL as octal: `?mode=0600`. Default: `0o666` and
   * `0o777` less the process's umask. The owner must keep read and write.
   */
  readonly mode?: number;
  /**
   * What `compact` may remove once a snapshot covers it (in the URL: `?retention=7d&retentionBytes=10GiB`).
   * Default: keep everything.
   */
  readonly retention?: RetentionPolicy;
}

export interface ResolvedFileOptions {
  readonly dir: string;
  readonly durability: Durability;
  readonly segmentBytes: number;
  readonly pollMs: number;
  readonly syncIntervalMs: number;
  readonly modes: { readonly file: number | undefined; readonly dir: number | undefined };
  readonly retention: RetentionPolicy | undefined;
}

const KNOWN = new Set(['durability', 'segmentBytes', 'pollMs', 'syncIntervalMs', 'mode', 'retention']);
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
    const params = storeUrlParams(rest.slice(q + 1), 'filesystem', url);
    for (const [k, v] of params) {
      if (k === 'retention' || k === 'retentionBytes') continue;
      merged[k] = k === 'durability' ? v : k === 'mode' ? octal(v) : Number(v);
    }
    const retention = parseRetention({
      retention: params.get('retention') ?? undefined,
      retentionBytes: params.get('retentionBytes') ?? undefined,
    });
    if (retention !== undefined) merged.retention = retention;
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
    modes: createModes(merged.mode),
    retention: checkRetention(merged.retention as RetentionPolicy | undefined),
  };
}

/** `0600` or `600` as written in a URL: octal digits only. */
function octal(text: string): number | string {
  return /^0?[0-7]{3}$/.test(text) ? parseInt(text, 8) : text;
}

function createModes(mode: unknown): ResolvedFileOptions['modes'] {
  if (mode === undefined) return { file: undefined, dir: undefined };
  if (
    typeof mode !== 'number' ||
    !Number.isInteger(mode) ||
    mode < 0 ||
    mode > 0o777 ||
    (mode & 0o600) !== 0o600
  ) {
    const shown = typeof mode === 'number' ? `0o${mode.toString(8)}` : JSON.stringify(mode);
    throw new InvalidArgumentError(
      `mode must be permission bits from 0o600 to 0o777 that give the owner read and write (e.g. 0o600, or ?mode=0600 in the URL), got: ${shown}`,
    );
  }
  // Search permission wherever read is given, so that whoever may read the files may reach them.
  return { file: mode, dir: mode | ((mode & 0o444) >> 2) };
}

function positiveInt(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw new InvalidArgumentError(`${name} must be an integer ${range}, got: ${String(value)}`);
  }
  return value;
}
