/**
 * A CBOR encoder for what records are made of: plain objects, arrays, strings, numbers, booleans, null
 * and undefined. Every process encodes its appends (a worker its claims and results, a publisher its
 * events). cbor-x's encoder takes a new buffer outside the heap (`Buffer.allocUnsafeSlow`) whenever its
 * current one has less than 2 KiB left, which with batch records of tens of KiB is every encoding or
 * two, and two arrays per object (its keys and values); this one writes one 64 KiB slab after another
 * and never writes again what it handed out.
 *
 * Its bytes are exactly cbor-x's (`new Encoder({ useRecords: false, mapsAsObjects: true,
 * variableMapSize: true })`), checked by a property test. Whatever it does not handle (Dates, Maps, Sets,
 * typed arrays and Buffers, class instances, BigInts, strings with a lone surrogate — where cbor-x's
 * bytes depend on the string's length —, maps of 24 keys or more, nesting deeper than
 * {@link MAX_DEPTH}) it leaves to cbor-x whole: it answers undefined.
 */

/** Bytes reserved at once; the results are views of it until it is full. */
const SLAB = 64 * 1024;
const MAX_DEPTH = 64;

let slab = Buffer.allocUnsafe(SLAB);
/** Where the encoding under way starts in `slab`. */
let start = 0;
let pos = 0;

/** Thrown to unwind to {@link encodeFast} from any depth. Made once: throwing it captures no stack. */
const BAIL = new Error('cbor-encode-fast: left to cbor-x');

/**
 * The CBOR bytes of `value` as cbor-x encodes them, or undefined when it is left to cbor-x. The bytes
 * are a view of a slab whose bytes are never written again: the caller may keep them.
 */
export function encodeFast(value: unknown): Buffer | undefined {
  if (slab.length - start < 1024) {
    slab = Buffer.allocUnsafe(SLAB);
    start = 0;
  }
  pos = start;
  try {
    write(value, 0);
  } catch (e) {
    if (e !== BAIL) throw e;
    return undefined;
  }
  const out = slab.subarray(start, pos);
  start = pos;
  return out;
}

/** Makes room for `n` more bytes: a new slab, the encoding so far copied to its start. */
function room(n: number): void {
  if (pos + n <= slab.length) return;
  const used = pos - start;
  const next = Buffer.allocUnsafe(Math.max(SLAB, (used + n) * 2));
  slab.copy(next, 0, start, pos);
  slab = next;
  start = 0;
  pos = used;
}

function write(value: unknown, depth: number): void {
  switch (typeof value) {
    case 'string':
      return writeString(value);
    case 'number':
      return writeNumber(value);
    case 'boolean':
      room(1);
      slab[pos++] = value ? 0xf5 : 0xf4;
      return;
    case 'undefined':
      room(1);
      slab[pos++] = 0xf7;
      return;
    case 'object': {
      if (value === null) {
        room(1);
        slab[pos++] = 0xf6;
        return;
      }
      if (depth >= MAX_DEPTH) throw BAIL;
      // cbor-x looks at `constructor`, own property or inherited, as here.
      const constructor: unknown = (value as { constructor?: unknown }).constructor;
      if (constructor === Object) return writeObject(value as Record<string, unknown>, depth + 1);
      if (constructor === Array) return writeArray(value as unknown[], depth + 1);
      throw BAIL;
    }
    default:
      throw BAIL; // bigint, symbol, function
  }
}

/** A map: its own enumerable string keys in Object.keys order (for…in on a plain object, own only). */
function writeObject(object: Record<string, unknown>, depth: number): void {
  room(1);
  const header = pos++ - start; // relative: a new slab moves the encoding to its start
  let size = 0;
  for (const key in object) {
    if (!Object.hasOwn(object, key)) continue; // an enumerable property of a polluted prototype
    if (++size >= 0x18) throw BAIL; // a longer header than reserved: cbor-x's, rare in records
    writeString(key);
    write(object[key], depth);
  }
  slab[start + header] = 0xa0 | size;
}

