import type { LogIdentity } from '../../engine/continuity.js';
import type { Position } from '../../engine/position.js';
import type { LogConfig } from './redis-url.js';

/**
 * Where one log lives in Redis. Every key shares the hash tag `{<log>}`, so the whole log sits in one
 * Redis Cluster slot and one Lua script may touch all of it:
 *
 * - `<prefix>:{<log>}:meta` — a hash: `head` (next position), `time` (last log time, ms), `seg`
 *   (records per segment, fixed at creation), `first` (first position kept; 0 until retention drops),
 *   `id` and `epoch` (the log's identity, set by the first handle that opens it; appends carry the
 *   identity they expect and are refused when the hash holds another, or none).
 * - `<prefix>:{<log>}:s:<base>` — one stream per segment: the records of positions
 *   `[base, base + seg)`, `base` a multiple of `seg` in decimal.
 * - `<prefix>:{<log>}:snapshots` — a hash of the snapshots kept (ref → bytes), and
 *   `<prefix>:{<log>}:snapshot:<ref>` — each one's bytes, both set in one MULTI (a snapshot is whole or
 *   absent).
 *
 * A stream entry's id is `<position>-<1|2>`: the millisecond part is the position (dense from 0, so ids
 * are printable, ordered and parse back to positions); the sequence part keeps the batch boundaries of
 * the framing (`engine/codec.ts`): 1 ends a batch, 2 says the next position belongs to the same batch
 * (never 0, since `0-0` is not a valid id). The entry has one field, `r`, holding the record's CBOR
 * bytes exactly as `encodeRecord` writes them, position and time included.
 */
export class RedisLayout {
  /** Key of the meta hash. */
  readonly meta: string;
  /** Prefix of the segment stream keys (a base position follows it). */
  readonly segmentPrefix: string;
  /** A hash of the snapshots kept: ref → size in bytes. */
  readonly snapshots: string;
  /** Prefix of the snapshot keys (a ref follows it): strings holding a snapshot's bytes. */
  readonly snapshotPrefix: string;

  constructor(config: Pick<LogConfig, 'keyPrefix' | 'log'>) {
    const tagged = `${config.keyPrefix}:{${config.log}}`;
    this.meta = `${tagged}:meta`;
    this.segmentPrefix = `${tagged}:s:`;
    this.snapshots = `${tagged}:snapshots`;
    this.snapshotPrefix = `${tagged}:snapshot:`;
  }

  /** Key of the segment stream that starts at `base`. */
  segmentKey(base: Position): string {
    return `${this.segmentPrefix}${base}`;
  }
}

/** Base position of the segment that holds `position`. */
export function segmentBase(position: Position, segmentRecords: number): Position {
  return position - (position % segmentRecords);
}

/** The field of a stream entry that carries the record. */
export const RECORD_FIELD = 'r';

/** The stream id of the entry at `position`; `more` when the next position belongs to the same batch. */
export function entryId(position: Position, more = false): string {
  return `${position}-${more ? 2 : 1}`;
}

/** Reads an entry id written by {@link entryId}; undefined for any other id. */
export function parseEntryId(id: string): { position: Position; more: boolean } | undefined {
  const m = /^(\d{1,16})-([12])$/.exec(id);
  return m ? { position: Number(m[1]), more: m[2] === '2' } : undefined;
}

/** What the meta hash says about the log. */
export interface LogMeta {
  readonly head: Position;
  readonly time: number;
  readonly segmentRecords: number | undefined;
  readonly first: Position;
  /** The log's identity; undefined when the hash holds none (the log is gone). */
  readonly identity: LogIdentity | undefined;
}

/** Reads the reply of `HMGET meta head time seg first id epoch`. */
export function parseMeta(reply: readonly (string | null)[]): LogMeta {
  const [head, time, seg, first, id, epoch] = reply;
  return {
    head: head == null ? 0 : Number(head),
    time: time == null ? 0 : Number(time),
    segmentRecords: seg == null ? undefined : Number(seg),
    first: first == null ? 0 : Number(first),
    identity: id == null || epoch == null ? undefined : { id, epoch: Number(epoch) },
  };
}

/** The fields of the meta hash, in the order {@link parseMeta} reads them. */
export const META_FIELDS = ['head', 'time', 'seg', 'first', 'id', 'epoch'] as const;
