// `npm run bench:replay [-- --records N]`: replay speed of a filesystem log. Builds a log of N records
// (default 1,000,000) shaped like a busy deployment: two queues, one competing subscriber each, four
// workers that claim, extend, fail and retry now and then, and record results. Then, in the same run:
// the raw read ceiling (store.read() decoding every record, no fold), the in-process fold (replayLog with
// every view), and the real CLI (`eventy replay --view stats --json` in a child process: wall clock and
// peak RSS). Each with its CPU time too: on a shared machine, records per CPU second vary less than per
// wall-clock second. The log was just written, so every case reads it from the page cache.
// BENCH_DIR sets where the log is built (default the OS temp dir); it is removed at the end unless
// BENCH_KEEP=1 (to profile `eventy replay` against it afterwards).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openFileStore, type FileStore } from '../adapters/filesystem/index.js';
import type { RecordDraft } from '../engine/records.js';
import { replayLog } from '../projections/replay.js';

const { values: args } = parseArgs({ options: { records: { type: 'string', default: '1000000' } } });
const RECORDS = Number(args.records);
const APPEND_BATCH = 1000;
const TARGET_RATE = 500_000;
const TARGET_RSS_MB = 300;
const CLI = new URL('../cli/main.js', import.meta.url).pathname;

const QUEUES = [
  { queue: 'orders', subscriberId: 'orders/bill', name: 'bill' },
  { queue: 'emails', subscriberId: 'emails/send', name: 'send' },
] as const;
const WORKERS = ['worker-1', 'worker-2', 'worker-3', 'worker-4'];
const LEASE_MS = 30_000;
/** Events published per queue per round; each is claimed the round after, and has its result the next. */
const PER_ROUND = 8;
/** Rounds between two heartbeats of every worker (about 2,000 records). */
const HEARTBEAT_ROUNDS = 40;
/** One first attempt in this many fails with a retry, and succeeds on its second attempt. */
const FAIL_EVERY = 50;

interface Claim {
  readonly eventId: string;
  readonly eventPosition: number;
  readonly workerId: string;
  readonly attempt: number;
}

interface QueueSim {
  readonly spec: (typeof QUEUES)[number];
  pending: { eventId: string; eventPosition: number }[];
  inFlight: Claim[];
  retrying: Claim[];
}

/**
 * The records of a busy log, in an order a real deployment writes them, with consistent fields: claims
 * name the position of their event, results come from the claim's worker and attempt within its lease.
 * Positions are counted here, so the log must be empty and appended in this order.
 */
class LogSim {
  position = 0;
  readonly counts = new Map<string, number>();
  readonly #queues: QueueSim[] = QUEUES.map((spec) => ({ spec, pending: [], inFlight: [], retrying: [] }));
  #published = 0;
  #claims = 0;

  *drafts(): Generator<RecordDraft> {
    for (const { queue, subscriberId, name } of QUEUES) {
      yield this.#count({
        type: 'subscriber.registered',
        queue,
        subscriberId,
        name,
        delivery: 'competing',
        retry: { limit: 3, minBackoff: 1000, maxBackoff: 30_000 },
        timeout: 30_000,
        startPosition: 0,
      });
    }
    for (const w of WORKERS) yield this.#count({ type: 'worker.joined', ...worker(w), ttlMs: 6000 });
    for (let round = 1; ; round++) {
      for (const q of this.#queues) yield* this.#round(q);
      if (round % HEARTBEAT_ROUNDS === 0) yield* this.#heartbeats();
    }
  }

  /** Results of the last round's claims, claims of the last round's events and retries, new events. */
  *#round(q: QueueSim): Generator<RecordDraft> {
    const { queue, subscriberId } = q.spec;
    const [finishing, retrying, pending] = [q.inFlight, q.retrying, q.pending];
    [q.inFlight, q.retrying, q.pending] = [[], [], []];
    for (const c of finishing) {
      const fails = c.attempt === 1 && Math.imul(c.eventPosition, 0x9e3779b1) >>> 0 < 2 ** 32 / FAIL_EVERY;
      yield this.#count({
        type: 'result.recorded',
        queue,
        subscriberId,
        ...c,
        durationMs: 3 + (c.eventPosition % 40),
        ...(fails
          ? {
              status: 'failed',
              error: { name: 'TimeoutError', message: 'upstream timed out' },
              retryAt: Date.now(),
            }
          : { status: 'ok' }),
      });
      if (fails) q.retrying.push(c);
    }
    const claims = [
      ...retrying.map((c) => ({ ...c, attempt: c.attempt + 1 })),
      ...pending.map((e) => ({ ...e, attempt: 1 })),
    ];
    for (const e of claims) {
      const c: Claim = { ...e, workerId: WORKERS[this.#claims++ % WORKERS.length]! };
      yield this.#count({ type: 'claim.acquired', queue, subscriberId, ...c, leaseMs: LEASE_MS });
      q.inFlight.push(c);
    }
    for (let i = 0; i < PER_ROUND; i++) {
      const eventId = randomUUID();
      q.pending.push({ eventId, eventPosition: this.position });
      yield this.#count({ type: 'event.published', queue, eventId, ...payload(queue, this.#published++) });
    }
  }

  /** Every worker beats and extends the leases it holds, in one append as the runtime does. */
  *#heartbeats(): Generator<RecordDraft> {
    for (const w of WORKERS) {
      yield this.#count({ type: 'worker.heartbeat', ...worker(w), ttlMs: 6000 });
      for (const q of this.#queues) {
        const { queue, subscriberId } = q.spec;
        for (const c of q.inFlight.filter((c) => c.workerId === w))
          yield this.#count({ type: 'claim.extended', queue, subscriberId, ...c, leaseMs: LEASE_MS });
      }
    }
  }

  /** Counts a record by type (and failed results apart) as it is handed out: its position is the next. */
  #count(d: RecordDraft): RecordDraft {
    const key = d.type === 'result.recorded' ? `result.recorded ${String(d.status)}` : d.type;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.position++;
    return d;
  }
}

