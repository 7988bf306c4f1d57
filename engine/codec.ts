import { crc32c } from '@node-rs/crc32';
import { Decoder, Encoder } from 'cbor-x';
import { encodeFast } from './cbor-encode-fast.js';
import { decodeFast, UNHANDLED } from './cbor-fast.js';
import { CorruptRecordError } from './errors.js';
import { stamp, type StoredRecord, type RecordDraft } from './records.js';

/**
 * Frames: `[u32 length][u32 crc32c][cbor bytes]`, big-endian, the CRC taken over the length word and the
 * CBOR bytes.
 * The length word's top bit marks "more frames of this batch follow": a batch is visible only once its
 * last frame (top bit clear) is complete, which makes a batch append atomic for readers and after a
 * crash. The same bytes are written by every store that keeps bytes (filesystem segments, exports).
 */
export const FRAME_HEADER = 8;
const MORE = 0x8000_0000;
const LENGTH_MASK = 0x7fff_ffff;

/** The largest record accepted: a length above it is corruption, not a record. */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;

// Plain CBOR maps (no shared structures): every frame decodes on its own, in any process.
const encoder = new Encoder({ useRecords: false, mapsAsObjects: true, variableMapSize: true });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

/** CBOR bytes of a record, unframed (what a Redis entry carries in its field). */
export function encodeRecord(record: StoredRecord): Buffer {
  return encode(record);
}

/** The CBOR bytes of a value: the specialised encoder's, cbor-x's for what it leaves (the same bytes). */
function encode(value: unknown): Buffer {
  return encodeFast(value) ?? encoder.encode(value);
}

/** One framed record; `more` marks that further frames of the same batch follow it. */
export function encodeFrame(record: StoredRecord, more = false): Buffer {
  return frameBody(encode(record), more);
}

/**
 * Frames CBOR bytes. The CRC covers the length word too, so a flipped "more" bit (which would merge or
 * split batches) is caught like any other damage.
 */
export function frameBody(body: Uint8Array, more = false): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER + body.length);
  frame.writeUInt32BE((more ? MORE : 0) + body.length, 0);
  frame.writeUInt32BE(frameCrc(frame, 0, body), 4);
  frame.set(body, FRAME_HEADER);
  return frame;
}

