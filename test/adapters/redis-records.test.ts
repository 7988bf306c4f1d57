import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  draftPrefix,
  encodeDraft,
  PLACEHOLDER_TAIL,
  stampedRecord,
} from '../../adapters/redis/redis-records.js';
import { encodeRecord } from '../../engine/codec.js';
import { stamp, type RecordDraft } from '../../engine/records.js';

// What the append script stores for position 0 and time 0 must be the bytes of the stamped record.
function stored(draft: RecordDraft): Buffer {
  return Buffer.concat([draftPrefix(encodeDraft(draft)), PLACEHOLDER_TAIL]);
}

function withKeys(count: number): RecordDraft {
  const draft: Record<string, unknown> = { type: 'many' };
  for (let i = 1; i < count; i++) draft[`k${i}`] = i;
  return draft as RecordDraft;
}

describe('redis record encoding', () => {
  it('gives the bytes of encodeRecord(stamp(draft)) for any draft', () => {
    const value = fc.jsonValue();
    const draft = fc
      .record({ type: fc.string({ minLength: 1 }), fields: fc.dictionary(fc.string(), value) })
      .map(({ type, fields }) => {
        const { v: _v, position: _p, time: _t, ...rest } = fields;
        return { ...rest, type };
      });
    fc.assert(
      fc.property(draft, (d) => {
        expect(stored(d).equals(encodeRecord(stamp(d, 0, 0)))).toBe(true);
      }),
    );
  });

  it('raises map headers across every width', () => {
    for (const count of [0, 1, 20, 21, 22, 23, 24, 252, 253, 254, 255, 256, 65_532, 65_533, 65_534]) {
      const d = withKeys(Math.max(count, 1));
      expect(stored(d).equals(encodeRecord(stamp(d, 0, 0))), `${count} keys`).toBe(true);
    }
  });

  it('drops a draft own v, position and time: the log assigns them', () => {
    const d = { type: 'x', position: 9, a: 1, time: 3, v: 7 } as RecordDraft;
    expect(stored(d).equals(encodeRecord(stamp({ type: 'x', a: 1 }, 0, 0)))).toBe(true);
    expect(stampedRecord(encodeDraft(d), 4, 5)).toEqual({ type: 'x', a: 1, v: 1, position: 4, time: 5 });
  });

  it('returns records that do not share the caller draft', () => {
    const payload = { list: [1, 2] };
    const d = { type: 'event.published', payload } as RecordDraft;
    const record = stampedRecord(encodeDraft(d), 0, 1) as unknown as { payload: typeof payload };
    payload.list.push(3);
    expect(record.payload).toEqual({ list: [1, 2] });
  });
});
