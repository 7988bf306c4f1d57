import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openFileStore } from '../../adapters/filesystem/index.js';
import { openMemoryStore } from '../../adapters/memory/index.js';
import type { StoredRecord, RecordDraft } from '../../engine/records.js';
import type { LogStore } from '../../engine/storage.js';
import { handles, leakedSince } from '../support/children.js';

/** The model: the event ids of the log, in order. A record's position is its index. */
interface Model {
  ids: string[];
}

/** The system under test: one open handle on a log that can be closed and opened again. */
interface Real {
  store: LogStore;
  reopen(): Promise<void>;
}

type Command = fc.AsyncCommand<Model, Real>;

function draft(id: string, big: boolean): RecordDraft {
  // A big record is larger than a whole tiny segment: it forces a roll on its own.
  return {
    type: 'event.published',
    queue: 'm',
    eventId: id,
    payload: { pad: big ? 'B'.repeat(700) : id },
    headers: {},
  };
}

function checkRecords(got: readonly StoredRecord[], model: Model, from: number): void {
  expect(got.map((r) => r.position)).toEqual(got.map((_, i) => from + i));
  expect(got.map((r) => (r as unknown as { eventId: string }).eventId)).toEqual(
    model.ids.slice(from, from + got.length),
  );
}

let nextId = 0;
const freshIds = (n: number): string[] => Array.from({ length: n }, () => `id${nextId++}`);

class Append implements Command {
  constructor(
    readonly size: number,
    readonly big: boolean,
  ) {}
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    const ids = freshIds(this.size);
    const head = model.ids.length;
    const result = await real.store.append(ids.map((id, i) => draft(id, this.big && i === 0)));
    expect(result.positions).toEqual(ids.map((_, i) => head + i));
    model.ids.push(...ids);
  }
  toString = (): string => `append(${this.size}${this.big ? ', big' : ''})`;
}

/** Reads a range picked relative to the head when it runs; `to` may run past the head. */
class Read implements Command {
  constructor(
    readonly from: number,
    readonly span: number | undefined,
  ) {}
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    const head = model.ids.length;
    const from = Math.round(this.from * (head + 1));
    const to = this.span === undefined ? undefined : from + Math.round(this.span * (head + 2));
    const got: StoredRecord[] = [];
    for await (const r of real.store.read(to === undefined ? { from } : { from, to })) got.push(r);
    expect(got.length).toBe(Math.max(0, Math.min(to ?? head, head) - from));
    checkRecords(got, model, from);
    expect(await real.store.head()).toBe(head);
  }
  toString = (): string => `read(${this.from.toFixed(2)}, ${this.span?.toFixed(2) ?? '-'})`;
}

/** Follows from a position up to the head, plus `live` records appended while it waits. */
class Follow implements Command {
  constructor(
    readonly from: number,
    readonly live: number,
  ) {}
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    const head = model.ids.length;
    const from = Math.round(this.from * head);
    const want = head - from + this.live;
    const ac = new AbortController();
    const got: StoredRecord[] = [];
    const following = (async () => {
      if (want === 0) return;
      for await (const r of real.store.follow({ from, signal: ac.signal })) {
        got.push(r);
        if (got.length === want) break;
      }
    })();
    try {
      for (const id of freshIds(this.live)) {
        await real.store.append([draft(id, false)]);
        model.ids.push(id);
      }
      await following;
    } finally {
      ac.abort();
      await following.catch(() => undefined);
    }
    expect(got.length).toBe(want);
    checkRecords(got, model, from);
  }
  toString = (): string => `follow(${this.from.toFixed(2)}, +${this.live})`;
}

class Reopen implements Command {
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    await real.reopen();
    expect(await real.store.head()).toBe(model.ids.length);
  }
  toString = (): string => 'reopen';
}

const commands = fc.commands(
  [
    fc.tuple(fc.integer({ min: 1, max: 5 }), fc.boolean()).map(([n, big]) => new Append(n, big)),
    fc
      .tuple(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.option(fc.double({ min: 0, max: 1, noNaN: true })),
      )
      .map(([from, span]) => new Read(from, span ?? undefined)),
    fc
      .tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 3 }))
      .map(([from, live]) => new Follow(from, live)),
    fc.constant(new Reopen()),
  ],
  { maxCommands: 30, size: 'max' },
);

/** Runs the commands against a fresh log opened by `open`; `finish` checks the store at the end. */
async function runModel(
  cmds: Iterable<Command>,
  open: () => Promise<LogStore>,
  finish: (store: LogStore, model: Model) => Promise<void> = () => Promise.resolve(),
): Promise<void> {
  const model: Model = { ids: [] };
  const real: Real = {
    store: await open(),
    async reopen() {
      await this.store.close();
      this.store = await open();
    },
  };
  try {
    await fc.asyncModelRun(() => ({ model, real }), cmds);
    const all: StoredRecord[] = [];
    for await (const r of real.store.read()) all.push(r);
    expect(all.length).toBe(model.ids.length);
    checkRecords(all, model, 0);
    await finish(real.store, model);
  } finally {
    await real.store.close();
  }
}

describe('stores against an array model', () => {
  let before: Record<string, number> = {};
  beforeEach(() => {
    before = handles();
  });
  afterEach(() => {
    expect(leakedSince(before), 'no watcher or timer left behind').toEqual({});
  });

  it('memory', async () => {
    await fc.assert(
      fc.asyncProperty(commands, async (cmds) => {
        const url = `memory:${randomUUID()}`;
        await runModel(cmds, () => Promise.resolve(openMemoryStore(url)));
      }),
      { numRuns: 100 },
    );
  });

  it('filesystem, 512-byte segments', async () => {
    await fc.assert(
      fc.asyncProperty(commands, fc.constantFrom('never', 'batch', 'always'), async (cmds, durability) => {
        const dir = await mkdtemp(join(tmpdir(), 'eventy-model-'));
        try {
          const url = `file:${join(dir, 'log')}`;
          await runModel(
            cmds,
            () => openFileStore(url, { segmentBytes: 512, pollMs: 5, durability }),
            async (store, model) => {
              if (!('segments' in store) || typeof store.segments !== 'function') return;
              const segments = await (store as Awaited<ReturnType<typeof openFileStore>>).segments();
              // Segments are named by the position of their first record and cover the log in order.
              const bases = segments.map((s) => s.base);
              if (model.ids.length > 0) expect(bases[0]).toBe(0);
              expect(bases).toEqual([...new Set(bases)].sort((a, b) => a - b));
              expect(bases.every((b) => b <= model.ids.length)).toBe(true);
            },
          );
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 100 },
    );
  });
});
