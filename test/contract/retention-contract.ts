import { describe, expect, it } from 'vitest';
import { isEventyError, type TruncatedError } from '../../engine/errors.js';
import type { StoredRecord } from '../../engine/records.js';
import type { LogStore } from '../../engine/storage.js';
import { collect } from '../support/log.js';
import { sleep } from '../support/wait.js';
import { draft, type HarnessFactory, type StoreHarness } from './log-store-contract.js';

async function truncated(p: Promise<unknown>): Promise<TruncatedError> {
  try {
    await p;
  } catch (e) {
    if (isEventyError(e, 'truncated')) return e;
    throw e;
  }
  throw new Error('expected a truncated error, but the call succeeded');
}

/** Appends `n` records in batches of 3. */
async function fill(store: LogStore, n: number, from = 0): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  for (let i = from; i < from + n; i += 3) {
    const batch = [];
    for (let j = i; j < Math.min(from + n, i + 3); j++) batch.push(draft(j));
    out.push(...(await store.append(batch)).records);
  }
  return out;
}

const bytes = (n: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * seed) % 251);

/** Snapshots and retention: every store that keeps them passes this suite unchanged. */
export function retentionContract(name: string, factory: HarnessFactory): void {
  describe(`LogStore retention contract: ${name}`, () => {
    async function withStore(fn: (store: LogStore, h: StoreHarness) => Promise<void>): Promise<void> {
      const h = await factory();
      const store = await h.open();
      try {
        await fn(store, h);
      } finally {
        await store.close();
        await h.cleanup();
      }
    }

    it('a new log starts at 0 and keeps nothing else', () =>
      withStore(async (store) => {
        expect(await store.first()).toBe(0);
        expect(await store.listSnapshots()).toEqual([]);
        const size = await store.historySize();
        expect(size).toMatchObject({ first: 0, head: 0, snapshotBytes: 0 });
      }));

    it('puts, lists (newest first), gets and deletes snapshots', () =>
      withStore(async (store, h) => {
        const a = await store.putSnapshot(5, bytes(100, 3));
        const b = await store.putSnapshot(12, bytes(70_000, 7));
        expect(a).toMatchObject({ position: 5, bytes: 100 });
        expect(await store.listSnapshots()).toEqual([b, a]);
        expect(await store.getSnapshot(b.ref)).toEqual(bytes(70_000, 7));
        const again = await store.putSnapshot(5, bytes(10, 1)); // the same position: replaced
        expect(again).toMatchObject({ ref: a.ref, bytes: 10 });
        expect(await store.getSnapshot(a.ref)).toEqual(bytes(10, 1));
        expect((await store.historySize()).snapshotBytes).toBe(70_010);
        if (h.persistent) {
          const other = await h.open();
          expect((await other.listSnapshots()).map((s) => s.position)).toEqual([12, 5]);
          await other.close();
        }
        expect(await store.deleteSnapshot(a.ref)).toBe(true);
        expect(await store.deleteSnapshot(a.ref)).toBe(false);
        await expect(store.getSnapshot(a.ref)).rejects.toMatchObject({ code: 'not-found' });
        await expect(store.getSnapshot('../identity.json')).rejects.toMatchObject({
          code: 'invalid-argument',
        });
        expect((await store.listSnapshots()).map((s) => s.position)).toEqual([12]);
      }));

    it('compacts nothing without a policy, or before keepFrom 0', () =>
      withStore(async (store) => {
        await fill(store, 60);
        await store.putSnapshot(59, bytes(10, 1));
        const none = { segments: 0, bytes: 0, first: 0, keepFrom: 60 };
        expect(await store.compact({ keepFrom: 60 })).toEqual(none);
        expect(await store.compact({ keepFrom: 0, policy: { maxBytes: 0 } })).toEqual({
          ...none,
          keepFrom: 0,
        });
        expect(
          await store.compact({ keepFrom: 60, policy: { maxBytes: 1e12, maxAgeMs: 3_600_000 } }),
        ).toEqual(none);
        await expect(store.compact({ keepFrom: -1 })).rejects.toMatchObject({ code: 'invalid-argument' });
        expect(await store.first()).toBe(0);
      }));

    it('removes whole segments before keepFrom; reads before first are truncated, after it unchanged', () =>
      withStore(async (store, h) => {
        const all = await fill(store, 60);
        await store.putSnapshot(2, bytes(10, 1));
        await store.putSnapshot(44, bytes(10, 2));
        const before = await store.historySize();
        const dry = await store.compact({ keepFrom: 45, policy: { maxBytes: 0 }, dryRun: true });
        expect(dry.segments).toBeGreaterThan(0);
        expect(dry.first).toBeGreaterThan(3);
        expect(dry.first).toBeLessThanOrEqual(45);
        expect(await store.first()).toBe(0);
        expect(await collect(store.read())).toHaveLength(60);

        const done = await store.compact({ keepFrom: 45, policy: { maxBytes: 0 } });
        expect(done).toEqual(dry);
        expect(done.keepFrom).toBe(45);
        expect(await store.first()).toBe(done.first);
        expect(await store.head()).toBe(60);
        const after = await store.historySize();
        expect(after).toMatchObject({
          first: done.first,
          head: 60,
          segments: before.segments - done.segments,
        });
        expect(after.bytes).toBeLessThan(before.bytes);
        expect(await collect(store.read({ from: done.first }))).toEqual(all.slice(done.first));
        // Without a position, a read starts at the start of what the log keeps.
        expect(await collect(store.read())).toEqual(all.slice(done.first));
        const e = await truncated(collect(store.read({ from: 0 })));
        expect(e).toMatchObject({ requested: 0, first: done.first });
        await truncated(collect(store.read({ from: done.first - 1, to: done.first + 1 })));
        const controller = new AbortController();
        await truncated(collect(store.follow({ from: 0, signal: controller.signal }), 1));
        controller.abort();
        // The snapshot that no record after it leads from is gone; the one at 44 stays.
        expect((await store.listSnapshots()).map((s) => s.position)).toEqual([44]);
        expect(await store.compact({ keepFrom: 45, policy: { maxBytes: 0 } })).toEqual({
          segments: 0,
          bytes: 0,
          first: done.first,
          keepFrom: 45,
        });
        if (h.persistent) {
          const other = await h.open();
          expect(await other.first()).toBe(done.first);
          expect((await other.append([draft(60)])).positions).toEqual([60]);
          expect(await collect(other.read({ from: done.first }))).toHaveLength(61 - done.first);
          await other.close();
        }
      }));

    it('keeps the segment holding keepFrom and everything after it, whatever the policy', () =>
      withStore(async (store) => {
        await fill(store, 60);
        await store.putSnapshot(59, bytes(10, 1));
        for (const keepFrom of [10, 31, 59, 60]) {
          const r = await store.compact({ keepFrom, policy: { maxBytes: 0, maxAgeMs: 0 } });
          expect(r.first).toBeLessThanOrEqual(keepFrom);
          expect(await collect(store.read({ from: keepFrom }))).toHaveLength(60 - keepFrom);
        }
        expect(await store.first()).toBeGreaterThan(0);
      }));

    it('never removes records at or after the newest usable snapshot, whatever keepFrom says', () =>
      withStore(async (store) => {
        const all = await fill(store, 60);
        const policy = { maxBytes: 0 };
        // No snapshot: no process could start without the log from 0, so nothing goes.
        expect(await store.compact({ keepFrom: 60, policy })).toEqual({
          segments: 0,
          bytes: 0,
          first: 0,
          keepFrom: 0,
        });
        // A snapshot beyond the head is no start either.
        const beyond = await store.putSnapshot(80, bytes(10, 1));
        expect(await store.compact({ keepFrom: 60, policy })).toMatchObject({ segments: 0, keepFrom: 0 });
        await store.deleteSnapshot(beyond.ref);

        await store.putSnapshot(40, bytes(10, 2));
        const dry = await store.compact({ keepFrom: 60, policy, dryRun: true });
        expect(dry).toMatchObject({ keepFrom: 41 });
        const r = await store.compact({ keepFrom: 60, policy });
        expect(r).toEqual(dry);
        expect(r.segments).toBeGreaterThan(0);
        expect(r.first).toBeLessThanOrEqual(41);
        expect(await collect(store.read({ from: 41 }))).toEqual(all.slice(41));

        // The only snapshot left leads nowhere once it is older than the log: nothing more goes.
        expect((await store.listSnapshots()).map((x) => x.position)).toEqual([40]);
        await store.deleteSnapshot((await store.listSnapshots())[0]?.ref ?? '');
        await store.putSnapshot(r.first - 2, bytes(10, 3));
        expect(await store.compact({ keepFrom: 60, policy })).toEqual({
          segments: 0,
          bytes: 0,
          first: r.first,
          keepFrom: r.first,
        });
        expect(await store.first()).toBe(r.first);
        expect(await collect(store.read())).toEqual(all.slice(r.first));
      }));

    it('by age: removes segments whose newest record is older than maxAgeMs in log time', () =>
      withStore(async (store) => {
        // One batch each: one log time each, whatever the time an append takes.
        await store.append(Array.from({ length: 30 }, (_, i) => draft(i)));
        await sleep(120);
        await store.append(Array.from({ length: 30 }, (_, i) => draft(30 + i)));
        await store.putSnapshot(59, bytes(10, 1));
        expect((await store.compact({ keepFrom: 60, policy: { maxAgeMs: 60_000 } })).segments).toBe(0);
        const r = await store.compact({ keepFrom: 60, policy: { maxAgeMs: 60 } });
        expect(r.segments).toBeGreaterThan(0);
        expect(r.first).toBeLessThanOrEqual(30);
        expect(await store.first()).toBe(r.first);
      }));

    it('by size: removes the oldest segments while the log keeps more than maxBytes', () =>
      withStore(async (store) => {
        await fill(store, 60);
        await store.putSnapshot(59, bytes(10, 1));
        const size = await store.historySize();
        const r = await store.compact({ keepFrom: 60, policy: { maxBytes: Math.floor(size.bytes / 2) } });
        expect(r.segments).toBeGreaterThan(0);
        const after = await store.historySize();
        expect(after.bytes).toBeLessThanOrEqual(Math.floor(size.bytes / 2));
        // The last segment removed was needed to get under the limit.
        expect(after.bytes + r.bytes).toBe(size.bytes);
      }));

    it('a follower behind a compaction moves on or gets truncated, never wrong records', () =>
      withStore(async (store, h) => {
        const all = await fill(store, 60);
        await store.putSnapshot(59, bytes(10, 1));
        const other = await h.open();
        const controller = new AbortController();
        const seen: StoredRecord[] = [];
        const following = (async (): Promise<unknown> => {
          for await (const r of other.follow({ from: 0, signal: controller.signal })) {
            seen.push(r);
            if (seen.length === 5) await store.compact({ keepFrom: 60, policy: { maxBytes: 0 } });
            if (r.position === 62) break;
          }
          return undefined;
        })().catch((e: unknown) => e);
        await sleep(20);
        await fill(store, 3, 60);
        const error = await following;
        controller.abort();
        await other.close();
        if (error !== undefined) expect(error).toMatchObject({ code: 'truncated' });
        // Every record delivered is the one at its position, with no gap before a truncation.
        expect(seen.map((r) => r.position)).toEqual(seen.map((_, i) => i));
        expect(seen.slice(0, 60)).toEqual(all.slice(0, seen.length));
      }));
  });
}
