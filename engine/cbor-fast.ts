/**
 * A CBOR decoder for what the codec's cbor-x encoder writes for records: plain maps with text keys,
 * arrays, text, integers, floats and the simple values. Replay decodes every record of a log, and
 * cbor-x's general decoder pays on each for what records never use (extensions, shared structures,
 * native string extraction); this one, specialised, does less (see the string cache below; bench:replay
 * measures it).
 *
 * Its results are exactly cbor-x's (`new Decoder({ useRecords: false, mapsAsObjects: true })`): the
 * same values, plain objects with the same key order. Whatever it does not handle (tags such as Dates
 * and cbor-x's extensions, byte strings, indefinite lengths, non-text map keys, the key "__proto__",
 * bytes that are not valid UTF-8, huge maps and arrays, truncated input, trailing bytes...) it leaves
 * to cbor-x whole: it answers {@link UNHANDLED} and the caller decodes with cbor-x, which gives its own
 * value or error.
 */

/** What {@link decodeFast} answers for bytes it leaves to cbor-x. */
export const UNHANDLED: unique symbol = Symbol('cbor-fast: unhandled');

/**
 * The value of one CBOR item filling `bytes` exactly, as cbor-x decodes it, or {@link UNHANDLED}.
 * Never throws.
 */
export function decodeFast(bytes: Uint8Array): unknown {
  src = bytes;
  text = bytes instanceof Buffer ? bytes : undefined;
  pos = 0;
  end = bytes.length;
  try {
    const value = read();
    // cbor-x refuses bytes after the value ("Data read, but end of buffer not reached").
    return pos === end ? value : UNHANDLED;
  } catch {
    // BAIL, a fatal TextDecoder's TypeError, or a stack overflow on deep nesting: cbor-x decides.
    return UNHANDLED;
  } finally {
    src = EMPTY; // keep no reference to the caller's bytes
    text = undefined;
  }
}

const EMPTY = Buffer.alloc(0); // a Buffer, as `src` mostly is: keeps its element reads monomorphic

// The decode in progress. Module variables rather than a class: the hot paths read them directly.
let src: Uint8Array = EMPTY;
/** `src` as a Buffer, for its native latin1 slicing; made on first use when `src` is not one. */
let text: Buffer | undefined;
let pos = 0;
let end = 0;

// Thrown to unwind to decodeFast from any depth. Made once: throwing it captures no stack.
const BAIL = new Error('cbor-fast: left to cbor-x');
function bail(): never {
  throw BAIL;
}

function read(): unknown {
  if (pos >= end) bail();
  const head = src[pos++] as number;
  const info = head & 0x1f;
  switch (head >> 5) {
    case 0:
      return info < 24 ? info : readUint(info);
    case 1: {
      if (info < 24) return -1 - info;
      const n = readUint(info);
      return typeof n === 'bigint' ? -1n - n : -1 - n;
    }
    case 3:
      return readText(info < 24 ? info : readLength(info));
    case 4:
      return readArray(info < 24 ? info : readLength(info));
    case 5:
      return readMap(info < 24 ? info : readLength(info));
    case 7:
      return readSimple(info);
    default:
      return bail(); // byte strings (2) and tags (6): Dates, typed arrays, cbor-x's extensions
  }
}

/** Checks that `n` more bytes are there. */
function need(n: number): void {
  if (n > end - pos) bail();
}

/**
 * The argument of an integer head with info 24..27. 8-byte integers are BigInts whatever their value,
 * as in cbor-x without `int64AsNumber` (the encoder writes only BigInts so; numbers beyond 32 bits are
 * float64).
 */
function readUint(info: number): number | bigint {
  if (info === 27) {
    need(8);
    return (BigInt(readUint32()) << 32n) | BigInt(readUint32()); // high word first
  }
  return readLength(info);
}

/** The argument of a head with info 24..26. 8-byte lengths and indefinite lengths are left to cbor-x. */
function readLength(info: number): number {
  if (info === 24) {
    need(1);
    return src[pos++] as number;
  }
  if (info === 25) {
    need(2);
    const n = ((src[pos] as number) << 8) | (src[pos + 1] as number);
    pos += 2;
    return n;
  }
  if (info === 26) {
    need(4);
    return readUint32();
  }
  return bail();
}

function readUint32(): number {
  const n =
    (src[pos] as number) * 0x100_0000 +
    (((src[pos + 1] as number) << 16) | ((src[pos + 2] as number) << 8) | (src[pos + 3] as number));
  pos += 4;
  return n;
}

// Larger maps and arrays go to cbor-x, whose size limits (`setSizeLimits`) then apply as ever.
const MAX_ITEMS = 0xffff;

function readArray(length: number): unknown[] {
  if (length > MAX_ITEMS) bail();
  need(length); // every item takes a byte at least: no allocation from a corrupt length
  const array = new Array<unknown>(length);
  for (let i = 0; i < length; i++) array[i] = read();
  return array;
}

