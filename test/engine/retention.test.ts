import { describe, expect, it } from 'vitest';
import { parseByteSize, parseDuration, parseRetention, segmentsToRemove } from '../../engine/retention.js';
import { checkSnapshotRef, snapshotRef, snapshotRefPosition } from '../../engine/snapshot-ref.js';

describe('retention policy', () => {
  it('reads durations and sizes with their units', () => {
    expect(parseDuration('retention', '7d')).toBe(7 * 86_400_000);
    expect(parseDuration('retention', '90m')).toBe(90 * 60_000);
    expect(parseDuration('retention', '30s')).toBe(30_000);
    expect(parseDuration('retention', '12h')).toBe(12 * 3_600_000);
    expect(parseByteSize('retentionBytes', '10GiB')).toBe(10 * 1024 ** 3);
    expect(parseByteSize('retentionBytes', '512KiB')).toBe(512 * 1024);
    expect(parseByteSize('retentionBytes', '100B')).toBe(100);
    expect(parseRetention({})).toBeUndefined();
    expect(parseRetention({ retention: '1h', retentionBytes: '1MiB' })).toEqual({
      maxAgeMs: 3_600_000,
      maxBytes: 1024 * 1024,
    });
  });

  it('refuses a value without a known unit, naming it and the units', () => {
    for (const bad of ['7', '7w', '1.5h', '-1d', 'd', '']) {
      expect(() => parseDuration('retention', bad)).toThrow(/retention must be .* s, m, h or d/);
    }
    for (const bad of ['10', '10GB', '10gib', '1.5MiB', 'KiB']) {
      expect(() => parseByteSize('retentionBytes', bad)).toThrow(
        /retentionBytes must be .* B, KiB, MiB, GiB/,
      );
    }
    expect(() => parseRetention({ retention: '7 days' })).toThrow(/"7 days"/);
  });

  it('removes a prefix of whole segments before keepFrom, never the last one', async () => {
    const segs = [0, 10, 20, 30].map((from) => ({ from, to: from + 10, bytes: 100 }));
    const times = [1000, 2000, 3000, 4000];
    const newest = (i: number) => Promise.resolve(times[i] as number);
    expect(await segmentsToRemove(segs, 40, undefined, 4000, newest)).toBe(0);
    expect(await segmentsToRemove(segs, 40, { maxBytes: 0 }, 4000, newest)).toBe(3);
    expect(await segmentsToRemove(segs, 25, { maxBytes: 0 }, 4000, newest)).toBe(2);
    expect(await segmentsToRemove(segs, 9, { maxBytes: 0 }, 4000, newest)).toBe(0);
    expect(await segmentsToRemove(segs, 40, { maxBytes: 250 }, 4000, newest)).toBe(2);
    expect(await segmentsToRemove(segs, 40, { maxAgeMs: 1500 }, 4000, newest)).toBe(2);
    expect(await segmentsToRemove(segs, 40, { maxAgeMs: 5000 }, 4000, newest)).toBe(0);
  });

  it('names snapshots by position and refuses any other ref', () => {
    expect(snapshotRef(123)).toBe('snapshot-00000000000000000123.cbor');
    expect(snapshotRefPosition(snapshotRef(123))).toBe(123);
    expect(snapshotRefPosition('snapshot-00000000000000000123.cbor.42.abcdef01.tmp')).toBeUndefined();
    expect(() => checkSnapshotRef('../x')).toThrow(/snapshot ref must look like/);
  });
});
