import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeRecord,
  encodeBatch,
  encodeDraftPrefix,
  finishRecord,
  encodeFrame,
  encodeRecord,
  FRAME_HEADER,
  scanBatches,
  scanFrames,
} from '../../engine/codec.js';
import { CorruptRecordError } from '../../engine/errors.js';
import {
  RECORD_TYPES,
  RECORD_VERSION,
  stamp,
  type StoredRecord,
  type RecordDraft,
} from '../../engine/records.js';

// What the codec is asked to keep exactly. Three things it does not keep are left out on purpose:
// -0 (CBOR writes it as the integer 0), lone UTF-16 surrogates (not encodable as UTF-8) and the object
// key "__proto__" (cbor-x renames it to guard against prototype pollution).
const key = fc.string({ unit: 'grapheme', maxLength: 12 }).filter((k) => k !== '__proto__');
const number = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double({ noDefaultInfinity: false }).filter((d) => !Object.is(d, -0)),
);
const leaf = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  number,
  fc.boolean(),
  fc.constant(null),
  fc.uint8Array({ maxLength: 64 }),
);
const { value } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(key, tie('value'), { maxKeys: 5 }),
  ),
}));

const stamped = {
  v: fc.integer({ min: 1, max: RECORD_VERSION }),
  position: fc.maxSafeNat(),
  time: fc.nat({ max: 2 ** 47 }),
};

const published = fc.record({
  type: fc.constant('event.published'),
  queue: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }),
  eventId: fc.uuid(),
  payload: value,
  headers: fc.dictionary(key, fc.string({ unit: 'grapheme', maxLength: 20 }), { maxKeys: 3 }),
  ...stamped,
});

/** Any record type, known or from a future release, with arbitrary fields beside the stamped ones. */
const other = fc
  .tuple(
    fc.oneof(fc.constantFrom(...RECORD_TYPES), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 })),
    fc.dictionary(key, value, { maxKeys: 6 }),
    fc.record(stamped),
  )
  .map(([type, fields, s]) => ({ ...fields, type, ...s }));

const record = fc.oneof(published, other) as fc.Arbitrary<StoredRecord>;

/** Where byte `index` falls: which frame, that frame's start, and whether it is in the length word. */
function locate(frames: readonly Buffer[], index: number): { k: number; start: number; inLength: boolean } {
  let k = 0;
  let start = 0;
  while (start + frames[k]!.length <= index) start += frames[k++]!.length;
  return { k, start, inLength: index - start < 4 };
}

const flip = fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 }));
const batches = fc.array(fc.array(record, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 3 });

