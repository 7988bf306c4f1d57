import { readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openFileStore } from '../../adapters/filesystem/index.js';
import { loadIndex, indexName } from '../../adapters/filesystem/segment-index.js';
import { scanFrames } from '../../engine/codec.js';
import { CorruptRecordError } from '../../engine/errors.js';
import type { RecordDraft, StoredRecord } from '../../engine/records.js';
import { tempDir } from '../support/temp.js';

function draft(n: number, pad = 80): RecordDraft {
  return {
    type: 'event.published',
    queue: 'q',
    eventId: `e${n}`,
    payload: { n, pad: 'p'.repeat(pad) },
    headers: {},
  };
}

/** Index entries as writers lay them out: (position, offset) as two big-endian doubles. */
function entries(...pairs: [number, number][]): Buffer {
  const buf = Buffer.alloc(pairs.length * 16);
  pairs.forEach(([p, o], i) => {
    buf.writeDoubleBE(p, i * 16);
    buf.writeDoubleBE(o, i * 16 + 8);
  });
  return buf;
}

describe('filesystem indexes are checked before they are used', () => {
  let dir = '';
  let url = '';
  let warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.message);

  beforeEach(async () => {
    dir = join(await tempDir('eventy-index-'), 'log');
    url = `file:${dir}`;
    warnings = [];
    process.on('warning', onWarning);
  });
  afterEach(() => {
    process.off('warning', onWarning);
  });

  async function fill(count: number, batch = 1, pad = 80): Promise<StoredRecord[]> {
    const store = await openFileStore(url, { durability: 'never' });
    try {
      const out: StoredRecord[] = [];
      for (let n = 0; n < count; n += batch) {
        const drafts = Array.from({ length: Math.min(batch, count - n) }, (_, i) => draft(n + i, pad));
        out.push(...(await store.append(drafts)).records);
      }
      return out;
    } finally {
      await store.close();
    }
  }

  const idx = (): string => join(dir, indexName(0));
  const seg = (): string => join(dir, '00000000000000000000.seg');

  async function readAll(): Promise<{ head: number; positions: number[] }> {
    const store = await openFileStore(url);
    try {
      const positions: number[] = [];
      for await (const r of store.read()) positions.push(r.position);
      return { head: await store.head(), positions };
    } finally {
      await store.close();
    }
  }

  it('a plausible wrong entry (position 100 at offset 0 in a 6-record log) is ignored, then rebuilt', async () => {
    await fill(6);
    await writeFile(idx(), entries([0, 0], [100, 0]));
    const { head, positions } = await readAll();
    expect(head).toBe(6);
    expect(positions).toEqual([0, 1, 2, 3, 4, 5]);
    expect(warnings.some((w) => w.includes(idx()) && w.includes('ignoring the index'))).toBe(true);

    // The next writer rebuilds it, and appends at the true head.
    const store = await openFileStore(url);
    try {
      expect((await store.append([draft(6)])).positions).toEqual([6]);
      // A follower from the end sees the next record (it would wait at 100 with the bad entry).
      const follower = store.follow({ from: 7 })[Symbol.asyncIterator]();
      const next = follower.next();
      await store.append([draft(7)]);
      const got = await next;
      expect(got.done === true ? undefined : got.value.position).toBe(7);
      await follower.return?.();
    } finally {
      await store.close();
    }
    const rebuilt = loadIndex(dir, 0, (await stat(seg())).size);
    expect(rebuilt).toEqual({ ok: true, entries: [{ position: 0, offset: 0 }] });
    expect(warnings.some((w) => w.includes(`rebuilt the index ${idx()}`))).toBe(true);
  });

  it('a non-integer entry gives no RangeError: readers scan, the error-free head is right', async () => {
    await fill(6);
    await writeFile(idx(), entries([0, 0], [1.5, 1.5]));
    const { head, positions } = await readAll();
    expect(head).toBe(6);
    expect(positions).toHaveLength(6);
    expect(warnings.find((w) => w.includes(idx()))).toMatch(/not a pair of whole numbers/);
  });

  it('an entry pointing inside a frame, or at another record, is not taken', async () => {
    // 2,000 records of ~180 bytes: several real entries (one per 64 KiB).
    const records = await fill(2000, 10);
    const real = loadIndex(dir, 0, (await stat(seg())).size);
    expect(real.ok && real.entries.length).toBeGreaterThan(2);
    if (!real.ok) return;
    const last = real.entries.at(-1)!;
    // Same offset, another position; then the right position one byte off the frame boundary.
    for (const wrong of [
      entries(...real.entries.map((e) => [e.position, e.offset] as [number, number]).slice(0, -1), [
        last.position + 3,
        last.offset,
      ]),
      entries(...real.entries.map((e) => [e.position, e.offset] as [number, number]).slice(0, -1), [
        last.position,
        last.offset + 1,
      ]),
    ]) {
      await writeFile(idx(), wrong);
      const { head, positions } = await readAll();
      expect(head).toBe(records.length);
      expect(positions).toHaveLength(records.length);
      const from = await (async () => {
        const store = await openFileStore(url);
        try {
          const out: number[] = [];
          for await (const r of store.read({ from: last.position + 5 })) out.push(r.position);
          return out;
        } finally {
          await store.close();
        }
      })();
      expect(from[0]).toBe(last.position + 5);
      expect(from.at(-1)).toBe(records.length - 1);
    }
  });

  it('an appender refuses to write after a corrupt record, naming file and offset, and writes nothing', async () => {
    await fill(20, 5);
    const buf = await readFile(seg());
    const frames = [...scanFrames(buf, seg())].flatMap((f) => (f.kind === 'record' ? [f] : []));
    const hit = frames[7]!;
    buf[hit.offset + 8 + 10]! ^= 0x20;
    await writeFile(seg(), buf);
    const store = await openFileStore(url);
    try {
      const error = await store.append([draft(20)]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CorruptRecordError);
      expect(error).toMatchObject({ code: 'corrupt-record', segment: seg(), offset: hit.offset });
    } finally {
      await store.close();
    }
    expect((await readFile(seg())).length).toBe(buf.length);
  });

  it('bytes cut from the end after an fsync are damage: the writer refuses instead of cutting or reusing positions', async () => {
    // durability batch: every append is synced, so the durable mark covers the last batch.
    const store = await openFileStore(url, { durability: 'batch' });
    for (let n = 0; n < 300; n += 100)
      await store.append(Array.from({ length: 100 }, (_, i) => draft(n + i)));
    await store.close();
    const size = (await stat(seg())).size;
    await truncate(seg(), size - 37);
    const again = await openFileStore(url);
    try {
      const error = await again.append([draft(300)]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CorruptRecordError);
      expect(String(error)).toMatch(/bytes were removed; refusing to append/);
      expect((await stat(seg())).size).toBe(size - 37);
      const findings = await again.checkStorage();
      expect(findings).toEqual([
        expect.objectContaining({ kind: 'cut-tail', file: seg(), repairable: true }),
      ]);
      expect(findings[0]!.message).toContain('positions 200–299 are lost');
    } finally {
      await again.close();
    }
  });
});
