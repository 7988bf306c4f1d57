import { InvalidArgumentError, Option } from 'commander';
import { defaultStoreUrl, maskUrl, positionAtTime, type LogStore, type Position } from '../index.js';
import { UsageError } from './errors.js';

/** A point of the log's history as the user names it: a position, or a time (log time, ms). */
export type Point = { readonly position: Position } | { readonly time: number };

/**
 * Reads `--from` / `--to` values: a non-negative integer is a position; anything else must be an ISO
 * date or date-time (`2025-01-31`, `2025-01-31T12:00:00Z`, `2025-01-31T12:00:00.250+02:00`).
 */
export function parsePoint(text: string): Point {
  if (/^\d+$/.test(text)) {
    const position = Number(text);
    if (!Number.isSafeInteger(position)) throw new InvalidArgumentError(`position is out of range: ${text}`);
    return { position };
  }
  const time = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(time)) {
    throw new InvalidArgumentError(
      'expected a position (a non-negative integer) or an ISO time like 2025-01-31T12:00:00Z.',
    );
  }
  return { time };
}

/** Reads an integer option of at least `min`. */
export function intAtLeast(min: number): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`expected an integer ≥ ${min}.`);
    }
    return n;
  };
}

/** Collects a repeatable option; comma-separated values count as several. */
export function collect(text: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...text.split(',').filter((s) => s !== '')];
}

/** `--store URL`: every command has it, defaulting to `EVENTY_STORE`, else `file:.eventy`. */
export function storeOption(env: NodeJS.ProcessEnv): Option {
  return new Option('--store <url>', 'log store: file:<dir>, redis://host:port/?prefix=…, memory:').default(
    defaultStoreUrl(env),
    defaultStoreUrl(env) === 'file:.eventy'
      ? 'EVENTY_STORE, else file:.eventy'
      : `EVENTY_STORE=${maskUrl(defaultStoreUrl(env))}`,
  );
}

/**
 * The last position at or before a point: a position must exist in the log (before `head`); a time
 * gives the last record appended at or before it, or -1 when the log starts later.
 * @throws UsageError when a position is at or past the head.
 */
export async function lastPositionAt(
  store: LogStore,
  point: Point,
  head: Position,
  flag: string,
): Promise<Position> {
  if ('position' in point) {
    if (point.position >= head) {
      throw new UsageError(
        `${flag} ${point.position} is past the end of the log (${head === 0 ? 'it is empty' : `last position ${head - 1}`})`,
      );
    }
    return point.position;
  }
  return (await positionAtTime(store, point.time + 1)) - 1;
}

/** The first position at or after a point (a position is taken as it is). */
export async function firstPositionAt(store: LogStore, point: Point): Promise<Position> {
  return 'position' in point ? point.position : positionAtTime(store, point.time);
}
