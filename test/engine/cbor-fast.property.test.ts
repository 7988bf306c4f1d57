import { Decoder, Encoder } from 'cbor-x';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeFast } from '../../engine/cbor-encode-fast.js';
import { decodeFast, UNHANDLED } from '../../engine/cbor-fast.js';
import { decodeRecord, encodeRecord } from '../../engine/codec.js';
import { CorruptRecordError } from '../../engine/errors.js';
import { RECORD_TYPES, stamp } from '../../engine/records.js';

// The reference: the codec's own cbor-x settings.
const encoder = new Encoder({ useRecords: false, mapsAsObjects: true, variableMapSize: true });
const cborx = new Decoder({ useRecords: false, mapsAsObjects: true });

type Outcome = { readonly threw: true } | { readonly threw: false; readonly value: unknown };

function attempt(decode: () => unknown): Outcome {
  try {
    return { threw: false, value: decode() };
  } catch {
    return { threw: true };
  }
}

/** What decodeRecord does at the CBOR level: the fast decoder, cbor-x for what it leaves. */
const fastOrCborx = (bytes: Uint8Array): unknown => {
  const value = decodeFast(bytes);
  return value === UNHANDLED ? cborx.decode(bytes) : value;
};

/**
 * Exactly the same value: Object.is on primitives (-0, NaN), same prototypes, same keys in the same
 * order, same bytes of byte arrays.
 */
function expectSame(actual: unknown, expected: unknown, path = '$'): void {
  if (typeof expected !== 'object' || expected === null) {
    expect(Object.is(actual, expected), `${path}: ${String(actual)} vs ${String(expected)}`).toBe(true);
    return;
  }
  expect(typeof actual, path).toBe('object');
  const a = actual as object;
  expect(Object.getPrototypeOf(a), `${path} prototype`).toBe(Object.getPrototypeOf(expected));
  if (ArrayBuffer.isView(expected)) {
    expect(Buffer.from(a as Uint8Array).equals(Buffer.from(expected as Uint8Array)), path).toBe(true);
    return;
  }
  if (expected instanceof Date) {
    expect(Object.is((a as Date).getTime(), expected.getTime()), path).toBe(true);
    return;
  }
  if (Array.isArray(expected)) expect((a as unknown[]).length, `${path} length`).toBe(expected.length);
  expect(Object.keys(a), `${path} keys`).toEqual(Object.keys(expected));
  for (const key of Object.keys(expected)) {
    expectSame(
      (a as Record<string, unknown>)[key],
      (expected as Record<string, unknown>)[key],
      `${path}.${key}`,
    );
  }
}

/** The fast path (with its fallback) and cbor-x agree: both throw, or give the same value. */
function expectAgree(bytes: Uint8Array): Outcome {
  const expected = attempt(() => cborx.decode(bytes));
  const actual = attempt(() => fastOrCborx(bytes));
  expect(actual.threw).toBe(expected.threw);
  if (!actual.threw && !expected.threw) expectSame(actual.value, expected.value);
  return expected;
}

/** Encoder output decoded without falling back, and the same as cbor-x's decode. */
function expectFast(bytes: Uint8Array): unknown {
  const value = decodeFast(bytes);
  expect(value).not.toBe(UNHANDLED);
  expectSame(value, cborx.decode(bytes));
  return value;
}

