import { decodeRecord, encodeRecord, frameBody as engineFrameBody } from '../../engine/codec.js';
import { CorruptRecordError } from '../../engine/errors.js';
import type { Position } from '../../engine/position.js';
import { RECORD_VERSION, stamp, type StoredRecord, type RecordDraft } from '../../engine/records.js';
import { RECORD_FIELD } from './redis-layout.js';

/**
 * The CBOR of `stamp(draft, 0, 0)` ends with these bytes: the text keys `position` and `time`, each with
 * the value 0. The append script is sent the bytes before them and writes the real position and time in
 * their place, encoded as cbor-x encodes numbers, so the stored bytes are exactly `encodeRecord` of the
 * stored record.
 */
export const PLACEHOLDER_TAIL = Buffer.from('68706f736974696f6e006474696d6500', 'hex');
/** The map entry `v: RECORD_VERSION` as cbor-x writes it (the key, then the value). */
const VERSION_ENTRY = encodeRecord({ v: RECORD_VERSION } as unknown as StoredRecord).subarray(1);

/**
 * A draft ready for the append script: the CBOR of `stamp(draft, 0, 0)` without
 * {@link PLACEHOLDER_TAIL} (the script writes the rest), as the concatenation of `parts`.
 */
export interface EncodedDraft {
  readonly parts: readonly Buffer[];
  /** Bytes of all parts. */
  readonly length: number;
}

/** Map headers of up to 23 entries, one byte each: most records need one of these. */
const SMALL_HEADERS = Array.from({ length: 24 }, (_, count) => Buffer.from([0xa0 + count]));

/**
 * Encodes a draft for the append script; position and time are left for the script to write. The draft
 * is encoded as it is and its map header raised by the three stamped keys, which gives the same bytes as
 * encoding a stamped copy, without making the copy (an object spread costs more than the encoding). The
 * parts are copied once, into the script's argument (see `packBatches`).
 */
export function encodeDraft(draft: RecordDraft): EncodedDraft {
  const own = withoutStampKeys(draft);
  const body = encodeRecord(own as unknown as StoredRecord);
  const header = readMapHeader(body);
  if (header === undefined) return viaStamp(own);
  const raised = mapHeader(header.count + 3);
  const entries = body.subarray(header.length);
  return {
    parts: [raised, entries, VERSION_ENTRY],
    length: raised.length + entries.length + VERSION_ENTRY.length,
  };
}

/** The bytes of an encoded draft in one buffer. */
export function draftPrefix(encoded: EncodedDraft): Buffer {
  return Buffer.concat(encoded.parts, encoded.length);
}

function viaStamp(draft: RecordDraft): EncodedDraft {
  const placeholder = encodeRecord(stamp(draft, 0, 0));
  const at = placeholder.length - PLACEHOLDER_TAIL.length;
  if (at < 0 || !placeholder.subarray(at).equals(PLACEHOLDER_TAIL)) {
    // Only possible if the codec changed its map encoding: the script would then write wrong bytes.
    throw new Error('eventy redis store: unexpected CBOR layout of a stamped record');
  }
  return { parts: [placeholder.subarray(0, at)], length: at };
}

// The log assigns these; a draft's own would also keep their place in key order and break the layout.
function withoutStampKeys(draft: RecordDraft): RecordDraft {
  if (!Object.hasOwn(draft, 'v') && !Object.hasOwn(draft, 'position') && !Object.hasOwn(draft, 'time')) {
    return draft;
  }
  const { v: _v, position: _p, time: _t, ...rest } = draft as Record<string, unknown>;
  return rest as unknown as RecordDraft;
}

/** A definite-length CBOR map header at the start of `body`, as cbor-x writes one. */
function readMapHeader(body: Buffer): { count: number; length: number } | undefined {
  const b = body[0] ?? 0;
  if (b >= 0xa0 && b <= 0xb7) return { count: b - 0xa0, length: 1 };
  if (b === 0xb8 && body.length >= 2) return { count: body.readUInt8(1), length: 2 };
  if (b === 0xb9 && body.length >= 3) return { count: body.readUInt16BE(1), length: 3 };
  if (b === 0xba && body.length >= 5) return { count: body.readUInt32BE(1), length: 5 };
  return undefined;
}

