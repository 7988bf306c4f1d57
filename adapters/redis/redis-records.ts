import { crc32c } from '@node-rs/crc32';
import { decodeRecord, encodeRecord, FRAME_HEADER } from '../../engine/codec.js';
import { CorruptRecordError } from '../../engine/errors.js';
import type { Position } from '../../engine/position.js';
import { stamp, type LogRecord, type RecordDraft } from '../../engine/records.js';
import { RECORD_FIELD } from './redis-layout.js';

/**
 * The CBOR of `stamp(draft, 0, 0)` ends with these bytes: the text keys `position` and `time`, each with
 * the value 0. The append script cuts them off and writes the real position and time in their place,
 * encoded as cbor-x encodes numbers, so the stored bytes are exactly `encodeRecord` of the stored record.
 */
const PLACEHOLDER_TAIL = Buffer.from('68706f736974696f6e006474696d6500', 'hex');

/** A draft ready for the append script. */
export interface EncodedDraft {
  /** The record's CBOR without the values of `position` and `time` (the script appends them). */
  readonly prefix: Buffer;
  /** The full CBOR with position and time 0, to build the returned record without another round trip. */
  readonly placeholder: Buffer;
}

/** Encodes a draft for the append script; position and time are left for the script to write. */
export function encodeDraft(draft: RecordDraft): EncodedDraft {
  const placeholder = encodeRecord(stamp(withoutStampKeys(draft), 0, 0));
  const at = placeholder.length - PLACEHOLDER_TAIL.length;
  if (at < 0 || !placeholder.subarray(at).equals(PLACEHOLDER_TAIL)) {
    // Only possible if the codec changed its map encoding: the script would then write wrong bytes.
    throw new Error('eventy redis store: unexpected CBOR layout of a stamped record');
  }
  return { prefix: placeholder.subarray(0, at), placeholder };
}

// A draft's own `position` or `time` would keep its place in key order; the log assigns both anyway.
function withoutStampKeys(draft: RecordDraft): RecordDraft {
  if (!Object.hasOwn(draft, 'position') && !Object.hasOwn(draft, 'time')) return draft;
  const { position: _p, time: _t, ...rest } = draft as Record<string, unknown>;
  return rest as unknown as RecordDraft;
}

/** The record as the script stored it, from its placeholder encoding. */
export function stampedRecord(encoded: EncodedDraft, position: Position, time: number): LogRecord {
  const record = decodeRecord(encoded.placeholder, 'append', 0) as { position: number; time: number };
  record.position = position;
  record.time = time;
  return record as LogRecord;
}

/**
 * Frames stored CBOR bytes exactly as `encodeFrame(record, more)` frames the record:
 * `[length, top bit = more][crc32c][cbor]`.
 */
export function frameBody(body: Buffer, more: boolean): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER + body.length);
  frame.writeUInt32BE((more ? 0x8000_0000 : 0) + body.length, 0);
  frame.writeUInt32BE(crc32c(body), 4);
  body.copy(frame, FRAME_HEADER);
  return frame;
}

/** One stream entry as ioredis returns it with the `…Buffer` commands. */
export type StreamEntry = [id: Buffer, fields: Buffer[]];

/**
 * The record bytes of an entry.
 * @throws CorruptRecordError when the entry has no record field.
 */
export function entryBody(entry: StreamEntry, key: string): Buffer {
  const [id, fields] = entry;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i]?.toString() === RECORD_FIELD) return fields[i + 1] as Buffer;
  }
  throw new CorruptRecordError(key, 0, `stream entry ${id.toString()} has no record field`);
}

/**
 * Decodes an entry and checks it holds the record at `expected`.
 * @throws CorruptRecordError on undecodable bytes or a record at another position.
 */
export function decodeEntry(entry: StreamEntry, key: string, expected: Position): LogRecord {
  const where = `${key} entry ${entry[0].toString()}`;
  const record = decodeRecord(entryBody(entry, key), where, 0);
  if (record.position !== expected) {
    throw new CorruptRecordError(where, 0, `expected position ${expected}, found ${record.position}`);
  }
  return record;
}
