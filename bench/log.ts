// `npm run bench:log`: appends to the filesystem store per durability policy and batch size, and in the
// same run the raw ceiling of the same disk: plain write(2) appends to one file, with fdatasync per write,
// and with fdatasync every 1 ms (group commit). BENCH_MS sets each case's length (default 2000 ms),
// BENCH_DIR the directory (default the OS temp dir: point it at the disk you care about).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setImmediate } from 'node:timers/promises';
import { openFileStore } from '../adapters/filesystem/index.js';
import { encodeBatch, encodeFrame } from '../engine/codec.js';
import { stamp, type RecordDraft } from '../engine/records.js';
import type { Durability } from '../engine/storage.js';

const CASE_MS = Number(process.env.BENCH_MS ?? 2000);
const IN_FLIGHT = 100;

/** A ~200-byte record once framed (8-byte header + CBOR). */
function draft(n: number): RecordDraft {
  return {
    type: 'event.published',
    queue: 'bench',
    eventId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    payload: { n, text: 'x'.repeat(50) },
    headers: {},
  };
}

interface Result {
  readonly name: string;
  readonly records: number;
  readonly ms: number;
}

const rate = (r: Result): number => (r.records * 1000) / r.ms;

/** Runs `step` (which reports how many records it wrote) until the case's time is up. */
async function timed(name: string, step: () => Promise<number> | number): Promise<Result> {
  const start = performance.now();
  let records = 0;
  while (performance.now() - start < CASE_MS) records += await step();
  return { name, records, ms: performance.now() - start };
}

async function storeCase(dir: string, durability: Durability, batch: number): Promise<Result> {
  const store = await openFileStore(`file:${path.join(dir, `store-${durability}-${batch}`)}`, { durability });
  try {
    const drafts = Array.from({ length: batch }, (_, i) => draft(i));
    await store.append(drafts); // warm-up: creates the segment, loads the codec
    return await timed(`store ${durability} ×${batch}`, async () => {
      await store.append(drafts);
      return batch;
    });
  } finally {
    await store.close();
  }
}

/** `inFlight` appends of `batch` records outstanding at once, `batch` durability: what group commit is for. */
async function inFlightCase(dir: string, batch: number, inFlight: number): Promise<Result> {
  const store = await openFileStore(`file:${path.join(dir, `store-inflight-${batch}`)}`, {
    durability: 'batch',
  });
  try {
    await store.append([draft(0)]);
    const start = performance.now();
    let records = 0;
    const worker = async (w: number): Promise<void> => {
      const drafts = Array.from({ length: batch }, (_, i) => draft(w * batch + i));
      while (performance.now() - start < CASE_MS) {
        await store.append(drafts);
        records += batch;
      }
    };
    await Promise.all(Array.from({ length: inFlight }, (_, w) => worker(w)));
    return { name: `store batch ×${batch}, ${inFlight} in flight`, records, ms: performance.now() - start };
  } finally {
    await store.close();
  }
}

/** The CPU floor of any store that writes these frames: stamping and encoding alone, no I/O. */
async function codecCase(): Promise<Result> {
  const drafts = Array.from({ length: 100 }, (_, i) => draft(i));
  return timed('codec only (stamp + encode ×100)', () => {
    const time = Date.now();
    encodeBatch(drafts.map((d, i) => stamp(d, i, time)));
    return drafts.length;
  });
}

type RawSync = 'none' | 'each' | '1ms';

/**
 * The disk's ceiling: the same frames written with write(2) to one file, no store around them. `1ms` is
 * the group-commit ceiling: writes go on while an fdatasync runs in the background, a new one starting
 * at most every millisecond, so every record is durable within about 1 ms plus one fdatasync.
 */