function worker(workerId: string) {
  return {
    workerId,
    host: 'bench-host',
    pid: 1000 + WORKERS.indexOf(workerId),
    queues: QUEUES.map((q) => q.queue),
    subscribers: QUEUES.map((q) => q.subscriberId),
  };
}

/** Small payloads, as a task queue carries: ids and a few fields, not documents. */
function payload(queue: string, n: number): { payload: unknown; headers: Record<string, string> } {
  const headers = { correlationId: `req-${Math.floor(n / 4)}` };
  return queue === 'orders'
    ? {
        payload: { orderId: n, customer: `c-${n % 9973}`, total: 1999 + (n % 500), currency: 'EUR' },
        headers,
      }
    : { payload: { to: `user${n % 9973}@example.com`, template: 'receipt', orderId: n - 1 }, headers };
}

/** Appends `total` records of the simulation, `APPEND_BATCH` per append, checking their positions. */
async function buildLog(store: FileStore, total: number): Promise<LogSim> {
  const sim = new LogSim();
  const drafts = sim.drafts();
  for (let start = 0; start < total; start += APPEND_BATCH) {
    const batch: RecordDraft[] = [];
    while (batch.length < Math.min(APPEND_BATCH, total - start))
      batch.push(drafts.next().value as RecordDraft);
    const { positions } = await store.append(batch);
    if (positions[0] !== start) throw new Error(`log not empty: batch at ${start} got ${positions[0]}`);
  }
  return sim;
}

interface Measure {
  readonly name: string;
  readonly records: number;
  readonly ms: number;
  /** CPU time (user + system): on a shared machine, steadier than the wall clock. */
  readonly cpuMs: number;
  readonly rssMb?: number;
}

const cpuMsSince = (start: NodeJS.CpuUsage): number => {
  const { user, system } = process.cpuUsage(start);
  return (user + system) / 1000;
};

const rate = (m: Measure): number => (m.records * 1000) / m.ms;

async function rawRead(store: FileStore): Promise<Measure> {
  const [start, cpu] = [performance.now(), process.cpuUsage()];
  let records = 0;
  for await (const _ of store.read()) records++;
  return { name: 'raw read (decode only)', records, ms: performance.now() - start, cpuMs: cpuMsSince(cpu) };
}

async function inProcessFold(store: FileStore, sim: LogSim): Promise<Measure> {
  const [start, cpu] = [performance.now(), process.cpuUsage()];
  const views = await replayLog(store);
  const [ms, cpuMs] = [performance.now() - start, cpuMsSince(cpu)];
  // The records are consistent, so every result was accepted: the fold did the real work.
  const ok = sim.counts.get('result.recorded ok') ?? 0;
  const done = [...views.dispatch.subscribers.values()].reduce((n, s) => n + s.counts.done, 0);
  const rejected = [...views.dispatch.subscribers.values()].reduce((n, s) => n + s.counts.rejected, 0);
  if (done !== ok || rejected !== 0) throw new Error(`fold: ${done} done of ${ok} ok, ${rejected} rejected`);
  return { name: 'replayLog, every view', records: views.position + 1, ms, cpuMs };
}

