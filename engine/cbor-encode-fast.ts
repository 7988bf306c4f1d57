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
  writeHead(0x80, length);
  for (let i = 0; i < length; i++) write(array[i], depth);
}

function writeNumber(value: number): void {
  room(9);
  if (value >>> 0 === value) {
    writeHead(0x00, value); // an unsigned integer of 32 bits or less (-0 too, as 0: cbor-x's test)
  } else if (value >> 0 === value || (value < 0 && value >= -0x100000000 && Math.floor(value) === value)) {
    writeHead(0x20, -1 - value); // a negative integer of 32 bits or less
  } else {
    slab[pos++] = 0xfb;
    slab.writeDoubleBE(value, pos);
    pos += 8;
  }
}

/** Bytes of a head whose argument is `n` (below 2^32): the shortest, as cbor-x writes every head. */
function headSize(n: number): number {
  return n < 0x18 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

/** A head: `major` (the type's top three bits) and its argument `n` (below 2^32), in {@link headSize} bytes. */
function writeHead(major: number, n: number): void {
  if (n < 0x18) slab[pos++] = major | n;
  else if (n < 0x100) {
    slab[pos++] = major | 0x18;
    slab[pos++] = n;
  } else if (n < 0x10000) {
    slab[pos++] = major | 0x19;
    slab[pos++] = n >> 8;
    slab[pos++] = n & 0xff;
  } else {
    slab[pos++] = major | 0x1a;
    slab.writeUInt32BE(n, pos);
    pos += 4;
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
    room(2 + length);
    const at = pos + headSize(length);
    let i = 0;
    for (; i < length; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) break;
      slab[at + i] = c;
    }
    if (i === length) {
      writeHead(0x60, length);
      pos += length;
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
  // Written after a header sized for the string's length, moved when its bytes need a longer one.
  const guess = headSize(length);
  const bytes = slab.write(value, pos + guess, max, 'utf8');
  const needed = headSize(bytes);
  if (needed !== guess) slab.copyWithin(pos + needed, pos + guess, pos + guess + bytes);
  writeHead(0x60, bytes);
  pos += bytes;
}