/** CRC32C of the length word (4 bytes, in JS: cheaper than a native call) continued over the body. */
function frameCrc(buf: Buffer, at: number, body: Uint8Array): number {
  let c = ~0;
  for (let i = at; i < at + 4; i++) c = (CRC_TABLE[(c ^ (buf[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return crc32c(body, ~c >>> 0);
}

/** The CRC32C (Castagnoli, reflected 0x82F63B78) byte table. */
const CRC_TABLE = Int32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  return c;
});

// A stamped record's CBOR ends with its `position` and `time` entries (stamp() adds them last).
const STAMP_TAIL = Buffer.from('68706f736974696f6e006474696d6500', 'hex'); // position: 0, time: 0
const POSITION_KEY = STAMP_TAIL.subarray(0, 9);
const TIME_KEY = STAMP_TAIL.subarray(10, 15);

/**
 * The CBOR of a draft as it will be stored, up to its position and time: encoded before the position is
 * known (outside the append lock), finished by {@link finishRecord}. Undefined when the draft's own keys
 * disturb the layout (a draft carrying `position` or `time`): encode it whole then.
 */
export function encodeDraftPrefix(draft: RecordDraft): Buffer | undefined {
  const stamped = stamp(draft, 0, 0);
  const fast = encodeFast(stamped);
  const bytes = fast ?? encoder.encode(stamped);
  const at = bytes.length - STAMP_TAIL.length;
  if (at <= 0 || !bytes.subarray(at).equals(STAMP_TAIL)) return undefined;
  // cbor-x's copied (its buffer is reused); the fast encoder never writes its bytes again.
  return fast ? fast.subarray(0, at) : Buffer.from(bytes.subarray(0, at));
}

/** The CBOR of a stamped record from its prefix: the same bytes as `encodeRecord(stamp(draft, p, t))`. */
export function finishRecord(prefix: Buffer, position: number, time: number): Buffer {
  return Buffer.concat([prefix, POSITION_KEY, encode(position), TIME_KEY, encode(time)]);
}

/** Frames one batch into one buffer, for one write: every frame but the last carries the "more" bit. */
export function encodeBatch(records: readonly StoredRecord[]): Buffer {
  const last = records.length - 1;
  return Buffer.concat(records.map((r, i) => encodeFrame(r, i < last)));
}

/**
 * Decodes unframed CBOR bytes of one record.
 * @throws CorruptRecordError when the bytes are not a record.
 */
export function decodeRecord(body: Uint8Array, segment: string, offset: number): StoredRecord {
  // The specialised decoder, exactly cbor-x's result for what it handles; cbor-x for anything else
  // (and for corrupt bytes, so the error and its cause stay cbor-x's).
  let value = decodeFast(body);
  if (value === UNHANDLED) {
    try {
      value = decoder.decode(body);
    } catch (cause) {
      throw new CorruptRecordError(segment, offset, 'undecodable CBOR', undefined, { cause });
    }
  }
  if (!isRecordShape(value)) {
    throw new CorruptRecordError(segment, offset, 'CBOR value is not a record (type, v, position, time)');
  }
  return value;
}

function isRecordShape(value: unknown): value is StoredRecord {
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
  | {
      readonly kind: 'record';
      readonly record: StoredRecord;
      readonly offset: number;
      readonly end: number;
      /** More frames of the same batch follow. */
      readonly more: boolean;
    }
  /** An incomplete frame (or zeros) runs to the end of the buffer: a torn tail if at the end of a file. */
  | { readonly kind: 'torn'; readonly offset: number };

/** What {@link scanBatches} found: complete batches, then possibly an incomplete tail. */
export type BatchScan =
  | {
      readonly kind: 'batch';
      readonly records: StoredRecord[];
      readonly offset: number;
      readonly end: number;
    }
  /** An incomplete batch runs from `offset` to the end of the buffer. */
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
    const word = buf.readUInt32BE(at);
    const length = word & LENGTH_MASK;
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
    if (frameCrc(buf, at, body) !== buf.readUInt32BE(at + 4)) {
      throw new CorruptRecordError(segment, base + at, 'CRC mismatch');
    }
    const record = decodeRecord(body, segment, base + at);
    yield { kind: 'record', record, offset: base + at, end: base + end, more: word >= MORE };
    at = end;
  }
}

/**
 * Reads whole batches from `buf` (see {@link scanFrames} for the arguments): a batch is yielded once its
 * last frame is complete; a batch cut short by the end of the buffer is reported as `torn` at its start.
 * @throws CorruptRecordError on a bad length, CRC or CBOR.
 */
export function* scanBatches(buf: Buffer, segment: string, base = 0, start = 0): Generator<BatchScan> {
  let records: StoredRecord[] = [];
  let batchStart = base + start;
  for (const item of scanFrames(buf, segment, base, start)) {
    if (item.kind === 'torn') {
      yield { kind: 'torn', offset: batchStart };
      return;
    }
    records.push(item.record);
    if (!item.more) {
      yield { kind: 'batch', records, offset: batchStart, end: item.end };
      records = [];
      batchStart = item.end;
    }
  }
  if (records.length > 0) yield { kind: 'torn', offset: batchStart };
}

/**
 * Checks the framing and CRC of the frames in `buf` without decoding them (cheap enough for a whole
 * segment); `base` is the byte offset of `buf[0]` in its segment, used in error messages.
 * @returns the offset in `buf` where its complete batches end: what follows is an incomplete batch (or
 *   zeros), which only the caller can judge (a write in progress, a torn tail, a cut file).
 * @throws CorruptRecordError on a bad length or CRC, naming the segment and byte offset.
 */
export function checkFrames(buf: Buffer, segment: string, base = 0): number {
  let at = 0;
  let end = 0;
  while (buf.length - at >= FRAME_HEADER) {
    const word = buf.readUInt32BE(at);
    const length = word & LENGTH_MASK;
    if (length === 0 || length > MAX_RECORD_BYTES) {
      if (isZeros(buf, at)) break;
      throw new CorruptRecordError(segment, base + at, `bad frame length ${length}`);
    }
    const next = at + FRAME_HEADER + length;
    if (next > buf.length) break;
    if (frameCrc(buf, at, buf.subarray(at + FRAME_HEADER, next)) !== buf.readUInt32BE(at + 4)) {
      throw new CorruptRecordError(segment, base + at, 'CRC mismatch');
    }
    at = next;
    if (word < MORE) end = at;
  }
  return end;
}

function isZeros(buf: Buffer, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}