const utf16 = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) });
const text = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 50 }),
  fc.constantFrom('type', 'queue', 'eventId', 'event.published', 'EUR', 'orders/bill', 'ok'),
  utf16, // lone surrogates, which the encoder writes as 3 bytes each (not UTF-8)
);
const key = fc.oneof(
  text,
  fc.constantFrom('__proto__', 'constructor', 'toString', '0', '1', '10', '-1', '4294967295', ''),
);
const number = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc.integer({ min: -(2 ** 32), max: 2 ** 32 }),
  fc.double(), // -0, NaN, ±Infinity included
  fc.float().map(Math.fround),
);
const leaf = fc.oneof(number, text, fc.boolean(), fc.constant(null), fc.constant(undefined));
/** What JSON-like payloads hold, plus undefined. */
const { json } = fc.letrec((tie) => ({
  json: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('json'), { maxLength: 5 }),
    fc.array(fc.tuple(key, tie('json')), { maxLength: 6 }).map((entries) => Object.fromEntries(entries)),
  ),
}));
/** Everything else the encoder takes: the fast decoder leaves most of it to cbor-x. */
const { anything } = fc.letrec((tie) => ({
  anything: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n - 1n }),
    fc.date({ noInvalidDate: false }),
    fc.uint8Array({ maxLength: 20 }).map((b) => Buffer.from(b)),
    fc.uint8Array({ maxLength: 20 }),
    fc.array(tie('anything'), { maxLength: 4 }),
    fc.array(fc.tuple(key, tie('anything')), { maxLength: 4 }).map((entries) => Object.fromEntries(entries)),
    fc.array(fc.tuple(tie('anything'), tie('anything')), { maxLength: 3 }).map((entries) => new Map(entries)),
    fc.array(fc.integer(), { maxLength: 3 }).map((items) => new Set(items)),
  ),
}));

const records = fc
  .tuple(
    fc.oneof(fc.constantFrom(...RECORD_TYPES), fc.string({ minLength: 1, maxLength: 20 })),
    fc.array(fc.tuple(key, json), { maxLength: 8 }).map((entries) => Object.fromEntries(entries)),
    fc.maxSafeNat(),
    fc.nat({ max: 2 ** 47 }),
  )
  .map(([type, fields, position, time]) => stamp({ ...fields, type }, position, time));

/** Text the fast decoder leaves to cbor-x once encoded: lone surrogates (see below) or a leading BOM. */
const oddText = (s: string): boolean => s.startsWith('\ufeff') || Buffer.from(s).toString() !== s;

/** Whether the fast decoder steps aside for a JSON-like value, encoded (see engine/cbor-fast.ts). */
function leftToCborx(value: unknown): boolean {
  if (typeof value === 'string') return oddText(value);
  if (Array.isArray(value)) return value.some(leftToCborx);
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).some(([k, v]) => k === '__proto__' || oddText(k) || leftToCborx(v));
  }
  return false;
}

