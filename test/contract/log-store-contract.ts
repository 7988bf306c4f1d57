import { describe, expect, it } from 'vitest';
import { isEventyError, type ErrorCode } from '../../engine/errors.js';
import { formatPosition, parsePosition } from '../../engine/position.js';
import type { StoredRecord, RecordDraft } from '../../engine/records.js';
import type { LogStore } from '../../engine/storage.js';
import { collect } from '../support/log.js';
import { retentionContract } from './retention-contract.js';

/** How the contract suite reaches one backend: a fresh log per test, opened as often as needed. */
export interface StoreHarness {
  /** Opens a new handle on this test's log (same log every call). */
  open(): Promise<LogStore>;
  /** Removes what the test created. */
  cleanup(): Promise<void>;
  /** Records survive closing every handle. */
  readonly persistent: boolean;
  /**
   * Removes the log as an outsider would (its directory deleted, its keys gone) while handles are open,
   * for stores whose log can be lost under a handle; the next {@link open} creates it anew.
   */
  lose?(): Promise<void>;
}

export type HarnessFactory = () => Promise<StoreHarness>;

export function draft(n: number, extra: Record<string, unknown> = {}): RecordDraft {
  return {
    type: 'event.published',
    queue: 'q',
    eventId: `e${n}`,
    payload: { n, text: 'x'.repeat(n % 50) },
    headers: {},
    ...extra,
  };
}

async function rejects(p: Promise<unknown>, code: ErrorCode): Promise<Error> {
  try {
    await p;
  } catch (e) {
    expect(isEventyError(e, code), `expected ${code}, got ${String(e)}`).toBe(true);
    return e as Error;
  }
  throw new Error(`expected a ${code} error, but the call succeeded`);
}