// Loaded before the CLI: reports the process's peak RSS (KiB) and CPU time (µs) on stderr as it exits,
// whatever the OS tools (no /usr/bin/time needed).
const USAGE_MARK = 'eventy-bench-usage';
const PRELOAD = `data:text/javascript,${encodeURIComponent(
  `import { writeSync } from 'node:fs';
   process.on('exit', () => {
     const u = process.resourceUsage();
     writeSync(2, '\\n${USAGE_MARK} ' + u.maxRSS + ' ' + (u.userCPUTime + u.systemCPUTime) + '\\n');
   });`,
)}`;

/** `eventy replay --view stats --json` in a child process: wall clock from spawn to exit, peak RSS. */
async function cliReplay(dir: string, sim: LogSim): Promise<Measure> {
  const argv = ['--import', PRELOAD, CLI, 'replay', '--store', `file:${dir}`, '--view', 'stats', '--json'];
  const start = performance.now();
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const ms = performance.now() - start;
  const usage = new RegExp(`${USAGE_MARK} (\\d+) (\\d+)`).exec(stderr);
  if (code !== 0) throw new Error(`eventy replay exited with ${code}: ${stderr.trim()}`);
  const out = JSON.parse(stdout) as { position: number; rows: { published: number }[] };
  const published = out.rows.reduce((n, r) => n + r.published, 0);
  if (published !== sim.counts.get('event.published'))
    throw new Error(`eventy replay printed ${published} published events`);
  return {
    name: 'CLI eventy replay --view stats',
    records: out.position + 1,
    ms,
    cpuMs: Number(usage?.[2] ?? NaN) / 1000,
    ...(usage ? { rssMb: Number(usage[1]) / 1024 } : {}),
  };
}

function row(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
}

function report(raw: Measure, fold: Measure, cli: Measure): void {
  const fmt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '?');
  const widths = [32, 8, 10, 12, 12, 14, 9];
  const of = (m: Measure): string => `${Math.round((100 * rate(m)) / rate(raw))}%`;
  const mb = (m: Measure): string => (m.rssMb === undefined ? '' : m.rssMb.toFixed(0));
  const perCpu = (m: Measure): string => fmt((m.records * 1000) / m.cpuMs);
  console.log(
    row(['case', 'wall s', 'CPU s', 'records/s', 'of raw read', 'records/CPU s', 'peak RSS'], widths),
  );
  for (const m of [raw, fold, cli]) {
    const [wall, cpu] = [(m.ms / 1000).toFixed(2), (m.cpuMs / 1000).toFixed(2)];
    const rss = m.rssMb === undefined ? '' : `${mb(m)} MB`;
    console.log(row([m.name, wall, cpu, fmt(rate(m)), of(m), perCpu(m), rss], widths));
  }
  const met = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  const cliRss = cli.rssMb === undefined ? 'not measured' : `${mb(cli)} MB ${met(cli.rssMb < TARGET_RSS_MB)}`;
  console.log(
    `\ntargets (the CLI, wall clock): ≥ ${fmt(TARGET_RATE)} records/s: ${fmt(rate(cli))} ` +
      `${met(rate(cli) >= TARGET_RATE)}; peak RSS < ${TARGET_RSS_MB} MB: ${cliRss}` +
      `\nload average now: ${loadAverage()} on ${os.cpus().length} cpus`,
  );
}

const loadAverage = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

function logSize(dir: string): number {
  return fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
}

async function main(): Promise<void> {
  if (!Number.isSafeInteger(RECORDS) || RECORDS < 1000)
    throw new Error(`--records must be an integer ≥ 1000, got: ${args.records}`);
  const root = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'eventy-bench-'));
  const dir = path.join(root, 'log');
  console.log(
    `eventy bench:replay — node ${process.version}, ${os.cpus().length} cpus ` +
      `(load ${loadAverage()}), ${dir}`,
  );
  try {
    const store = await openFileStore(`file:${dir}`, { durability: 'never' });
    try {
      const t0 = performance.now();
      const sim = await buildLog(store, RECORDS);
      const built = ((performance.now() - t0) / 1000).toFixed(1);
      const mix = [...sim.counts].map(([type, n]) => `${type} ${n.toLocaleString('en-US')}`).join(', ');
      const mb = (logSize(dir) / 2 ** 20).toFixed(0);
      console.log(`log: ${RECORDS.toLocaleString('en-US')} records, ${mb} MB, built in ${built} s`);
      console.log(`(appends of ${APPEND_BATCH}): ${mix}\n`);
      const raw = await rawRead(store);
      const fold = await inProcessFold(store, sim);
      const cli = await cliReplay(dir, sim);
      report(raw, fold, cli);
    } finally {
      await store.close();
    }
  } finally {
    if (process.env.BENCH_KEEP === '1') console.log(`kept: ${dir}`);
    else fs.rmSync(root, { recursive: true, force: true });
  }
}

await main();
