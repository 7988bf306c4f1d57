import { crc32c } from '@node-rs/crc32';
import { Decoder, Encoder } from 'cbor-x';
import { CorruptRecordError } from './errors.js';
import type { LogRecord } from './records.js';

/**
 * Frames: `[u32 length][u32 crc32c][cbor bytes]`, big-endian, the CRC taken over the CBOR bytes.
 * The same bytes are written by every store that keeps bytes (filesystem segments, Redis entries).
 */
export const FRAME_HEADER = 8;

/** The largest record accepted: a length above it is corruption, not a record. */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;

// Plain CBOR maps (no shared structures): every frame decodes on its own, in any process.
const encoder = new Encoder({ useRecords: false, mapsAsObjects: true, variableMapSize: true });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

/** CBOR bytes of a record, unframed (what a Redis entry carries in its field). */
export function encodeRecord(record: LogRecord): Buffer {
  return encoder.encode(record);
}

/** One framed record. */
export function encodeFrame(record: LogRecord): Buffer {
  const body = encoder.encode(record);
  const frame = Buffer.allocUnsafe(FRAME_HEADER + body.length);
  frame.writeUInt32BE(body.length, 0);
  frame.writeUInt32BE(crc32c(body), 4);
  body.copy(frame, FRAME_HEADER);
  return frame;
}

/** Frames many records into one buffer, for one write. */
export function encodeFrames(records: readonly LogRecord[]): Buffer {
  return Buffer.concat(records.map(encodeFrame));
}

/**
 * Decodes unframed CBOR bytes of one record.
 * @throws CorruptRecordError when the bytes are not a record.
 */
export function decodeRecord(body: Uint8Array, segment: string, offset: number): LogRecord {
  let value: unknown;
  try {
    value = decoder.decode(body);
  } catch (cause) {
    throw new CorruptRecordError(segment, offset, 'undecodable CBOR', undefined, { cause });
  }
  if (!isRecordShape(value)) {
    throw new CorruptRecordError(segment, offset, 'CBOR value is not a record (type, v, position, time)');
  }
  return value;
}

function isRecordShape(value: unknown): value is LogRecord {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return (
    typeof r.type === 'string' &&
    typeof r.v === 'number' &&
    typeof r.position === 'number' &&
    typeof r.time === 'number'
  );
}

/** What {@link scanFrames} found at one place of a buffer. */
export type FrameScan =
  | { readonly kind: 'record'; readonly record: LogRecord; readonly offset: number; readonly end: number }
  /** An incomplete frame (or zeros) runs to the end of the buffer: a torn tail if at the end of a file. */
  | { readonly kind: 'torn'; readonly offset: number };

/**
 * Reads frames from `buf` starting at `start`; `base` is the byte offset of `buf[0]` in its segment,
 * used in error messages. Stops at the end of the buffer or at an incomplete frame.
 * @throws CorruptRecordError on a bad length, CRC or CBOR, naming the segment and byte offset.
 */
export function* scanFrames(buf: Buffer, segment: string, base = 0, start = 0): Generator<FrameScan> {
  let at = start;
  while (at < buf.length) {
    if (buf.length - at < FRAME_HEADER) {
      yield { kind: 'torn', offset: base + at };
      return;
    }
    const length = buf.readUInt32BE(at);
    if (length === 0 || length > MAX_RECORD_BYTES) {
      if (isZeros(buf, at)) {
        yield { kind: 'torn', offset: base + at };
        return;
      }
      throw new CorruptRecordError(segment, base + at, `bad frame length ${length}`);
    }
    const end = at + FRAME_HEADER + length;
    if (end > buf.length) {
      yield { kind: 'torn', offset: base + at };
      return;
    }
    const body = buf.subarray(at + FRAME_HEADER, end);
    if (crc32c(body) !== buf.readUInt32BE(at + 4)) {
      throw new CorruptRecordError(segment, base + at, 'CRC mismatch');
    }
    yield {
      kind: 'record',
      record: decodeRecord(body, segment, base + at),
      offset: base + at,
      end: base + end,
    };
    at = end;
  }
}

function isZeros(buf: Buffer, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}
