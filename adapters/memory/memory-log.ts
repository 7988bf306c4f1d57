import { randomUUID } from 'node:crypto';
import type { LogIdentity } from '../../engine/continuity.js';
import { encodeRecord } from '../../engine/codec.js';
import { InvalidArgumentError } from '../../engine/errors.js';
import { Notifier } from '../../engine/notifier.js';
import type { Position } from '../../engine/position.js';
import type { StoredRecord } from '../../engine/records.js';
import {
  parseRetention,
  segmentsToRemove,
  type CompactPlan,
  type SegmentSpan,
} from '../../engine/retention.js';
import type { HistorySize, RetentionPolicy } from '../../engine/storage.js';
import { storeUrlParams } from '../../engine/store-url.js';
import { MemorySnapshots } from './memory-snapshots.js';

const KNOWN = new Set(['segmentRecords', 'retention', 'retentionBytes']);

/** Reads `memory:<name>?segmentRecords=…&retention=…&retentionBytes=…`. */
export function memoryUrl(url: string): {
  name: string;
  segmentRecords: number;
  retention: RetentionPolicy | undefined;
} {
  if (typeof url !== 'string' || !url.startsWith('memory:'))
    throw new InvalidArgumentError(`memory store URL must start with "memory:", got: ${url}`);
  const rest = url.slice('memory:'.length);
  const q = rest.indexOf('?');
  const params = storeUrlParams(q < 0 ? '' : rest.slice(q + 1), 'memory', url);
  for (const key of params.keys()) {
    if (!KNOWN.has(key))
      throw new InvalidArgumentError(
        `unknown memory store option "${key}"; expected one of: ${[...KNOWN].join(', ')}`,
      );
  }
  const seg = params.get('segmentRecords') ?? '65536';
  if (!/^\d{1,9}$/.test(seg) || Number(seg) < 1) {
    throw new InvalidArgumentError(`segmentRecords must be a positive integer, got: ${JSON.stringify(seg)}`);
  }
  const retention = parseRetention({
    retention: params.get('retention') ?? undefined,
    retentionBytes: params.get('retentionBytes') ?? undefined,
  });
  return { name: q < 0 ? rest : rest.slice(0, q), segmentRecords: Number(seg), retention };
}

/**
 * The records of one in-memory log, shared by every store opened on the same `memory:<name>`. It holds
 * positions `[first, head)`: `records[i]` is position `first + i`. Segments are runs of
 * `segmentRecords` positions (the unit retention removes), as in the Redis store.
 */
export class MemoryLog {
  records: StoredRecord[] = [];
  /** Encoded size of each record, for {@link HistorySize} and `maxBytes`. */
  sizes: number[] = [];
  first: Position = 0;
  readonly appended = new Notifier();
  readonly snapshots = new MemorySnapshots();
  lastTime = 0;
  /** A memory log lives as long as the process: nothing can replace it under a handle. */
  readonly identity: LogIdentity = { id: randomUUID(), epoch: 1 };

  constructor(readonly segmentRecords: number) {}

  get head(): Position {
    return this.first + this.records.length;
  }

  push(records: readonly StoredRecord[]): void {
    for (const r of records) {
      this.records.push(r);
      this.sizes.push(encodeRecord(r).length);
    }
  }

  /** An empty log starts at `position` (an import of a log whose older records were removed). */
  startAt(position: Position): void {
    this.first = position;
  }

  dropBefore(first: Position): void {
    const n = first - this.first;
    this.records = this.records.slice(n);
    this.sizes = this.sizes.slice(n);
    this.first = first;
  }

  /** What a compaction removes, and the first position it keeps. */
  async planCompaction(keepFrom: Position, policy: RetentionPolicy | undefined): Promise<CompactPlan> {
    const segments = this.segments();
    const headTime = this.records.at(-1)?.time ?? 0;
    const n = await segmentsToRemove(segments, keepFrom, policy, headTime, (i) =>
      Promise.resolve(this.#at((segments[i] as SegmentSpan).to - 1).time),
    );
    const removed = segments.slice(0, n);
    return {
      segments: n,
      bytes: removed.reduce((sum, s) => sum + s.bytes, 0),
      first: removed.at(-1)?.to ?? this.first,
    };
  }

  segments(): SegmentSpan[] {
    const out: SegmentSpan[] = [];
    const seg = this.segmentRecords;
    for (let from = this.first; from < this.head;) {
      const to = Math.min(this.head, from - (from % seg) + seg);
      let bytes = 0;
      for (let p = from; p < to; p++) bytes += this.sizes[p - this.first] as number;
      out.push({ from, to, bytes });
      from = to;
    }
    return out;
  }

  size(): HistorySize {
    return {
      first: this.first,
      head: this.head,
      bytes: this.sizes.reduce((sum, b) => sum + b, 0),
      segments: this.segments().length,
      snapshotBytes: this.snapshots.bytes(),
    };
  }

  #at(position: Position): StoredRecord {
    return this.records[position - this.first] as StoredRecord;
  }
}
