// Soak scenario: worker processes (a queue manager with subscriber `work`, a 1 s lease) SIGKILLed at
// random moments and started again while events are published. Once every event is done (or the drain
// deadline passes) the log is folded: every event must have exactly one accepted `ok` result (results
// fenced off because their lease had passed to another worker do not count). The public API is asked too:
// `queue.getResults(id)` (which leaves fenced results out) must give each event exactly one `ok`.
import { createQueueManager } from '../index.js';
import { doneCounter } from './redis-procs.js';
import { readLog, workOutcome } from './soak-log.js';
import { kill, randomInt, script, sleep, start, stop, type Proc } from './soak-procs.js';

/** One row of the workers' table. */
export interface WorkersRow {
  readonly store: string;
  readonly kills: number;
  readonly events: number;
  /** `ok` results recorded, accepted or fenced. */
  readonly 'ok results': number;
  readonly fenced: number;
  /** Events run again (a later attempt accepted) after a kill took their worker. */
  readonly 're-run': number;
  /** Events with more than one accepted `ok`. */
  readonly 'duplicates accepted': number;
  /** Events with no accepted `ok`. */
  readonly missing: number;
  /** Events for which `getResults` does not give exactly one `ok`. */
  readonly 'getResults ≠ 1': number;
  /** Workers that ended on their own. */
  readonly errors: number;
}

export interface WorkersOptions {
  readonly kills: number;
  readonly events: number;
  readonly workers?: number;
  readonly leaseMs?: number;
  /** How long to wait for the last events once the kills are over. */
  readonly drainMs?: number;
}

/** Runs the scenario on `url` (a fresh log) and counts. */
export async function workersUnderKill(store: string, url: string, o: WorkersOptions): Promise<WorkersRow> {
  const { kills, events, workers = 3, leaseMs = 1000, drainMs = 90_000 } = o;
  const errors: string[] = [];
  const worker = (): Promise<Proc> => {
    const [node, file] = script('soak-worker');
    return start(
      node,
      [file, url, String(leaseMs)],
      () => undefined,
      (line) => line.startsWith('ready'),
    );
  };
  const manager = await createQueueManager({ store: url, handleSignals: false, fold: 'eager' });
  const procs: Proc[] = [];
  try {
    const queue = manager.queue<{ n: number }>('soak');
    const done = doneCounter(queue);
    procs.push(...(await Promise.all(Array.from({ length: workers }, worker))));
    // Publishing and killing go on together, so that kills land while events come in and run: batches of
    // 10, paced to last about as long as the kills (750 ms apart on average, plus a restart).
    const pause = Math.max(5, (kills * 1250) / Math.ceil(events / 10));
    const publishing = (async () => {
      for (let n = 0; n < events; n += 10) {
        await queue.publishMany(Array.from({ length: Math.min(10, events - n) }, (_, k) => ({ n: n + k })));
        await sleep(pause * (0.5 + Math.random()));
      }
    })();
    for (let k = 0; k < kills; k++) {
      await sleep(randomInt(300, 1200));
      const slot = randomInt(0, workers - 1);
      const proc = procs[slot] as Proc;
      if (proc.child.exitCode !== null)
        errors.push(`worker ended with ${proc.child.exitCode}: ${proc.stderr()}`);
      await kill(proc);
      procs[slot] = await worker();
    }
    await publishing;
    const deadline = Date.now() + drainMs;
    while (done() < events && Date.now() < deadline) await sleep(100);
    // A moment for a result that would come twice (a fenced worker's late append) to land before the count.
    await sleep(Math.min(2 * leaseMs, 3000));
  } finally {
    for (const p of procs) if (p.child.exitCode !== null) errors.push(`worker ended: ${p.stderr()}`);
    const graceful = await Promise.all(procs.map((p) => stop(p)));
    if (graceful.includes(false)) errors.push('a worker did not stop on SIGTERM within 15 s');
  }
  try {
    const outcome = workOutcome(await readLog(url), 'soak', 'work');
    const queue = manager.queue<{ n: number }>('soak');
    let disagree = 0;
    for (const id of outcome.eventIds) {
      const ok = (await queue.getResults(id)).filter((r) => r.status === 'ok' && r.subscriber === 'work');
      if (ok.length !== 1) disagree++;
    }
    for (const e of errors) console.error(e);
    return {
      store,
      kills,
      events: outcome.events,
      'ok results': outcome.ok,
      fenced: outcome.fenced,
      're-run': outcome.rerun,
      'duplicates accepted': outcome.duplicates,
      missing: outcome.missing + Math.max(0, events - outcome.events),
      'getResults ≠ 1': disagree,
      errors: errors.length,
    };
  } finally {
    await manager.close();
  }
}