/** The storage contract: every adapter passes this suite unchanged. */
export function logStoreContract(name: string, factory: HarnessFactory): void {
  retentionContract(name, factory);
  describe(`LogStore contract: ${name}`, () => {
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

    it('starts empty', () =>
      withStore(async (store) => {
        expect(await store.head()).toBe(0);
        expect(await collect(store.read())).toEqual([]);
      }));

    it('appends a batch with dense positions and one log time', () =>
      withStore(async (store) => {
        const before = Date.now();
        const a = await store.append([draft(0), draft(1), draft(2)]);
        expect(a.positions).toEqual([0, 1, 2]);
        expect(a.time).toBeGreaterThanOrEqual(before - 1000);
        expect(a.records.map((r) => r.time)).toEqual([a.time, a.time, a.time]);
        const b = await store.append([draft(3)]);
        expect(b.positions).toEqual([3]);
        expect(b.time).toBeGreaterThanOrEqual(a.time);
        expect(await store.head()).toBe(4);
        const read = await collect(store.read());
        expect(read.map((r) => r.position)).toEqual([0, 1, 2, 3]);
        expect(read[1]).toMatchObject({ type: 'event.published', eventId: 'e1', payload: { n: 1 }, v: 1 });
        expect(read).toEqual([...a.records, ...b.records]);
      }));

    it('keeps payloads exactly: nested values, unicode, binary, numbers', () =>
      withStore(async (store) => {
        const payload = {
          s: 'héllo ✓ 日本',
          n: [0, -1, 1.5, 2 ** 40, Number.MAX_SAFE_INTEGER],
          b: true,
          nil: null,
          nested: { deep: { list: [{ a: 1 }, [], {}] } },
          bytes: new Uint8Array([0, 1, 254, 255]),
        };
        await store.append([draft(0, { payload })]);
        const [r] = await collect(store.read());
        expect((r as unknown as { payload: unknown }).payload).toEqual(payload);
      }));

    it('carries records of unknown future types through', () =>
      withStore(async (store) => {
        await store.append([{ type: 'future.thing', answer: 42, list: ['a'] }]);
        const [r] = await collect(store.read());
        expect(r).toMatchObject({ type: 'future.thing', answer: 42, list: ['a'], position: 0 });
      }));

    it('rejects bad batches with invalid-argument and appends nothing', () =>
      withStore(async (store) => {
        await rejects(store.append([]), 'invalid-argument');
        await rejects(store.append([{ nope: 1 } as unknown as RecordDraft]), 'invalid-argument');
        await rejects(store.append([draft(0), null as unknown as RecordDraft]), 'invalid-argument');
        expect(await store.head()).toBe(0);
      }));

    it('refuses a value CBOR cannot carry with invalid-argument, appending nothing', () =>
      withStore(async (store) => {
        await rejects(store.append([draft(0), draft(1, { payload: { f: () => 1 } })]), 'invalid-argument');
        expect(await store.head()).toBe(0);
        await store.append([draft(0)]);
        expect(await store.head()).toBe(1);
      }));

    it('checks the expected head: conflict on mismatch, nothing appended', () =>
      withStore(async (store) => {
        await store.append([draft(0)], { expectedHead: 0 });
        const e = await rejects(store.append([draft(1)], { expectedHead: 0 }), 'conflict');
        expect(e.message).toContain('0');
        expect(await store.head()).toBe(1);
        await store.append([draft(1), draft(2)], { expectedHead: 1 });
        expect(await store.head()).toBe(3);
      }));

    it('log time never decreases', () =>
      withStore(async (store) => {
        let last = 0;
        for (let i = 0; i < 50; i++) {
          const { time } = await store.append([draft(i)]);
          expect(time).toBeGreaterThanOrEqual(last);
          last = time;
        }
        const times = (await collect(store.read())).map((r) => r.time);
        expect(times).toEqual([...times].sort((x, y) => x - y));
      }));

    it('reads ranges [from, to)', () =>
      withStore(async (store) => {
        for (let i = 0; i < 10; i++) await store.append([draft(3 * i), draft(3 * i + 1), draft(3 * i + 2)]);
        expect((await collect(store.read({ from: 7, to: 12 }))).map((r) => r.position)).toEqual([
          7, 8, 9, 10, 11,
        ]);
        expect((await collect(store.read({ from: 28 }))).map((r) => r.position)).toEqual([28, 29]);
        expect(await collect(store.read({ from: 30 }))).toEqual([]);
        expect(await collect(store.read({ from: 5, to: 5 }))).toEqual([]);
        expect((await collect(store.read({ from: 0, to: 100 }))).length).toBe(30);
        await rejects(collect(store.read({ from: -1 })), 'invalid-argument');
      }));

    it('reads in chunks: the records of read(), in order, in non-empty arrays', () =>
      withStore(async (store) => {
        for (let i = 0; i < 10; i++) await store.append([draft(3 * i), draft(3 * i + 1), draft(3 * i + 2)]);
        for (const range of [{}, { from: 7, to: 12 }, { from: 28 }, { from: 5, to: 5 }, { to: 100 }]) {
          const chunks: (readonly StoredRecord[])[] = [];
          for await (const chunk of store.readChunks(range)) chunks.push(chunk);
          expect(chunks.every((c) => c.length > 0)).toBe(true);
          expect(chunks.flat()).toEqual(await collect(store.read(range)));
        }
        const bad = store.readChunks({ from: -1 })[Symbol.asyncIterator]();
        await rejects(bad.next(), 'invalid-argument');
      }));

    it('follows in chunks: existing records, then new ones, no gaps or duplicates', () =>
      withStore(async (store) => {
        await store.append([draft(0), draft(1), draft(2)]);
        const ac = new AbortController();
        const seen: number[] = [];
        const done = (async () => {
          for await (const chunk of store.followChunks({ from: 2, signal: ac.signal })) {
            expect(chunk.length).toBeGreaterThan(0);
            seen.push(...chunk.map((r) => r.position));
            if (seen.length >= 100) ac.abort();
          }
        })();
        for (let i = 3; i < 102; i += 3) await store.append([draft(i), draft(i + 1), draft(i + 2)]);
        await done;
        expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => i + 2));
        expect(seen.length).toBeGreaterThanOrEqual(100);
      }));

    it('follows from a position: existing records, then new ones, no gaps or duplicates', () =>
      withStore(async (store) => {
        await store.append([draft(0), draft(1), draft(2)]);
        const ac = new AbortController();
        const seen: number[] = [];
        const done = (async () => {
          for await (const r of store.follow({ from: 1, signal: ac.signal })) {
            seen.push(r.position);
            if (seen.length === 200) ac.abort();
          }
        })();
        for (let i = 3; i < 201; i += 3) await store.append([draft(i), draft(i + 1), draft(i + 2)]);
        await done;
        expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      }));

    it('follow ends when its signal aborts while waiting', () =>
      withStore(async (store) => {
        const ac = new AbortController();
        const it = store.follow({ signal: ac.signal })[Symbol.asyncIterator]();
        const next = it.next();
        setTimeout(() => ac.abort(), 20);
        expect(await next).toEqual({ done: true, value: undefined });
      }));

    it('a follower sees appends made through another handle', () =>
      withStore(async (store, h) => {
        const other = await h.open();
        try {
          const ac = new AbortController();
          const seen: string[] = [];
          const done = (async () => {
            for await (const r of store.follow({ signal: ac.signal })) {
              seen.push((r as unknown as { eventId: string }).eventId);
              if (seen.length === 50) ac.abort();
            }
          })();
          for (let i = 0; i < 50; i += 5) {
            await other.append([0, 1, 2, 3, 4].map((k) => draft(i + k)));
          }
          await done;
          expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => `e${i}`));
        } finally {
          await other.close();
        }
      }));

    it('concurrent appends through two handles get unique, dense positions', () =>
      withStore(async (store, h) => {
        const other = await h.open();
        try {
          const jobs: Promise<unknown>[] = [];
          for (let i = 0; i < 100; i++) {
            jobs.push((i % 2 === 0 ? store : other).append([draft(2 * i), draft(2 * i + 1)]));
          }
          await Promise.all(jobs);
          const read = await collect(store.read());
          expect(read.map((r) => r.position)).toEqual(Array.from({ length: 200 }, (_, i) => i));
          const ids = new Set(read.map((r) => (r as unknown as { eventId: string }).eventId));
          expect(ids.size).toBe(200);
          // a batch stays contiguous
          for (let p = 0; p < 200; p += 2) {
            const a = (read[p] as unknown as { eventId: string }).eventId.slice(1);
            const b = (read[p + 1] as unknown as { eventId: string }).eventId.slice(1);
            expect(Number(b)).toBe(Number(a) + 1);
          }
        } finally {
          await other.close();
        }
      }));

    it('keeps records across close and reopen when persistent', () =>
      withStore(async (store, h) => {
        if (!h.persistent) return;
        await store.append([draft(0), draft(1)]);
        await store.close();
        const again = await h.open();
        try {
          expect(await again.head()).toBe(2);
          await again.append([draft(2)]);
          expect((await collect(again.read())).map((r) => r.position)).toEqual([0, 1, 2]);
        } finally {
          await again.close();
        }
      }));

    it('replicates stamped records keeping position and time; refuses a gap', () =>
      withStore(async (store, h) => {
        const source = await h.open();
        await source.append([draft(0), draft(1)]);
        const records = await collect(source.read());
        await source.close();
        const h2 = await factory();
        const target = await h2.open();
        try {
          await target.replicate(records);
          expect(await collect(target.read())).toEqual(records);
          await rejects(target.replicate([{ ...records[0]!, position: 5 }]), 'conflict');
          const { time } = await target.append([draft(2)]);
          expect(time).toBeGreaterThanOrEqual(records[1]!.time);
        } finally {
          await target.close();
          await h2.cleanup();
        }
      }));

    it('is closed after close(): calls fail with closed, close twice is fine, follow ends', () =>
      withStore(async (store, h) => {
        const other = await h.open();
        const it = other.follow()[Symbol.asyncIterator]();
        const pending = it.next();
        await other.close();
        await other.close();
        expect(await pending).toEqual({ done: true, value: undefined });
        await rejects(other.append([draft(0)]), 'closed');
        await rejects(other.head(), 'closed');
        await rejects(collect(other.read()), 'closed');
        expect(await store.head()).toBe(0);
      }));

    it('supports await using', () =>
      withStore(async (_store, h) => {
        {
          await using s = await h.open();
          await s.append([draft(0)]);
        }
        const s2 = await h.open();
        expect(await s2.head()).toBe(1);
        await s2.close();
      }));

    it('gives every handle on a log its identity; a new log gets another', () =>
      withStore(async (store, h) => {
        const identity = await store.identity();
        expect(identity.id).toMatch(/\S{8,}/);
        expect(Number.isSafeInteger(identity.epoch)).toBe(true);
        await store.append([draft(0)]);
        const other = await h.open();
        try {
          expect(await other.identity()).toEqual(identity);
        } finally {
          await other.close();
        }
        const h2 = await factory();
        const elsewhere = await h2.open();
        try {
          expect((await elsewhere.identity()).id).not.toBe(identity.id);
        } finally {
          await elsewhere.close();
          await h2.cleanup();
        }
      }));

    it('reports a log lost and created again under a handle as log-diverged, appending nothing into it', () =>
      withStore(async (store, h) => {
        if (h.lose === undefined) return;
        await store.append([draft(0), draft(1), draft(2)]);
        expect((await collect(store.follow(), 3)).length).toBe(3);
        await h.lose();
        const fresh = await h.open();
        try {
          expect((await fresh.append([draft(10)])).positions).toEqual([0]);
          expect(await fresh.identity()).not.toEqual(await store.identity());
          const refused = await rejects(store.append([draft(3)]), 'log-diverged');
          expect(refused.message).toMatch(/expected .+, found .+/);
          await rejects(store.head(), 'log-diverged');
          await rejects(collect(store.read()), 'log-diverged');
          await rejects(collect(store.follow({ from: 3 }), 1), 'log-diverged');
          // Once diverged, always: the new log growing past what the handle saw changes nothing.
          await fresh.append([draft(11), draft(12), draft(13), draft(14)]);
          await rejects(store.append([draft(3)]), 'log-diverged');
          expect(
            (await collect(fresh.read())).map((r) => (r as unknown as { eventId: string }).eventId),
          ).toEqual(['e10', 'e11', 'e12', 'e13', 'e14']);
        } finally {
          await fresh.close();
        }
      }));

    it('prints and parses positions', () => {
      expect(parsePosition(formatPosition(12345))).toBe(12345);
      expect(() => parsePosition('abc')).toThrow(/position/);
    });
  });
}
