import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openFileStore } from '../../adapters/filesystem/index.js';
import { writeRetained } from '../../adapters/filesystem/retained.js';
import { draft } from '../contract/log-store-contract.js';
import { collect } from '../support/log.js';
import { tempDir } from '../support/temp.js';

async function filled(dir: string, n: number) {
  const store = await openFileStore(`file:${dir}`, { segmentBytes: 1024 });
  for (let i = 0; i < n; i += 3) await store.append([draft(i), draft(i + 1), draft(i + 2)]);
  return store;
}

describe('filesystem store: snapshots and retention', () => {
  it('reads the retention policy from the URL, and refuses a bad one', async () => {
    const dir = path.join(await tempDir(), 'log');
    const store = await openFileStore(`file:${dir}?retention=7d&retentionBytes=10GiB`);
    expect(store.retention).toEqual({ maxAgeMs: 7 * 86_400_000, maxBytes: 10 * 1024 ** 3 });
    await store.close();
    await expect(openFileStore(`file:${dir}?retention=7days`)).rejects.toThrow(
      /retention must be an integer with a unit s, m, h or d/,
    );
    const none = await openFileStore(`file:${dir}`);
    expect(none.retention).toBeUndefined();
    await none.close();
  });

  it('ignores a torn temp snapshot file, and the next put removes it', async () => {
    const dir = path.join(await tempDir(), 'log');
    const store = await openFileStore(`file:${dir}`);
    const info = await store.putSnapshot(7, Uint8Array.of(1, 2, 3));
    expect(fs.existsSync(path.join(dir, 'snapshots', info.ref))).toBe(true);
    // What a writer killed before its rename leaves (pid 2^22+1: no such process).
    const torn = path.join(dir, 'snapshots', 'snapshot-00000000000000000009.cbor.4194305.0badc0de.tmp');
    fs.writeFileSync(torn, 'half');
    expect(await store.listSnapshots()).toEqual([info]);
    await store.putSnapshot(8, Uint8Array.of(4));
    expect(fs.existsSync(torn)).toBe(false);
    expect((await store.listSnapshots()).map((s) => s.position)).toEqual([8, 7]);
    await store.close();
  });

  it('compaction keeps the storage checks clean; a segment lost after the retained first is still found', async () => {
    const dir = path.join(await tempDir(), 'log');
    const store = await filled(dir, 90);
    await store.putSnapshot(59, Uint8Array.of(1));
    const r = await store.compact({ keepFrom: 60, policy: { maxBytes: 0 } });
    expect(r.segments).toBeGreaterThan(1);
    expect(await store.checkStorage()).toEqual([]);
    const first = (await store.segments())[0];
    if (first === undefined) throw new Error('no segment');
    fs.rmSync(first.file);
    const findings = await store.checkStorage();
    expect(findings.map((f) => f.kind)).toEqual(['start']);
    expect(findings[0]?.message).toContain(`the log's positions start at ${r.first}`);
    await store.close();
  });

  it('a compaction cut short after recording first: reads, checks and the next compaction agree', async () => {
    const dir = path.join(await tempDir(), 'log');
    const store = await filled(dir, 60);
    const all = await collect(store.read());
    const segments = await store.segments();
    const cut = (segments[3] as { base: number }).base;
    writeRetained(dir, cut, undefined); // as a crash right after the marker leaves it
    expect(await store.first()).toBe(cut);
    expect(await store.checkStorage()).toEqual([]);
    expect(await collect(store.read({ from: cut }))).toEqual(all.slice(cut));
    await expect(collect(store.read({ from: 0 }))).rejects.toMatchObject({ code: 'truncated', first: cut });
    const r = await store.compact({ keepFrom: 0, policy: { maxBytes: 0 } });
    expect(r).toMatchObject({ segments: 3, first: cut });
    expect((await store.segments())[0]?.base).toBe(cut);
    expect(await store.checkStorage()).toEqual([]);
    await store.close();
  });
});