async function rawCase(dir: string, sync: RawSync, batch: number): Promise<Result> {
  const frame = encodeFrame(stamp(draft(0), 123_456, Date.now()));
  const buf = Buffer.concat(Array.from({ length: batch }, () => frame));
  const file = path.join(dir, `raw-${sync}-${batch}.bin`);
  const fd = fs.openSync(file, 'a');
  const state = { syncing: false };
  try {
    let lastSync = performance.now();
    let lastYield = lastSync;
    const label = { none: 'write', each: 'write+fdatasync', '1ms': 'write, fdatasync /1 ms' }[sync];
    return await timed(`raw ${label} ×${batch}`, async () => {
      fs.writeSync(fd, buf);
      if (sync === 'each') fs.fdatasyncSync(fd);
      else if (sync === '1ms') {
        const now = performance.now();
        if (!state.syncing && now - lastSync >= 1) {
          state.syncing = true;
          lastSync = now;
          fs.fdatasync(fd, () => (state.syncing = false));
        }
        // Let the fdatasync's completion in now and then, without waiting for it.
        if (now - lastYield >= 0.2) {
          lastYield = now;
          await setImmediate();
        }
      }
      return batch;
    });
  } finally {
    while (state.syncing) await setImmediate();
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
}

const FS_TYPES: Record<number, string> = {
  0xef53: 'ext4',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021994: 'tmpfs',
  0x794c7630: 'overlayfs',
  0x65735546: 'fuse',
};

function row(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
}

async function main(): Promise<void> {
  const root = process.env.BENCH_DIR ?? os.tmpdir();
  const dir = fs.mkdtempSync(path.join(root, 'eventy-bench-'));
  const fsMagic = fs.statfsSync(dir).type;
  const fsType = FS_TYPES[fsMagic] ?? `type 0x${fsMagic.toString(16)}`;
  console.log(
    `eventy bench:log — node ${process.version}, ${os.cpus().length} cpus ` +
      `(load ${os.loadavg()[0]!.toFixed(1)}), ${dir} (${fsType}), ` +
      `${CASE_MS} ms per case, record frame ${encodeFrame(stamp(draft(0), 123_456, Date.now())).length} bytes\n`,
  );
  try {
    const raw = new Map<string, Result>();
    for (const sync of ['none', 'each', '1ms'] as const) {
      for (const batch of [1, 100]) raw.set(`${sync}/${batch}`, await rawCase(dir, sync, batch));
    }
    const ceilingOf: Record<Durability, RawSync> = { never: 'none', always: 'each', batch: '1ms' };
    const rows: { result: Result; perRecord: Result; sameBatch: Result }[] = [];
    for (const durability of ['always', 'batch', 'never'] as const) {
      for (const batch of [1, 100]) {
        const result = await storeCase(dir, durability, batch);
        const sync = ceilingOf[durability];
        rows.push({ result, perRecord: raw.get(`${sync}/1`)!, sameBatch: raw.get(`${sync}/${batch}`)! });
      }
    }
    const inFlight = await inFlightCase(dir, 1, IN_FLIGHT);
    rows.push({ result: inFlight, perRecord: raw.get('1ms/1')!, sameBatch: raw.get('1ms/1')! });
    const grouped = await inFlightCase(dir, 100, 10);
    rows.push({ result: grouped, perRecord: raw.get('1ms/1')!, sameBatch: raw.get('1ms/100')! });
    const codec = await codecCase();

    const widths = [32, 12, 28, 12, 7, 9];
    const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
    const pct = (a: Result, b: Result): string => `${Math.round((100 * rate(a)) / rate(b))}%`;
    console.log(
      row(['case', 'records/s', 'ceiling (raw, per record)', 'records/s', 'ratio', 'vs raw ×n'], widths),
    );
    for (const { result, perRecord, sameBatch } of rows) {
      console.log(
        row(
          [
            result.name,
            fmt(rate(result)),
            perRecord.name,
            fmt(rate(perRecord)),
            pct(result, perRecord),
            pct(result, sameBatch),
          ],
          widths,
        ),
      );
    }
    console.log('\nraw ceilings, and the CPU floor of encoding:');
    for (const r of [...raw.values(), codec]) console.log(row([r.name, fmt(rate(r))], widths));

    const batch100 = rows.find((r) => r.result.name === 'store batch ×100')!;
    const groupRatio = rate(batch100.result) / rate(batch100.perRecord);
    // Group commit pays off with several appenders; one append in flight waits for its own fsync each
    // time, which the raw ceiling (fsyncs in the background) never does. Both readings are printed.
    const concurrent = rows.find((r) => r.result.name.startsWith('store batch ×100,'))!;
    const concurrentRatio = rate(concurrent.result) / rate(concurrent.perRecord);
    console.log(
      '\ntargets: store batch ×100 ≥ 50% of raw group commit (write, fdatasync /1 ms ×1): ' +
        `with several appends in flight (${concurrent.result.name}) ${Math.round(concurrentRatio * 100)}% ` +
        `${concurrentRatio >= 0.5 ? 'met' : 'NOT met'}, with one in flight ${Math.round(groupRatio * 100)}% ` +
        `${groupRatio >= 0.5 ? 'met' : 'NOT met'}; ` +
        `batch ×1 with ${IN_FLIGHT} in flight ≥ 20,000 records/s: ${fmt(rate(inFlight))} ` +
        (rate(inFlight) >= 20_000 ? 'met' : 'NOT met'),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
