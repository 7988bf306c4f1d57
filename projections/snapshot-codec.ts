/**
 * The bytes of a {@link Snapshot}: a header, then a CBOR body.
 *
 * Header (14 bytes, big-endian): magic `EVYS`, u16 `formatVersion`, u32 crc32c of the body, u32 body
 * length. Body: a CBOR map `{ position, time, states, events }` where `states` is a byte string, the
 * CBOR of the four fold states encoded with cbor-x's structured clone: Maps, Sets, typed arrays and
 * objects referenced from two places (a subscriber in its queue's `reserved` set) come back as they
 * were, so a field added to a state is carried without a change here. The one class in the states,
 * the queue's event index, is carried by a tag of its own ({@link QUEUE_EVENTS_TAG}). The states are
 * their own byte string so that they can be copied at once (synchronously, at the position) while the
 * events are read from the log afterwards (see {@link encodeStates} and {@link encodeSnapshot}).
 * @module
 */
import { crc32c } from '@node-rs/crc32';
import { addExtension, Decoder, Encoder } from 'cbor-x';
import { CorruptSnapshotError } from '../engine/errors.js';
import type { RecordOf } from '../engine/records.js';
import { QueueEvents, type QueueEventsParts } from './dispatch/event-index.js';
import type { FoldStates, Snapshot } from './snapshot.js';

/** The format this release writes and reads; a snapshot of a higher one is refused (and skipped). */
export const SNAPSHOT_FORMAT_VERSION = 1;
const MAGIC = 0x45565953; // "EVYS"
const HEADER = 14;
/** CBOR tag of a queue's event index (an unassigned number of the first-come range). */
export const QUEUE_EVENTS_TAG = 40_517;

addExtension({
  Class: QueueEvents,
  tag: QUEUE_EVENTS_TAG,
  encode: (q: QueueEvents, encode: (value: unknown) => Uint8Array) => encode(q.toParts()),
  decode: (parts: QueueEventsParts) => QueueEvents.fromParts(parts),
});

const statesEncoder = new Encoder({ structuredClone: true, useRecords: false });
const statesDecoder = new Decoder({ structuredClone: true, useRecords: false });
// The body's outer map and the events: plain CBOR, as records are stored.
const bodyEncoder = new Encoder({ useRecords: false, mapsAsObjects: true, variableMapSize: true });
const bodyDecoder = new Decoder({ useRecords: false, mapsAsObjects: true });

/** A snapshot's bytes and the checksum its `snapshot.taken` record carries. */
export interface EncodedSnapshot {
  readonly bytes: Uint8Array;
  /** crc32c of the body. */
  readonly checksum: number;
  readonly formatVersion: number;
}

/** A copy of the states as CBOR, taken at once: the states may move on after it returns. */
export function encodeStates(states: FoldStates): Uint8Array {
  return Uint8Array.from(statesEncoder.encode(states)); // a copy: the encoder reuses its buffer
}

/** Encodes a snapshot; `states` may be the bytes {@link encodeStates} made earlier at `position`. */
export function encodeSnapshot(
  snapshot: Omit<Snapshot, 'states'> & { readonly states: FoldStates | Uint8Array },
): EncodedSnapshot {
  const states = snapshot.states instanceof Uint8Array ? snapshot.states : encodeStates(snapshot.states);
  const { position, time, events } = snapshot;
  const body = bodyEncoder.encode({ position, time, states, events });
  const checksum = crc32c(body);
  const bytes = new Uint8Array(HEADER + body.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, MAGIC);
  view.setUint16(4, SNAPSHOT_FORMAT_VERSION);
  view.setUint32(6, checksum);
  view.setUint32(10, body.length);
  bytes.set(body, HEADER);
  return { bytes, checksum, formatVersion: SNAPSHOT_FORMAT_VERSION };
}

/**
 * Decodes and checks a snapshot's bytes (`ref` names it in errors).
 * @throws CorruptSnapshotError (a `corrupt-record` error) when the bytes are damaged (magic, length,
 *   checksum, CBOR, shape) or of a format version this release does not read; the message says what was
 *   found and what was expected.
 */
export function decodeSnapshot(bytes: Uint8Array, ref: string): Snapshot {
  const bad = (offset: number, reason: string, cause?: unknown): CorruptSnapshotError =>
    new CorruptSnapshotError(ref, offset, reason, cause === undefined ? {} : { cause });
  if (bytes.length < HEADER) throw bad(0, `${bytes.length} bytes, expected a header of ${HEADER}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  if (magic !== MAGIC) throw bad(0, `magic 0x${magic.toString(16)}, expected 0x${MAGIC.toString(16)} (EVYS)`);
  const version = view.getUint16(4);
  if (version !== SNAPSHOT_FORMAT_VERSION) {
    throw bad(
      4,
      `formatVersion ${version}, expected ${SNAPSHOT_FORMAT_VERSION} (written by another release)`,
    );
  }
  const length = view.getUint32(10);
  if (length !== bytes.length - HEADER) {
    throw bad(10, `body of ${bytes.length - HEADER} bytes, expected ${length}`);
  }
  const body = bytes.subarray(HEADER);
  const checksum = crc32c(body);
  if (checksum !== view.getUint32(6)) {
    throw bad(6, `checksum 0x${checksum.toString(16)}, expected 0x${view.getUint32(6).toString(16)}`);
  }
  let outer: unknown, states: unknown;
  try {
    outer = bodyDecoder.decode(body);
    states = isBody(outer) ? statesDecoder.decode(outer.states) : undefined;
  } catch (cause) {
    throw bad(HEADER, 'undecodable CBOR', cause);
  }
  if (!isBody(outer) || !isStates(states)) {
    throw bad(HEADER, 'not a snapshot body (position, time, states, events)');
  }
  return { position: outer.position, time: outer.time, states, events: outer.events };
}

interface Body {
  position: number;
  time: number;
  states: Uint8Array;
  events: RecordOf<'event.published'>[];
}

function isBody(v: unknown): v is Body {
  if (typeof v !== 'object' || v === null) return false;
  const b = v as Record<string, unknown>;
  return (
    typeof b.position === 'number' &&
    typeof b.time === 'number' &&
    b.states instanceof Uint8Array &&
    Array.isArray(b.events)
  );
}

function isStates(v: unknown): v is FoldStates {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  return ['dispatch', 'workers', 'stats', 'schedules'].every(
    (k) => typeof s[k] === 'object' && s[k] !== null,
  );
}

/**
 * The first of the four views in which `actual` differs from `expected` (by their CBOR), and whether the
 * open events differ; undefined when they are the same. For `eventy verify`.
 */
export function snapshotDifference(expected: Snapshot, actual: Snapshot): string | undefined {
  for (const view of ['dispatch', 'workers', 'stats', 'schedules'] as const) {
    const a = statesEncoder.encode(expected.states[view]);
    const b = statesEncoder.encode(actual.states[view]);
    if (Buffer.compare(a, b) !== 0) return `the ${view} view differs`;
  }
  const ids = (s: Snapshot): string => s.events.map((e) => `${e.position}:${e.eventId}`).join(',');
  if (ids(expected) !== ids(actual)) {
    return `its open events differ (${actual.events.length}, expected ${expected.events.length})`;
  }
  return undefined;
}