describe('codec properties', () => {
  it('a framed record reads back as the same record', () => {
    fc.assert(
      fc.property(record, (r) => {
        const scans = [...scanFrames(encodeFrame(r), 'seg')];
        expect(scans).toHaveLength(1);
        const [scan] = scans;
        expect(scan?.kind).toBe('record');
        if (scan?.kind === 'record') {
          expect(scan.record).toEqual(r);
          expect(scan.more).toBe(false);
        }
        expect(decodeRecord(encodeRecord(r), 'seg', 0)).toEqual(r);
      }),
      { numRuns: 300 },
    );
  });

  it('batches read back whole and in order, with their byte offsets', () => {
    fc.assert(
      fc.property(batches, (input) => {
        const bufs = input.map((b) => encodeBatch(b));
        const scans = [...scanBatches(Buffer.concat(bufs), 'seg', 1000)];
        expect(scans.map((s) => (s.kind === 'batch' ? s.records : s))).toEqual(input);
        let offset = 1000;
        scans.forEach((s, i) => {
          expect(s.offset).toBe(offset);
          if (s.kind === 'batch') expect(s.end).toBe(offset + bufs[i]!.length);
          offset += bufs[i]!.length;
        });
      }),
      { numRuns: 150 },
    );
  });

  it('a batch cut short anywhere is torn at its start: none of it is read, and no error', () => {
    fc.assert(
      fc.property(batches, fc.nat(), (input, at) => {
        const bufs = input.map((b) => encodeBatch(b));
        const whole = Buffer.concat(bufs);
        const cut = 1 + (at % (whole.length - 1));
        let k = 0;
        let start = 0;
        while (start + bufs[k]!.length <= cut) start += bufs[k++]!.length;
        const scans = [...scanBatches(whole.subarray(0, cut), 'seg')];
        const expected: unknown[] = input.slice(0, k);
        if (start < cut) expected.push({ kind: 'torn', offset: start });
        expect(scans.map((s) => (s.kind === 'batch' ? s.records : s))).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('one flipped byte never yields a different record: CRC error at the frame, or (length word) a torn tail', () => {
    fc.assert(
      fc.property(batches, flip, (input, [at, mask]) => {
        const records = input.flat();
        const frames = input.flatMap((b) => b.map((r, i) => encodeFrame(r, i < b.length - 1)));
        const buf = Buffer.concat(frames);
        const index = at % buf.length;
        buf[index] = buf[index]! ^ mask;
        const { k, start, inLength } = locate(frames, index);

        const seen: StoredRecord[] = [];
        let outcome: 'error' | 'torn' | 'clean' = 'clean';
        try {
          for (const s of scanFrames(buf, 'seg-x')) {
            if (s.kind === 'torn') {
              outcome = 'torn';
              expect(s.offset).toBe(start);
              break;
            }
            seen.push(s.record);
          }
        } catch (e) {
          outcome = 'error';
          expect(e).toBeInstanceOf(CorruptRecordError);
          expect((e as CorruptRecordError).segment).toBe('seg-x');
          expect((e as CorruptRecordError).offset).toBe(start);
        }
        // Never a record that was not written, nor one in another place.
        expect(seen).toEqual(records.slice(0, seen.length));
        if (outcome === 'clean') {
          // Only the batch-continuation bit can flip unseen: the CRC covers the body, not the header.
          expect(index - start === 0 && mask === 0x80).toBe(true);
        } else {
          expect(seen.length).toBe(k);
          if (outcome === 'torn') expect(inLength).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('one flipped byte never makes batches yield a different record', () => {
    fc.assert(
      fc.property(batches, flip, (input, [at, mask]) => {
        const buf = Buffer.concat(input.map((b) => encodeBatch(b)));
        const index = at % buf.length;
        buf[index] = buf[index]! ^ mask;
        const seen: StoredRecord[] = [];
        try {
          for (const s of scanBatches(buf, 'seg')) if (s.kind === 'batch') seen.push(...s.records);
        } catch (e) {
          expect(e).toBeInstanceOf(CorruptRecordError);
        }
        expect(seen).toEqual(input.flat().slice(0, seen.length));
      }),
      { numRuns: 300 },
    );
  });

  it('the header is 8 bytes: the length (top bit: more frames follow), then the CRC of the body', () => {
    const r = { type: 'x', v: 1, position: 0, time: 0 } as StoredRecord;
    expect(encodeFrame(r).readUInt32BE(0)).toBe(encodeFrame(r).length - FRAME_HEADER);
    expect(encodeFrame(r, true).readUInt32BE(0)).toBe(0x8000_0000 + encodeFrame(r).length - FRAME_HEADER);
  });
});

describe('draft prefixes (encoded outside the append lock)', () => {
  it('a prefix finished with position and time gives the bytes of the stamped record', () => {
    fc.assert(
      fc.property(
        record,
        fc.maxSafeNat(),
        fc.oneof(fc.nat({ max: 2 ** 47 }), fc.double({ min: 0, max: 2 ** 47, noNaN: true })),
        (r, position, time) => {
          const { v: _v, position: _p, time: _t, ...fields } = r as unknown as Record<string, unknown>;
          const draft = fields as unknown as RecordDraft;
          const prefix = encodeDraftPrefix(draft);
          expect(prefix).toBeDefined();
          expect(
            finishRecord(prefix!, position, time).equals(encodeRecord(stamp(draft, position, time))),
          ).toBe(true);
        },
      ),
    );
  });
});