describe('cbor-fast agrees with cbor-x', () => {
  it('on encoded JSON-like values, and decodes them itself', () => {
    fc.assert(
      fc.property(json, (value) => {
        const bytes = encoder.encode(value);
        expectAgree(bytes);
        // The encoder writes a lone surrogate as its 3 bytes (not UTF-8, which cbor-x reads as 3
        // U+FFFD): left to cbor-x, like a leading BOM and "__proto__" keys. The rest is decoded here.
        if (!leftToCborx(value)) expectFast(bytes);
      }),
      { numRuns: 1000 },
    );
  });

  it('on records, through decodeRecord too', () => {
    fc.assert(
      fc.property(records, (record) => {
        const bytes = encodeRecord(record);
        expectAgree(bytes);
        expectSame(decodeRecord(bytes, 'seg', 0), cborx.decode(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it('on anything the encoder takes (Dates, byte arrays, BigInts, Maps, Sets...)', () => {
    fc.assert(
      fc.property(anything, (value) => {
        let bytes: Uint8Array;
        try {
          bytes = encoder.encode(value);
        } catch {
          return; // not encodable: nothing to decode
        }
        expectAgree(bytes);
      }),
      { numRuns: 1000 },
    );
  });

  it('on damaged records: flipped, inserted and deleted bytes, cuts, trailing bytes', () => {
    const damage = fc.oneof(
      fc.record({ kind: fc.constant('flip'), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
      fc.record({ kind: fc.constant('insert'), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('delete'), at: fc.nat() }),
      fc.record({ kind: fc.constant('cut'), at: fc.nat() }),
      fc.record({ kind: fc.constant('append'), bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
    );
    fc.assert(
      fc.property(records, fc.array(damage, { minLength: 1, maxLength: 3 }), (record, damages) => {
        let bytes = Buffer.from(encodeRecord(record));
        for (const d of damages) {
          const at = 'at' in d ? d.at % (bytes.length + 1) : 0;
          if (d.kind === 'flip' && at < bytes.length) bytes[at] = bytes[at]! ^ d.mask;
          if (d.kind === 'insert')
            bytes = Buffer.concat([bytes.subarray(0, at), Buffer.of(d.byte), bytes.subarray(at)]);
          if (d.kind === 'delete') bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
          if (d.kind === 'cut') bytes = bytes.subarray(0, at);
          if (d.kind === 'append') bytes = Buffer.concat([bytes, d.bytes]);
        }
        const expected = expectAgree(bytes);
        // decodeRecord throws exactly when cbor-x does (or the value is not a record).
        const viaRecord = attempt(() => decodeRecord(bytes, 'seg', 0));
        if (expected.threw) expect(viaRecord.threw).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('on raw CBOR the encoder never writes: every width of head, floats, simple values, tags, indefinite lengths', () => {
    const width = fc.constantFrom(0, 1, 2, 4, 8);
    /** A head with argument `n` in the given width, if it fits (the shortest form otherwise). */
    const head = (major: number, n: bigint, w: number): Buffer => {
      const fits = (bytes: number) => n < 2n ** BigInt(8 * bytes);
      if (w === 0 && n < 24n) return Buffer.of((major << 5) | Number(n));
      const size = [1, 2, 4, 8].find((b) => b >= w && fits(b)) ?? 8;
      const out = Buffer.alloc(1 + size);
      out[0] = (major << 5) | (24 + Math.log2(size));
      for (let i = 0; i < size; i++) out[size - i] = Number((n >> BigInt(8 * i)) & 0xffn);
      return out;
    };
    const utf8 = (s: string) => Buffer.from(s, 'utf8');
    const { item } = fc.letrec<{ item: Buffer; key: Buffer }>((tie) => ({
      item: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc
          .tuple(fc.constantFrom(0, 1), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), width)
          .map(([m, n, w]) => head(m, n, w)),
        fc.tuple(text, width).map(([s, w]) => Buffer.concat([head(3, BigInt(utf8(s).length), w), utf8(s)])),
        fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.concat([head(3, BigInt(b.length), 0), b])), // any bytes
        fc.uint8Array({ maxLength: 6 }).map((b) => Buffer.concat([head(2, BigInt(b.length), 0), b])),
        fc
          .tuple(fc.constantFrom(0xf9, 0xfa, 0xfb), fc.uint8Array({ minLength: 8, maxLength: 8 }))
          .map(([h, b]) => Buffer.concat([Buffer.of(h), b.subarray(0, h === 0xf9 ? 2 : h === 0xfa ? 4 : 8)])),
        fc.integer({ min: 0xe0, max: 0xff }).map((b) => Buffer.of(b)), // simple values, reserved, break
        fc.integer({ min: 0, max: 255 }).map((b) => Buffer.of(0xf8, b)),
        fc
          .tuple(fc.array(tie('item'), { maxLength: 4 }), width)
          .map(([items, w]) => Buffer.concat([head(4, BigInt(items.length), w), ...items])),
        fc
          .tuple(fc.array(fc.tuple(fc.oneof(tie('key'), tie('item')), tie('item')), { maxLength: 4 }), width)
          .map(([entries, w]) => Buffer.concat([head(5, BigInt(entries.length), w), ...entries.flat()])),
        fc
          .tuple(fc.constantFrom(0n, 1n, 2n, 64n, 258n, 259n, 0xdffen, 0xdfffn), tie('item'))
          .map(([tag, content]) => Buffer.concat([head(6, tag, 0), content])),
        fc
          .array(tie('item'), { maxLength: 3 })
          .map((items) => Buffer.concat([Buffer.of(0x9f), ...items, Buffer.of(0xff)])),
        fc
          .array(fc.tuple(tie('key'), tie('item')), { maxLength: 3 })
          .map((entries) => Buffer.concat([Buffer.of(0xbf), ...entries.flat(), Buffer.of(0xff)])),
      ),
      key: fc.tuple(key, width).map(([s, w]) => Buffer.concat([head(3, BigInt(utf8(s).length), w), utf8(s)])),
    }));
    fc.assert(
      fc.property(item, (bytes) => {
        expectAgree(bytes);
      }),
      { numRuns: 3000 },
    );
  });
});

const hex = (s: string) => Buffer.from(s.replace(/ /g, ''), 'hex');

describe('cbor-fast cases', () => {
  it('every float16, and float32 and float64 values', () => {
    for (let h = 0; h < 0x10000; h++)
      expectSame(
        decodeFast(Buffer.of(0xf9, h >> 8, h & 0xff)),
        cborx.decode(Buffer.of(0xf9, h >> 8, h & 0xff)),
      );
    expect(decodeFast(hex('f9 3e00'))).toBe(1.5);
    expect(Object.is(decodeFast(hex('f9 8000')), -0)).toBe(true);
    expect(decodeFast(hex('f9 0001'))).toBe(2 ** -24);
    expect(decodeFast(hex('f9 fc00'))).toBe(-Infinity);
    expect(decodeFast(hex('fa 3fc00000'))).toBe(1.5);
    expect(decodeFast(hex('fa 3dcccccd'))).toBe(Math.fround(0.1)); // cbor-x does not round float32s by default
    expect(decodeFast(hex('fa 7fc00000'))).toBeNaN();
    expect(decodeFast(hex('fb 3fb999999999999a'))).toBe(0.1);
    expect(Object.is(decodeFast(hex('fb 8000000000000000')), -0)).toBe(true);
    for (const n of [0.1, -2.5, 1e300, -Number.MIN_VALUE, 2 ** 53 + 2, Date.now() + 0.5, NaN, -0])
      expectFast(encoder.encode(n));
  });

  it('integers of every width; 8-byte ones as BigInts, as cbor-x without int64AsNumber', () => {
    for (const n of [
      0,
      23,
      24,
      255,
      256,
      65535,
      65536,
      2 ** 32 - 1,
      -1,
      -24,
      -25,
      -256,
      -257,
      -65537,
      -(2 ** 31),
      -(2 ** 32),
    ]) {
      expect(expectFast(encoder.encode(n))).toBe(n);
    }
    expect(decodeFast(hex('1b 0000000000000001'))).toBe(1n);
    expect(decodeFast(hex('1b ffffffffffffffff'))).toBe(2n ** 64n - 1n);
    expect(decodeFast(hex('3b ffffffffffffffff'))).toBe(-(2n ** 64n));
    expect(decodeFast(hex('3a ffffffff'))).toBe(-(2 ** 32));
    expect(decodeFast(hex('18 05'))).toBe(5); // not the shortest form: still 5
    for (const n of [2n ** 63n, -(2n ** 63n), 5n]) expectFast(encoder.encode(n));
    expect(decodeFast(encoder.encode(2 ** 40))).toBe(2 ** 40); // numbers past 32 bits are float64s
  });

  it('unicode text, keys and values, short and long, and the string cache keeping them apart', () => {
    const value = {
      héllo: 'wörld',
      日本: '語'.repeat(30),
      '🙂': ['🙂', 'a🙂b'.repeat(20), 'ß'],
      [`k${'é'.repeat(40)}`]: 'x'.repeat(100),
    };
    expect(expectFast(encoder.encode(value))).toEqual(value);
    // Same length, same first, middle and last bytes: the same cache slot, told apart by the bytes.
    const twins = ['aXcde', 'aYcde', 'aXcde', 'aZcde', 'aYcde'];
    for (let i = 0; i < 3; i++) expect(expectFast(encoder.encode(twins))).toEqual(twins);
    expect(expectFast(encoder.encode({ a: '', '': 'a' }))).toEqual({ a: '', '': 'a' });
  });

  it('key order as cbor-x: integer-like keys first, the first place and last value of a repeated key', () => {
    expectFast(
      encoder.encode(
        Object.fromEntries([
          ['b', 1],
          ['2', 2],
          ['a', 3],
          ['1', 4],
        ]),
      ),
    );
    const repeated = hex('a3 6161 01 6162 02 6161 03'); // {a: 1, b: 2, a: 3}
    expect(Object.entries(expectFast(repeated) as object)).toEqual([
      ['a', 3],
      ['b', 2],
    ]);
  });

  it('leaves to cbor-x: invalid UTF-8, a BOM, "__proto__" keys, tags, byte strings, non-text keys', () => {
    const cases = {
      invalidUtf8: hex('63 61 ff 62'),
      loneSurrogate: encoder.encode('\ud800x\udc00'), // written as 3 bytes each: cbor-x makes 3 U+FFFD
      overlong: hex('62 c0af'),
      bom: encoder.encode('\ufeffhello'),
      proto: encoder.encode(Object.fromEntries([['__proto__', { polluted: true }]])),
      date: encoder.encode(new Date(1_700_000_000_000)),
      buffer: encoder.encode(Buffer.from('abc')),
      uint8Array: encoder.encode(new Uint8Array([1, 2, 3])),
      numberKey: hex('a1 01 02'),
      map: encoder.encode(new Map([[1, 'one']])),
      indefinite: hex('9f 01 02 ff'),
      simple: hex('f0'),
      tag: hex('d9 0103 82 01 02'),
      stringLength8: hex('7b 0000000000000001 61'),
    };
    for (const [name, bytes] of Object.entries(cases)) {
      expect(decodeFast(bytes), name).toBe(UNHANDLED);
      expectAgree(bytes);
    }
    expect(Object.keys(fastOrCborx(cases.proto) as object)).toEqual(['__proto_']);
  });

  it('truncated input, trailing bytes and deep nesting are left to cbor-x, which throws', () => {
    const bytes = encodeRecord(stamp({ type: 'x', nested: { list: [1, 'two', 3.5] } }, 7, 1_700_000_000_000));
    expect(decodeRecord(bytes, 'seg', 0)).toEqual(cborx.decode(bytes));
    for (let cut = 0; cut < bytes.length; cut++) {
      expect(decodeFast(bytes.subarray(0, cut))).toBe(UNHANDLED);
      expect(() => decodeRecord(bytes.subarray(0, cut), 'seg', 0)).toThrow(CorruptRecordError);
    }
    const trailing = Buffer.concat([bytes, Buffer.of(0)]);
    expect(decodeFast(trailing)).toBe(UNHANDLED);
    expect(() => decodeRecord(trailing, 'seg', 0)).toThrow(CorruptRecordError);
    // Huge lengths in small inputs allocate nothing.
    for (const h of ['9a ffffffff', 'ba ffffffff', '7a ffffffff 61'])
      expect(decodeFast(hex(h))).toBe(UNHANDLED);
    const deep = Buffer.concat([Buffer.alloc(200_000, 0x81), Buffer.of(0)]);
    expect(decodeFast(deep)).toBe(UNHANDLED);
    expectAgree(deep);
  });

  it('maps and arrays past 65535 items are left to cbor-x (and its size limits)', () => {
    const items = Array.from({ length: 0x10000 }, (_, i) => i % 7);
    const large = [
      encoder.encode(items),
      encoder.encode(Object.fromEntries(items.map((v, i) => [`k${i}`, v]))),
    ];
    for (const bytes of large) {
      expect(decodeFast(bytes)).toBe(UNHANDLED);
      expectAgree(bytes);
    }
    expectFast(encoder.encode(items.slice(1)));
  });

  it('plain Uint8Arrays and views into larger buffers decode the same as Buffers', () => {
    const record = stamp(
      { type: 'event.published', queue: 'orders', payload: { customer: 'Zoë', total: 19.99 } },
      1,
      2,
    );
    const bytes = encodeRecord(record);
    const padded = Buffer.concat([Buffer.from('xyz'), bytes, Buffer.from('!')]);
    expectSame(decodeFast(padded.subarray(3, 3 + bytes.length)), cborx.decode(bytes));
    expectSame(decodeFast(new Uint8Array(bytes)), cborx.decode(bytes));
    expectSame(decodeRecord(new Uint8Array(bytes), 'seg', 0), record);
  });
});

/** encodeFast's bytes are cbor-x's; false when it leaves the value to cbor-x. */
function expectSameBytes(value: unknown): boolean {
  const fast = encodeFast(value);
  if (fast === undefined) return false;
  const reference = Buffer.from(encoder.encode(value));
  expect(fast.equals(reference), `${fast.toString('hex')} vs ${reference.toString('hex')}`).toBe(true);
  return true;
}

describe('cbor-encode-fast writes cbor-x bytes', () => {
  it('for JSON-like values, taking all but lone surrogates and big maps', () => {
    let taken = 0;
    fc.assert(
      fc.property(json, (value) => {
        if (expectSameBytes(value)) taken++;
      }),
      { numRuns: 3000 },
    );
    expect(taken).toBeGreaterThan(1000); // the rest hold lone surrogates or a "constructor" key
  });

  it('for records', () => {
    fc.assert(
      fc.property(records, (r) => {
        expectSameBytes(r);
      }),
      { numRuns: 1000 },
    );
  });

  it('for anything else, or leaves it to cbor-x (Dates, byte arrays, BigInts, Maps, Sets)', () => {
    fc.assert(
      fc.property(anything, (value) => {
        expectSameBytes(value);
      }),
      { numRuns: 2000 },
    );
  });

  it('at every width of numbers, strings, arrays and maps, and across slabs', () => {
    const numbers = [0, -0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, -1, -24, -25, -256, -257];
    numbers.push(-65536, -65537, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 32), -(2 ** 32) - 1, 0.5, NaN, -Infinity);
    for (const n of numbers) expect(expectSameBytes(n)).toBe(true);
    for (const length of [0, 23, 24, 31, 32, 255, 256, 65535, 65536, 100_000]) {
      expect(expectSameBytes('a'.repeat(length))).toBe(true);
      expect(expectSameBytes('é'.repeat(length))).toBe(true); // 2 bytes each: a longer header than estimated
      expect(expectSameBytes(Array.from({ length }, (_, i) => i))).toBe(true);
    }
    const map = (n: number): Record<string, number> =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
    expect(expectSameBytes(map(23))).toBe(true);
    expect(encodeFast(map(24))).toBeUndefined(); // a two-byte map header: cbor-x's
    expect(expectSameBytes({ a: '😀', b: '😀'.repeat(40) })).toBe(true);
    // What was handed out stays intact while later encodings fill new slabs.
    const value = (i: number) => ({ i, pad: 'x'.repeat(i * 37) });
    const kept = Array.from({ length: 200 }, (_, i) => encodeFast(value(i)));
    kept.forEach((bytes, i) => expect(bytes?.equals(Buffer.from(encoder.encode(value(i))))).toBe(true));
  });

  it('leaves to cbor-x what it does not write: lone surrogates, class instances, own constructor keys, deep nesting', () => {
    expect(encodeFast('\ud800')).toBeUndefined();
    expect(encodeFast({ a: 'x\udc00' })).toBeUndefined();
    expect(encodeFast(new Date(0))).toBeUndefined();
    expect(encodeFast({ constructor: 1 })).toBeUndefined();
    expect(encodeFast(Object.create(null))).toBeUndefined();
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(encodeFast(deep)).toBeUndefined();
    expect(encodeFast(10n)).toBeUndefined();
  });
});