/** The shortest CBOR header of a map of `count` entries (what cbor-x writes). */
function mapHeader(count: number): Buffer {
  const small = SMALL_HEADERS[count];
  if (small !== undefined) return small;
  if (count < 0x100) return Buffer.from([0xb8, count]);
  const header = Buffer.alloc(count < 0x10000 ? 3 : 5);
  header[0] = count < 0x10000 ? 0xb9 : 0xba;
  if (count < 0x10000) header.writeUInt16BE(count, 1);
  else header.writeUInt32BE(count, 1);
  return header;
}

/** One batch of an append script call: its expected head (or none) and its records. */
export interface PackedBatch {
  readonly expected: Position | undefined;
  readonly drafts: readonly EncodedDraft[];
}

/** Bytes of a batch's header in {@link packBatches}: expected head as a float64, record count as a u32. */
const BATCH_HEADER = 12;
/** Bytes of a record's length in {@link packBatches}. */
const RECORD_LENGTH = 4;

/**
 * The batches of one append script call in one argument, so that a call costs one buffer however many
 * records it carries: per batch `[f64 expected head, -1 for none][u32 count]`, then per record
 * `[u32 length][bytes]`, big-endian (what the script reads with `struct.unpack('>d I4')`).
 */
export function packBatches(batches: readonly PackedBatch[]): Buffer {
  let size = 0;
  for (const b of batches) {
    size += BATCH_HEADER;
    for (const d of b.drafts) size += RECORD_LENGTH + d.length;
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const b of batches) {
    at = out.writeDoubleBE(b.expected ?? -1, at);
    at = out.writeUInt32BE(b.drafts.length, at);
    for (const d of b.drafts) {
      at = out.writeUInt32BE(d.length, at);
      for (const part of d.parts) at += part.copy(out, at);
    }
  }
  return out;
}

/** The record as the script stored it (decoded from what was sent, so the caller's draft is not shared). */
export function stampedRecord(encoded: EncodedDraft, position: Position, time: number): StoredRecord {
  const bytes = Buffer.concat([...encoded.parts, PLACEHOLDER_TAIL]);
  const record = decodeRecord(bytes, 'append', 0) as { position: number; time: number };
  record.position = position;
  record.time = time;
  return record as StoredRecord;
}

/** Frames stored CBOR bytes exactly as `encodeFrame(record, more)` frames the record. */
export function frameBody(body: Buffer, more: boolean): Buffer {
  return engineFrameBody(body, more);
}

/** One stream entry as ioredis returns it with the `…Buffer` commands. */
export type StreamEntry = [id: Buffer, fields: Buffer[]];

/** {@link RECORD_FIELD} as bytes, to find the field without decoding field names. */
const RECORD_FIELD_BYTES = Buffer.from(RECORD_FIELD);

function isRecordField(name: Buffer | undefined): boolean {
  if (name?.length !== RECORD_FIELD_BYTES.length) return false;
  for (let i = 0; i < name.length; i++) if (name[i] !== RECORD_FIELD_BYTES[i]) return false;
  return true;
}

/**
 * The record bytes of an entry.
 * @throws CorruptRecordError when the entry has no record field.
 */
export function entryBody(entry: StreamEntry, key: string): Buffer {
  const [id, fields] = entry;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (isRecordField(fields[i])) return fields[i + 1] as Buffer;
  }
  throw new CorruptRecordError(key, 0, `stream entry ${id.toString()} has no record field`);
}

/**
 * Decodes an entry and checks it holds the record at `expected`.
 * @throws CorruptRecordError on undecodable bytes or a record at another position.
 */
export function decodeEntry(entry: StreamEntry, key: string, expected: Position): StoredRecord {
  const body = entryBody(entry, key);
  let record: StoredRecord;
  try {
    record = decodeRecord(body, key, 0);
  } catch {
    // Followers decode every record of the log, so the entry's name is made only for the error: the
    // second decode fails the same way, naming it.
    record = decodeRecord(body, entryName(entry, key), 0);
  }
  if (record.position !== expected) {
    throw new CorruptRecordError(
      entryName(entry, key),
      0,
      `expected position ${expected}, found ${record.position}`,
    );
  }
  return record;
}

function entryName(entry: StreamEntry, key: string): string {
  return `${key} entry ${entry[0].toString()}`;
}
