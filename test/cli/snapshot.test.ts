import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createQueueManager } from '../../index.js';
import { cliTestbed } from '../support/cli.js';

interface Taken {
  position: number;
  ref: string;
  bytes: number;
  events: number;
  ms: number;
}

interface Report {
  ok: boolean;
  snapshots: { ref: string; position: number; status: string; message: string }[] | null;
}

describe('eventy snapshot and verify', () => {
  const { cli, store } = cliTestbed();

  /** Events handled by a worker, some left open, and a snapshot by the CLI between two batches. */
  async function history(): Promise<Taken[]> {
    const taken: Taken[] = [];
    for (let round = 0; round < 2; round++) {
      const m = await createQueueManager({ store: store.url, handleSignals: false, snapshotEvery: 0 });
      const q = m.queue<{ n: number }>('jobs');
      await q.subscribe(() => undefined, { name: 'w' });
      for (const e of await q.publishMany(Array.from({ length: 20 }, (_, n) => ({ n })))) {
        await q.waitForResult(e.id);
      }
      await m.queue('parked').publish({ round });
      await m.close();
      taken.push(await cli.json<Taken>(['snapshot', '--json', '--store', store.url]));
    }
    return taken;
  }

  it('writes a snapshot and announces it; verify checks each against a fold of the log', async () => {
    const [first, second] = await history();
    expect(second!.position).toBeGreaterThan(first!.position);
    expect(second!.events).toBe(2); // the parked events
    const tail = await cli.run(['tail', '--type', 'snapshot.taken', '--store', store.url]);
    expect(tail.stdout).toContain(`ref=${second!.ref}`);
    const human = await cli.run(['snapshot', '--store', store.url]);
    expect(human.stdout).toMatch(/^snapshot at position \d+: \S+, [\d,]+ bytes, 2 open events, \d+ ms$/m);

    const report = await cli.json<Report>(['verify', '--json', '--store', store.url]);
    expect(report.ok).toBe(true);
    expect(report.snapshots?.map((s) => s.status)).toEqual(['ok', 'ok', 'ok']);
  });

  it("applies the store's retention policy after the snapshot and says what it removed", async () => {
    const url = `${store.url}?segmentBytes=1024&retention=0s`;
    const m = await createQueueManager({ store: url, handleSignals: false, snapshotEvery: 0 });
    await m.queue('parked').publishMany(Array.from({ length: 60 }, (_, n) => ({ n })));
    await m.close();
    const taken = await cli.json<Taken & { compacted: { segments: number; first: number } | null }>([
      'snapshot',
      '--json',
      '--store',
      url,
    ]);
    expect(taken.compacted?.segments).toBeGreaterThan(0);
    const human = await cli.run(['snapshot', '--store', url]);
    expect(human.stdout).toMatch(
      /^retention removed [\d,]+ segment\(s\), [\d,]+ bytes; the log starts at position \d+$/m,
    );
    const plain = await cli.json<{ compacted: unknown }>(['snapshot', '--json', '--store', store.url]);
    expect(plain.compacted).toBeNull();
  });

  it('verify reports a damaged snapshot as a finding and exits 1', async () => {
    const [, second] = await history();
    const dir = join(store.dir, 'log', 'snapshots');
    const file = (await readdir(dir)).find((f) => f === second!.ref);
    expect(file).toBeDefined();
    const bytes = await readFile(join(dir, file!));
    bytes[bytes.length - 5] = (bytes[bytes.length - 5] as number) ^ 0x55;
    await writeFile(join(dir, file!), bytes);
    const r = await cli.run(['verify', '--store', store.url]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/SNAPSHOT\s+\S+ at position \d+: corrupt: snapshot \S+ is unusable/);
    expect(r.stdout).toMatch(/✗ .*1 bad snapshot/);
  });
  it("verify reports a snapshot under another position's name and an unreadable one, and checks the rest", async () => {
    const [first, second] = await history();
    const dir = join(store.dir, 'log', 'snapshots');
    // The first snapshot's bytes under a name far beyond the head, and a directory in place of the second.
    const misnamed = `snapshot-${String(99_999).padStart(20, '0')}.cbor`;
    await copyFile(join(dir, first!.ref), join(dir, misnamed));
    await rm(join(dir, second!.ref));
    await mkdir(join(dir, second!.ref));
    const r = await cli.run(['verify', '--json', '--store', store.url]);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.ok).toBe(false);
    const byRef = new Map(report.snapshots?.map((s) => [s.ref, s]));
    expect(byRef.get(first!.ref)?.status).toBe('ok');
    expect(byRef.get(second!.ref)).toMatchObject({
      status: 'corrupt',
      message: expect.stringMatching(/cannot be read/) as unknown,
    });
    expect(byRef.get(misnamed)).toMatchObject({
      status: 'corrupt',
      message: `snapshot ${misnamed} holds position ${first!.position}, expected 99999 as its name says`,
    });
  });
});
