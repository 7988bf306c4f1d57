/**
 * Array parameters in PostgreSQL's binary format (what `array_recv` reads). `pg` sends a `Buffer`
 * parameter as binary and anything else as text, and writes a JS array of buffers as a text array
 * literal, each element hex-escaped: twice the bytes, a hex encoding here and a hex and array parse on
 * the server. An append's bodies go as one binary `bytea[]` instead: the bytes as they are, behind a
 * length each.
 * @module
 */

/** OIDs of the element types. */
const BYTEA = 17;
const BOOL = 16;
/** ndim, flags (no nulls), element type, length and lower bound of the one dimension. */
const HEADER = 20;

function header(buf: Buffer, count: number, oid: number): void {
  buf.writeInt32BE(1, 0);
  buf.writeInt32BE(0, 4);
  buf.writeInt32BE(oid, 8);
  buf.writeInt32BE(count, 12);
  buf.writeInt32BE(1, 16);
}

/** A `bytea[]` in binary format, for a `$n::bytea[]` parameter. */
export function byteaArray(items: readonly Buffer[]): Buffer {
  let size = HEADER;
  for (const b of items) size += 4 + b.length;
  const buf = Buffer.allocUnsafe(size);
  header(buf, items.length, BYTEA);
  let at = HEADER;
  for (const b of items) {
    buf.writeInt32BE(b.length, at);
    b.copy(buf, at + 4);
    at += 4 + b.length;
  }
  return buf;
}

/** A `bool[]` in binary format, for a `$n::bool[]` parameter. */
export function boolArray(items: readonly boolean[]): Buffer {
  const buf = Buffer.allocUnsafe(HEADER + 5 * items.length);
  header(buf, items.length, BOOL);
  let at = HEADER;
  for (const b of items) {
    buf.writeInt32BE(1, at);
    buf[at + 4] = b ? 1 : 0;
    at += 5;
  }
  return buf;
}
