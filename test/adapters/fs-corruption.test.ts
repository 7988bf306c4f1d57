import { readFile, truncate, writeFile, appendFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openFileStore } from '../../adapters/filesystem/index.js';
import { scanFrames } from '../../engine/codec.js';
import { CorruptRecordError, isEventyError } from '../../engine/errors.js';
import type { StoredRecord, RecordDraft } from '../../engine/records.js';
import { tempDir } from '../support/temp.js';
import { handles, leakedSince } from '../support/children.js';

const SEGMENT_BYTES = 4096;
/** Records per append in {@link fill}. */
const BATCH = 10;

function draft(n: number): RecordDraft {
  return {
    type: 'event.published',
    queue: 'c',
    eventId: `e${n}`,
    payload: { n, pad: 'p'.repeat(80) },
    headers: {},
  };
}

interface Segment {
  readonly base: number;
  readonly path: string;
}

interface Frame {
  readonly position: number;
  readonly offset: number;
  readonly end: number;
}

describe('filesystem store: corruption and torn tails', () => {
  let dir = '';
  let before: Record<string, number> = {};
  let url = '';

  beforeEach(async () => {
    before = handles();
    dir = await tempDir('eventy-corrupt-');
    url = `file:${join(dir, 'log')}`;
  });

  afterEach(() => {
    expect(leakedSince(before), 'no child, pipe, watcher or timer left behind').toEqual({});
  });

  /** Appends `count` records (batches of `batch`), closes, and returns them with the segment files. */
  async function fill(
    count: number,
    batch = BATCH,
  ): Promise<{ records: StoredRecord[]; segments: Segment[] }> {
    const store = await openFileStore(url, { durability: 'never', segmentBytes: SEGMENT_BYTES });
    try {
      const records: StoredRecord[] = [];
      for (let n = 0; n < count; n += batch) {
        const size = Math.min(batch, count - n);
        records.push(...(await store.append(Array.from({ length: size }, (_, i) => draft(n + i)))).records);
      }
      const segments = (await store.segments()).map((s) => ({ base: s.base, path: segmentPath(s.file) }));
      return { records, segments };
    } finally {
      await store.close();
    }
  }

  function segmentPath(file: string): string {
    return join(dir, 'log', basename(file));
  }

  async function framesOf(segment: Segment): Promise<Frame[]> {
    const buf = await readFile(segment.path);
    const frames: Frame[] = [];
    for (const f of scanFrames(buf, segment.path)) {
      if (f.kind === 'record') frames.push({ position: f.record.position, offset: f.offset, end: f.end });
    }
    return frames;
  }

  async function xorByte(path: string, offset: number, mask: number): Promise<void> {
    const buf = await readFile(path);
    buf[offset] = buf[offset]! ^ mask;
    await writeFile(path, buf);
  }

  /** Reads from 0 until the end or an error: what came out before, and the error. */
  async function readUntilError(): Promise<{ records: StoredRecord[]; error: unknown }> {
    const store = await openFileStore(url, { segmentBytes: SEGMENT_BYTES });
    const records: StoredRecord[] = [];
    try {
      for await (const r of store.read()) records.push(r);
      return { records, error: undefined };
    } catch (error) {
      return { records, error };
    } finally {
      await store.close();
    }
  }

  async function readRange(from: number, to?: number): Promise<StoredRecord[]> {
    const store = await openFileStore(url, { segmentBytes: SEGMENT_BYTES });
    try {
      const out: StoredRecord[] = [];
      for await (const r of store.read(to === undefined ? { from } : { from, to })) out.push(r);
      return out;
    } finally {
      await store.close();
    }
  }

  async function snapshot(segments: readonly Segment[]): Promise<Map<string, Buffer>> {
    return new Map(await Promise.all(segments.map(async (s) => [s.path, await readFile(s.path)] as const)));
  }

  /** Tries one append; it may fail with a typed error, but every byte already on disk stays. */
  async function appendLeavesBytes(segments: readonly Segment[], expectedPosition: number): Promise<void> {
    const before = await snapshot(segments);
    const store = await openFileStore(url, { durability: 'always', segmentBytes: SEGMENT_BYTES });
    let appended: readonly number[] | undefined;
    try {
      appended = (await store.append([draft(-1)])).positions;
    } catch (e) {
      expect(isEventyError(e), `append failed with an untyped error: ${String(e)}`).toBe(true);
    } finally {
      await store.close();
    }
    for (const [path, old] of before) {
      const now = await readFile(path);
      expect(now.length, `${basename(path)} shrank`).toBeGreaterThanOrEqual(old.length);
      expect(now.subarray(0, old.length).equals(old), `${basename(path)} was rewritten`).toBe(true);
    }
    if (appended !== undefined) expect(appended).toEqual([expectedPosition]);
  }

  async function expectCorruptAt(
    segment: Segment,
    frame: Frame,
    records: readonly StoredRecord[],
  ): Promise<void> {
    const got = await readUntilError();
    expect(got.error, 'reading past the corrupt record must fail').toBeInstanceOf(CorruptRecordError);
    const err = got.error as CorruptRecordError;
    expect(err.code).toBe('corrupt-record');
    expect(basename(err.segment)).toBe(basename(segment.path));
    expect(err.offset).toBe(frame.offset);
    expect(err.message).toContain(String(frame.offset));
    // Everything before the bad record's batch was delivered, unchanged (a batch is read whole or not at all).
    const batchStart = frame.position - (frame.position % BATCH);
    expect(got.records).toEqual(records.slice(0, batchStart));
    expect(await readRange(0, batchStart)).toEqual(records.slice(0, batchStart));
  }

  it('a flipped byte in a sealed segment: corrupt-record at its offset, earlier records read, append keeps bytes', async () => {
    const { records, segments } = await fill(300);
    expect(segments.length).toBeGreaterThan(3);
    const segment = segments[1]!;
    const frames = await framesOf(segment);
    const frame = frames[Math.floor(frames.length / 2)]!;
    await xorByte(segment.path, frame.offset + 8 + 20, 0xff);

    await expectCorruptAt(segment, frame, records);
    await appendLeavesBytes(segments, records.length);
  });

  it('a flipped byte in the middle of the last segment is corruption, not a torn tail', async () => {
    const { records, segments } = await fill(300);
    const segment = segments.at(-1)!;
    const frames = await framesOf(segment);
    expect(frames.length).toBeGreaterThan(4);
    const frame = frames[Math.floor(frames.length / 2)]!;
    await xorByte(segment.path, frame.offset + 8 + 20, 0x01);

    await expectCorruptAt(segment, frame, records);
    await appendLeavesBytes(segments, records.length);
  });

  it('a corrupted length in the middle of the last segment is corruption, not a torn tail', async () => {
    const { records, segments } = await fill(300);
    const segment = segments.at(-1)!;
    const frames = await framesOf(segment);
    expect(frames.length).toBeGreaterThan(4);
    const frame = frames[Math.floor(frames.length / 2)]!;
    // The length grows by 1 MiB: the frame seems to run past the end of the file, as a torn one would,
    // but whole records follow it, so cutting there would drop acknowledged records.
    await xorByte(segment.path, frame.offset + 1, 0x10);

    await expectCorruptAt(segment, frame, records);
    await appendLeavesBytes(segments, records.length);
  });

  describe('torn tails', () => {
    /** Damages the tail, then checks readers stop before it and the next append replaces it. */
    async function checkTorn(
      count: number,
      lastBatch: number,
      lastBatchSurvives: boolean,
      damage: (segment: Segment, frames: readonly Frame[]) => Promise<void>,
    ): Promise<void> {
      const { records: before } = await fill(count - lastBatch);
      const store = await openFileStore(url, { durability: 'never', segmentBytes: SEGMENT_BYTES });
      let segments: Segment[];
      try {
        const { records } = await store.append(
          Array.from({ length: lastBatch }, (_, i) => draft(count - lastBatch + i)),
        );
        if (lastBatchSurvives) before.push(...records);
        segments = (await store.segments()).map((s) => ({ base: s.base, path: segmentPath(s.file) }));
      } finally {
        await store.close();
      }
      const last = segments.at(-1)!;
      await damage(last, await framesOf(last));

      // Readers see every whole batch before the tear and nothing of the torn one, with no error.
      const got = await readUntilError();
      expect(got.error).toBeUndefined();
      expect(got.records).toEqual(before);

      const writer = await openFileStore(url, { durability: 'always', segmentBytes: SEGMENT_BYTES });
      try {
        expect(await writer.head()).toBe(before.length);
        expect((await writer.append([draft(-1)])).positions).toEqual([before.length]);
      } finally {
        await writer.close();
      }
      const after = await readUntilError();
      expect(after.error).toBeUndefined();
      expect(after.records.slice(0, before.length)).toEqual(before);
      expect(after.records.length).toBe(before.length + 1);
      expect((after.records.at(-1) as unknown as { eventId: string }).eventId).toBe('e-1');
      // The torn bytes are gone: every segment is whole frames only.
      const store2 = await openFileStore(url, { segmentBytes: SEGMENT_BYTES });
      try {
        for (const s of await store2.segments()) {
          const buf = await readFile(segmentPath(s.file));
          const scans = [...scanFrames(buf, s.file)];
          expect(
            scans.filter((f) => f.kind === 'torn'),
            basename(s.file),
          ).toEqual([]);
        }
      } finally {
        await store2.close();
      }
    }

    it('the last frame cut by a few bytes', () =>
      checkTorn(120, 1, false, async (segment) => {
        const size = (await readFile(segment.path)).length;
        await truncate(segment.path, size - 3);
      }));

    it('the last frame cut inside its header', () =>
      checkTorn(120, 1, false, async (segment, frames) => {
        await truncate(segment.path, frames.at(-1)!.offset + 4);
      }));

    it('zeros after the last frame', () =>
      checkTorn(120, 1, true, async (segment) => {
        // The end of a file extended by the kernel but never written (a crash before the data landed).
        await appendFile(segment.path, Buffer.alloc(100));
      }));

    it('a batch cut in its last frame vanishes whole', () =>
      checkTorn(120, 5, false, async (segment) => {
        const size = (await readFile(segment.path)).length;
        await truncate(segment.path, size - 3);
      }));
  });
});
