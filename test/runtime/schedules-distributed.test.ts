import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  createQueueManager,
  dispatchFold,
  foldAll,
  resultRef,
  unbatched,
  type RecordOf,
  type StoredRecord,
} from '../../index.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';

const WORKER = new URL('../fixtures/schedule-worker.ts', import.meta.url).pathname;
const children: ChildProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
afterAll(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function spawnWorker(url: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, url], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${String(code)} before it was ready`)));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Per slot of `tick`: its events (the first and any keyed twins) and the first event's accepted ok results. */
function perSlot(records: StoredRecord[]) {
  const state = foldAll(dispatchFold, records);
  const events = new Map<number, RecordOf<'event.published'>[]>();
  for (const r of records) {
    if (r.type !== 'event.published') continue;
    const e = r as RecordOf<'event.published'>;
    if (e.headers.scheduleId !== 'tick') continue;
    const slot = Date.parse(e.headers.scheduledFor ?? '');
    events.set(slot, [...(events.get(slot) ?? []), e]);
  }
  const ok = new Map<string, number>();
  for (const r of records.flatMap(unbatched)) {
    if (r.type !== 'result.recorded') continue;
    const res = r as RecordOf<'result.recorded'>;
    if (res.status === 'ok' && !state.rejected.has(resultRef(res)))
      ok.set(res.eventId, (ok.get(res.eventId) ?? 0) + 1);
  }
  return { events, ok };
}

async function scenario(url: string): Promise<void> {
  const workers = await Promise.all([spawnWorker(url), spawnWorker(url), spawnWorker(url)]);
  const allUp = Date.now();
  await sleep(3000);
  workers[0].kill('SIGKILL');
  workers[0] = await spawnWorker(url);
  await sleep(Math.max(500, 6000 - (Date.now() - allUp)));
  const stoppedAt = Date.now();
  for (const w of workers) w.kill('SIGTERM');
  await Promise.all(
    workers.map((w) => new Promise((r) => (w.exitCode === null ? w.once('exit', r) : r(null)))),
  );

  await using m = await createQueueManager({ store: url, handleSignals: false });
  const records: StoredRecord[] = [];
  for await (const r of m.store.read()) records.push(r);
  const { events, ok } = perSlot(records);
  const slots = [...events.keys()].sort((a, b) => a - b);
  const first = slots[0] as number;
  const window: number[] = [];
  for (let s = first; s <= stoppedAt - 300; s += 200) window.push(s);
  const missing = window.filter((s) => !events.has(s));
  const twins = [...events.values()].filter((es) => es.length > 1).length;
  const handledTwice = window.filter((s) => (ok.get(events.get(s)?.[0]?.eventId ?? '') ?? 0) !== 1);
  console.log(
    `${url.split(':')[0]}: ${window.length} slots, ${missing.length} missing, ${twins} keyed twins`,
  );
  expect(first).toBeLessThan(allUp + 200);
  expect(window.length).toBeGreaterThanOrEqual(20);
  expect(missing).toEqual([]);
  expect(handledTwice).toEqual([]);
  expect(slots.every((s) => s % 200 === 0)).toBe(true);
  // The fold's count agrees: one fire per slot.
  expect((await m.queue('jobs').getSchedule('tick')).fired).toBe(slots.length);
}

describe('a schedule on 3 worker processes, one SIGKILLed at 3 s and restarted', () => {
  it('file store: every slot exactly one event handled once, none missing', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'eventy-sched-'));
    cleanups.push(() => fs.rm(root, { recursive: true, force: true }));
    await scenario(`file:${path.join(root, 'log')}`);
  });

  it('Redis: every slot exactly one event handled once, none missing', async () => {
    const prefix = uniquePrefix();
    cleanups.push(() => deletePrefix(prefix));
    const url = new URL(REDIS_URL);
    url.searchParams.set('prefix', prefix);
    await scenario(url.toString());
  });
});