function writeArray(array: unknown[], depth: number): void {
  const length = array.length;
  room(5);
  if (length < 0x18) slab[pos++] = 0x80 | length;
  else if (length < 0x100) {
    slab[pos++] = 0x98;
    slab[pos++] = length;
  } else if (length < 0x10000) {
    slab[pos++] = 0x99;
    slab[pos++] = length >> 8;
    slab[pos++] = length & 0xff;
  } else {
    slab[pos++] = 0x9a;
    slab.writeUInt32BE(length, pos);
    pos += 4;
  }
  for (let i = 0; i < length; i++) write(array[i], depth);
}

function writeNumber(value: number): void {
  room(9);
  if (value >>> 0 === value) {
    // An unsigned integer of 32 bits or less (-0 too, as 0: cbor-x's test)
    if (value < 0x18) slab[pos++] = value;
    else if (value < 0x100) {
      slab[pos++] = 0x18;
      slab[pos++] = value;
    } else if (value < 0x10000) {
      slab[pos++] = 0x19;
      slab[pos++] = value >> 8;
      slab[pos++] = value & 0xff;
    } else {
      slab[pos++] = 0x1a;
      slab.writeUInt32BE(value, pos);
      pos += 4;
    }
  } else if (value >> 0 === value) {
    // A negative integer of 31 bits or less
    if (value >= -0x18) slab[pos++] = 0x1f - value;
    else if (value >= -0x100) {
      slab[pos++] = 0x38;
      slab[pos++] = ~value;
    } else if (value >= -0x10000) {
      slab[pos++] = 0x39;
      slab.writeUInt16BE(~value, pos);
      pos += 2;
    } else {
      slab[pos++] = 0x3a;
      slab.writeUInt32BE(~value, pos);
      pos += 4;
    }
  } else if (value < 0 && value >= -0x100000000 && Math.floor(value) === value) {
    slab[pos++] = 0x3a;
    slab.writeUInt32BE(-1 - value, pos);
    pos += 4;
  } else {
    slab[pos++] = 0xfb;
    slab.writeDoubleBE(value, pos);
    pos += 8;
  }
}

/**
 * A text string. ASCII ones below 256 characters (keys, names, ids) byte by byte; others through
 * Buffer's UTF-8 writer, which gives cbor-x's bytes unless the string holds a lone surrogate (cbor-x
 * writes one byte by byte below 64 characters, replaced above): those go to cbor-x.
 */
function writeString(value: string): void {
  const length = value.length;
  if (length < 0x100) {
    // ASCII: its byte length is its length, so its header is known up front.
    const header = length < 0x18 ? 1 : 2;
    room(header + length);
    const at = pos + header;
    let i = 0;
    for (; i < length; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) break;
      slab[at + i] = c;
    }
    if (i === length) {
      if (header === 1) slab[pos] = 0x60 | length;
      else {
        slab[pos] = 0x78;
        slab[pos + 1] = length;
      }
      pos = at + length;
      return;
    }
  }
  for (let i = 0; i < length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    // A pair is UTF-8's four bytes both ways; a lone surrogate is not (see above).
    const low = value.charCodeAt(i + 1);
    if (c > 0xdbff || !(low >= 0xdc00 && low <= 0xdfff)) throw BAIL;
    i++;
  }
  const max = length * 3;
  room(5 + max);
  // The header's size from the string's length, as cbor-x estimates it; moved when the bytes need more.
  const headerSize = length < 0x20 ? 1 : length < 0x100 ? 2 : length < 0x10000 ? 3 : 5;
  const bytes = slab.write(value, pos + headerSize, max, 'utf8');
  const needed = bytes < 0x18 ? 1 : bytes < 0x100 ? 2 : bytes < 0x10000 ? 3 : 5;
  if (needed !== headerSize) slab.copyWithin(pos + needed, pos + headerSize, pos + headerSize + bytes);
  if (needed === 1) slab[pos++] = 0x60 | bytes;
  else if (needed === 2) {
    slab[pos++] = 0x78;
    slab[pos++] = bytes;
  } else if (needed === 3) {
    slab[pos++] = 0x79;
    slab[pos++] = bytes >> 8;
    slab[pos++] = bytes & 0xff;
  } else {
    slab[pos++] = 0x7a;
    slab.writeUInt32BE(bytes, pos);
    pos += 4;
  }
  pos += bytes;
}
