import { rm, stat, truncate, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openFileStore } from '../../adapters/filesystem/index.js';
import type { RecordDraft } from '../../index.js';
import { cliTestbed } from '../support/cli.js';

interface Finding {
  kind: string;
  file: string;
  message: string;
  repairable: boolean;
}
interface Report {
  ok: boolean;
  records: number;
  storage: Finding[];
  repaired: Finding[];
}

const draft = (n: number): RecordDraft => ({
  type: 'event.published',
  queue: 'q',
  eventId: `e${n}`,
  payload: { n, pad: 'p'.repeat(80) },
  headers: {},
});

describe('eventy verify: how the log is kept', () => {
  const { cli, store } = cliTestbed();

  /** 400 events in batches of 100 (synced), in 4 KiB segments. */
  async function fill(): Promise<{ base: number; file: string }[]> {
    const s = await openFileStore(store.url, { segmentBytes: 4096, durability: 'batch' });
    try {
      for (let n = 0; n < 400; n += 100) await s.append(Array.from({ length: 100 }, (_, i) => draft(n + i)));
      return await s.segments();
    } finally {
      await s.close();
    }
  }

  async function verify(...args: string[]): Promise<{ code: number | null; report: Report; human: string }> {
    const json = await cli.run(['verify', '--json', '--store', store.url, ...args]);
    const human = await cli.run(['verify', '--store', store.url]);
    return { code: json.code, report: JSON.parse(json.stdout) as Report, human: human.stdout };
  }

  it('a missing first segment: the log does not start at position 0', async () => {
    const segments = await fill();
    await rm(segments[0]!.file);
    const { code, report, human } = await verify();
    expect(code).toBe(1);
    expect(report.storage).toEqual([expect.objectContaining({ kind: 'start', repairable: false })]);
    expect(report.storage[0]!.message).toContain(`positions 0–${segments[1]!.base - 1} are missing`);
    expect(human).toContain('START');
  });

  it('a missing middle segment: the positions between its neighbours are a gap', async () => {
    const segments = await fill();
    const gone = segments[1]!;
    await rm(gone.file);
    const { code, report } = await verify();
    expect(code).toBe(1);
    expect(report.storage).toEqual([expect.objectContaining({ kind: 'gap', file: segments[2]!.file })]);
    expect(report.storage[0]!.message).toContain(
      `positions ${gone.base}–${segments[2]!.base - 1} are missing`,
    );
  });

  it('a missing last segment: reported, and publishing refuses rather than reuse its positions', async () => {
    const segments = await fill();
    const last = segments.at(-1)!;
    await rm(last.file);
    const { code, report } = await verify();
    expect(code).toBe(1);
    expect(report.storage).toEqual([
      expect.objectContaining({ kind: 'missing-segment', file: last.file, repairable: false }),
    ]);
    const publish = await cli.run(['publish', 'q', '{"n":1}', '--store', store.url]);
    expect(publish.code).not.toBe(0);
    expect(publish.stderr).toContain('segment is missing');
  });

  it('a last segment cut by 37 bytes: the lost batch is named; --repair cuts it and the log goes on', async () => {
    const segments = await fill();
    const last = segments.at(-1)!;
    const size = (await stat(last.file)).size;
    await truncate(last.file, size - 37);
    const { code, report, human } = await verify();
    expect(code).toBe(1);
    expect(report.storage).toEqual([
      expect.objectContaining({ kind: 'cut-tail', file: last.file, repairable: true }),
    ]);
    expect(report.storage[0]!.message).toContain('positions 300–399 are lost');
    expect(human).toContain('--repair mends it');
    expect((await cli.run(['publish', 'q', '{"n":1}', '--store', store.url])).code).not.toBe(0);

    const repaired = await verify('--repair');
    expect(repaired.code).toBe(0);
    expect(repaired.report.repaired).toEqual([expect.objectContaining({ kind: 'cut-tail' })]);
    expect(repaired.report).toMatchObject({ ok: true, records: 300, storage: [] });
    const publish = await cli.run(['publish', 'q', '{"n":1}', '--store', store.url, '--json']);
    expect(publish.code).toBe(0);
    expect(publish.stdout).toContain('"position":300');
  });

  it('a bad index is reported and rebuilt by --repair', async () => {
    const segments = await fill();
    const idx = join(store.url.slice('file:'.length), basename(segments[0]!.file).replace('.seg', '.idx'));
    const bad = Buffer.alloc(32);
    bad.writeDoubleBE(0, 0);
    bad.writeDoubleBE(0, 8);
    bad.writeDoubleBE(100, 16);
    bad.writeDoubleBE(0, 24);
    await writeFile(idx, bad);
    const { code, report } = await verify();
    expect(code).toBe(1);
    expect(report.storage).toEqual([
      expect.objectContaining({ kind: 'bad-index', file: idx, repairable: true }),
    ]);
    const repaired = await verify('--repair');
    expect(repaired.code).toBe(0);
    expect(repaired.report.repaired).toEqual([expect.objectContaining({ kind: 'bad-index' })]);
    expect((await stat(idx)).size).toBe(16);
  });
});