function readMap(size: number): Record<string, unknown> {
  if (size > MAX_ITEMS) bail();
  need(size * 2); // a key and a value: two bytes at least
  const object: Record<string, unknown> = {};
  for (let i = 0; i < size; i++) {
    if (pos >= end) bail();
    const head = src[pos++] as number;
    if (head >> 5 !== 3) bail(); // cbor-x turns number, boolean and null keys into strings: its business
    const key = readText((head & 0x1f) < 24 ? head & 0x1f : readLength(head & 0x1f));
    // cbor-x renames it to "__proto_" against prototype pollution; rare enough to leave to it.
    if (key === '__proto__') bail();
    object[key] = read(); // key before value, as cbor-x: the same order, the same last-one-wins
  }
  return object;
}

// Float bytes are copied here to be read big-endian, rather than making a DataView on every record.
const floatView = new DataView(new ArrayBuffer(8));
const floatBytes = new Uint8Array(floatView.buffer);

function readSimple(info: number): unknown {
  switch (info) {
    case 20:
      return false;
    case 21:
      return true;
    case 22:
      return null;
    case 23:
      return undefined;
    case 25:
      return readFloat16();
    case 26:
      need(4);
      for (let i = 0; i < 4; i++) floatBytes[i] = src[pos++] as number;
      return floatView.getFloat32(0); // cbor-x rounds float32s only with `useFloat32` above 2: not set
    case 27:
      need(8);
      for (let i = 0; i < 8; i++) floatBytes[i] = src[pos++] as number;
      return floatView.getFloat64(0);
    default:
      return bail(); // other simple values are cbor-x's packed values or errors; 31 is a stray break
  }
}

/** IEEE half precision, exactly (every float16 is a double), as cbor-x's getFloat16. */
function readFloat16(): number {
  need(2);
  const high = src[pos] as number;
  const low = src[pos + 1] as number;
  pos += 2;
  const exponent = (high >> 2) & 0x1f;
  const mantissa = ((high & 3) << 8) | low;
  let abs: number;
  if (exponent === 0x1f) {
    if (mantissa !== 0) return NaN;
    abs = Infinity;
  } else if (exponent === 0) {
    abs = mantissa / 2 ** 24; // subnormal
  } else {
    abs = (mantissa + 1024) * 2 ** (exponent - 25);
  }
  return high & 0x80 ? -abs : abs;
}

// Short strings (map keys, types, queue and worker names, currencies, event ids) repeat from record
// to record: a cache, keyed by a hash of their bytes and checked byte by byte, hands back the same
// string instead of decoding a new one (a native call and an allocation). Reusing one string also
// spares V8 re-internalising each key it sets, and replay's views hold one copy of an id, not one per
// record. Fixed size: 4096 slots of 40 bytes, a new string taking the slot of the one it collides with.
const CACHE_MAX = 40; // longest cached string, in bytes: UUIDs (36) recur in claims and results
const CACHE_SLOTS = 4096;
const cacheLengths = new Uint8Array(CACHE_SLOTS); // 0: empty slot (the empty string is not cached)
const cacheBytes = new Uint8Array(CACHE_SLOTS * CACHE_MAX);
const cacheStrings = new Array<string>(CACHE_SLOTS).fill('');

function readText(length: number): string {
  need(length);
  const start = pos;
  pos += length;
  if (length === 0) return '';
  if (length > CACHE_MAX) return decodeText(start, pos);
  const bytes = src;
  // A slot from the length and the first, middle and last bytes.
  const slot =
    ((length << 7) ^
      ((bytes[start] as number) << 4) ^
      ((bytes[start + (length >> 1)] as number) << 2) ^
      (bytes[pos - 1] as number)) &
    (CACHE_SLOTS - 1);
  const at = slot * CACHE_MAX;
  if (cacheLengths[slot] === length) {
    let i = 0;
    while (i < length && cacheBytes[at + i] === bytes[start + i]) i++;
    if (i === length) return cacheStrings[slot] as string;
  }
  const string = decodeText(start, pos); // before caching: it may bail
  for (let i = 0; i < length; i++) cacheBytes[at + i] = bytes[start + i] as number;
  cacheLengths[slot] = length;
  cacheStrings[slot] = string;
  return string;
}

// Fatal: bytes that are not UTF-8 throw, and cbor-x decodes the record (with its own replacements).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The string of `src[start, stop)`. */
function decodeText(start: number, stop: number): string {
  let bits = 0;
  for (let i = start; i < stop; i++) bits |= src[i] as number;
  if (bits < 0x80) {
    text ??= Buffer.from(src.buffer, src.byteOffset, src.byteLength);
    return text.toString('latin1', start, stop); // ASCII: one byte a character
  }
  // A leading BOM: cbor-x keeps it (native string extraction) or drops it (its JS fallback decodes long
  // strings with a default TextDecoder). Leave that to it.
  if (src[start] === 0xef && src[start + 1] === 0xbb && src[start + 2] === 0xbf) bail();
  return utf8.decode(src.subarray(start, stop));
}
