// npm run bench:serve [-- --records N] [-- --clients C] [-- --rate R] [-- --seconds S]
// `eventy serve` on 127.0.0.1, bounded in time (about a minute; stopped at 90 s). The server runs in a
// child process (bench/serve-server.ts) on a file log; the clients run here. Printed with their targets:
// - the feed to one client: `records` records from position 0 (history, then live), and records
//   published as fast as the server can while the client follows; against a bare `ws` server sending
//   the same records, already serialised, in the same run;
// - `clients` WebSocket clients following a `rate` records/s log for `seconds`: delay from publish to
//   receipt, timed on 20 of them (the others only count, to keep the clients' CPU off the figure), and
//   whether each client got every record;
// - publish over HTTP with 50 connections (autocannon) against a bare fastify route taking the same body;
// - the server's RSS through the run.
import { fork } from 'node:child_process';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import WebSocket from 'ws';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '300000' },
    clients: { type: 'string', default: '200' },
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '10' },
  },
});
const RECORDS = Number(args.records);
const CLIENTS = Number(args.clients);
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const HTTP_SECONDS = 8;
const LIMIT_MS = 90_000;

const child = fork(new URL('./serve-server.js', import.meta.url).pathname);
const pending = new Map<number, (m: Record<string, unknown>) => void>();
let lastId = 0;
child.on('message', (m: { id: number } & Record<string, unknown>) => pending.get(m.id)?.(m));
function ask<T>(cmd: string, extra: object = {}): Promise<T> {
  const id = ++lastId;
  return new Promise((resolve, reject) => {
    pending.set(id, (m) => {
      pending.delete(id);
      if (typeof m.error === 'string') reject(new Error(m.error));
      else resolve(m as T);
    });
    child.send({ id, cmd, ...extra });
  });
}
const ready = new Promise<string>((resolve) => pending.set(0, (m) => resolve(m.url as string)));
const guard = setTimeout(() => {
  console.error(`bench:serve: still running after ${LIMIT_MS / 1000} s, stopping`);
  child.kill('SIGKILL');
  process.exit(1);
}, LIMIT_MS);

const rss: { phase: string; mb: number }[] = [];
let current = 'start';
/** Starts a phase: RSS samples are counted under it, and it is announced on stderr. */
function enter(name: string): void {
  current = name;
  process.stderr.write(`bench:serve: ${name}…\n`);
}
const sampler = setInterval(() => {
  void ask<{ rss: number }>('rss').then((r) => rss.push({ phase: current, mb: r.rss / 2 ** 20 }));
}, 250);

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const wsUrl = (http: string, path: string): string => http.replace(/^http/, 'ws') + path;
const NEXT = /^\{"type":"records","next":(\d+)/;

/** Opens a feed and resolves when a message says `next` reached `until()`; counts by `next`. */
function drain(
  url: string,
  until: () => number | undefined,
): Promise<{ ms: number; from: number; to: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    let start = 0;
    let lastAt = 0;
    let from = -1;
    let to = -1;
    // The end may become known after the last message arrived: check it on a timer too.
    const check = (): void => {
      const end = until();
      if (end === undefined || to < end) return;
      clearInterval(timer);
      ws.terminate();
      resolve({ ms: lastAt - start, from, to });
    };
    const timer = setInterval(check, 10);
    ws.on('open', () => (start = performance.now()));
    ws.on('error', (e) => {
      clearInterval(timer);
      reject(e);
    });
    ws.on('message', (data: Buffer) => {
      lastAt = performance.now();
      const m = NEXT.exec(data.subarray(0, 64).toString('latin1'));
      if (m) to = Number(m[1]);
      else if (from < 0) from = (JSON.parse(data.toString('utf8')) as { from?: number }).from ?? -1;
      check();
    });
  });
}

async function feedToOne(url: string): Promise<string[]> {
  enter('fill');
  const { head } = await ask<{ head: number }>('fill', { count: RECORDS });
  enter('catch-up');
  const ours = await drain(wsUrl(url, '/feed?from=0'), () => head);
  const { port } = await ask<{ port: number }>('raw');
  const raw = await drain(`ws://127.0.0.1:${port}/`, () => head);
  const oursRate = (head / ours.ms) * 1000;
  const rawRate = (head / raw.ms) * 1000;

  enter('live');
  const target: { end?: number } = {};
  const live = drain(wsUrl(url, '/feed'), () => target.end);
  await new Promise((r) => setTimeout(r, 200));
  const flood = await ask<{ sent: number; head: number }>('flood', { ms: 4000 });
  target.end = flood.head;
  const followed = await live;
  const delivered = followed.to - (flood.head - flood.sent);
  return [
    `feed to one client, ${fmt(head)} records from position 0: ${fmt(oursRate)} records/s; bare ws sending the same records: ${fmt(rawRate)} records/s (${Math.round((oursRate / rawRate) * 100)}%) — target ≥ 100,000: ${oursRate >= 100_000 ? 'met' : 'NOT MET'}`,
    `feed to one client, live while the server publishes flat out: ${fmt((delivered / followed.ms) * 1000)} records/s delivered (${fmt(flood.sent / 4)} published/s)`,
  ];
}

/** Clients of the fan-out that parse every message to time each record; the others only count. */
const TIMED = 20;

async function fanOut(url: string): Promise<string[]> {
  enter('fan-out');
  const histogram = new Uint32Array(100_001); // 0.1 ms buckets up to 10 s
  const nexts = new Array<number>(CLIENTS).fill(0);
  let measuring = false;
  let samples = 0;
  const record = (delay: number): void => {
    const b = Math.min(100_000, Math.max(0, Math.round(delay * 10)));
    histogram[b] = (histogram[b] ?? 0) + 1;
    samples++;
  };
  const sockets = await Promise.all(
    Array.from(
      { length: CLIENTS },
      (_, i) =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(wsUrl(url, '/feed?type=event.published'));
          ws.on('message', (data: Buffer) => {
            const at = Date.now();
            const next = NEXT.exec(data.subarray(0, 64).toString('latin1'));
            if (!next) return;
            nexts[i] = Number(next[1]);
            if (i >= TIMED || !measuring) return;
            const m = JSON.parse(data.toString('utf8')) as { records: { payload: { sentAt: number } }[] };
            for (const r of m.records) record(at - r.payload.sentAt);
          });
          ws.once('open', () => resolve(ws));
          ws.once('error', reject);
        }),
    ),
  );
  const warm = setTimeout(() => (measuring = true), 1000);
  const { sent, head } = await ask<{ sent: number; head: number }>('pace', {
    rate: RATE,
    ms: SECONDS * 1000,
  });
  clearTimeout(warm);
  const deadline = Date.now() + 10_000;
  while (nexts.some((n) => n < head) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  for (const ws of sockets) ws.terminate();
  const q = (p: number): number => {
    let seen = 0;
    for (let b = 0; b < histogram.length; b++) {
      seen += histogram[b] ?? 0;
      if (seen >= p * samples) return b / 10;
    }
    return NaN;
  };
  const complete = nexts.filter((n) => n >= head).length;
  return [
    `${CLIENTS} WebSocket clients following ${fmt(sent / SECONDS)} records/s for ${SECONDS} s: delay publish → client p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms (${fmt(samples)} deliveries timed on ${TIMED} clients); ${complete} of ${CLIENTS} clients got every record — target p99 ≤ 50 ms: ${q(0.99) <= 50 ? 'met' : 'NOT MET'}`,
  ];
}

async function publishHttp(url: string): Promise<string[]> {
  enter('http');
  const run = (target: string) =>
    autocannon({
      url: `${target}/queues/bench-http/events`,
      method: 'POST',
      connections: 50,
      duration: HTTP_SECONDS,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ payload: { order: 7, items: ['a', 'b'] } }),
    });
  const ours = await run(url);
  const { port } = await ask<{ port: number }>('bare');
  enter('http-bare');
  const bare = await run(`http://127.0.0.1:${port}`);
  const rate = (r: autocannon.Result) => r.requests.total / HTTP_SECONDS;
  return [
    `publish over HTTP, 50 connections, ${HTTP_SECONDS} s: ${fmt(rate(ours))} requests/s (p99 ${ours.latency.p99} ms, ${ours.non2xx + ours.errors} failed); bare fastify route: ${fmt(rate(bare))} requests/s (${Math.round((rate(ours) / rate(bare)) * 100)}%) — target ≥ 5,000: ${rate(ours) >= 5000 ? 'met' : 'NOT MET'}`,
  ];
}

function rssLines(): string[] {
  const names = [...new Set(rss.map((s) => s.phase))];
  const parts = names.map((p) => {
    const mbs = rss.filter((s) => s.phase === p).map((s) => s.mb);
    return `${p} ${Math.round(Math.min(...mbs))}–${Math.round(Math.max(...mbs))}`;
  });
  return [`server RSS (MB, min–max per phase): ${parts.join(', ')}`];
}

async function main(): Promise<void> {
  const url = await ready;
  console.log(
    `bench:serve: ${url} (server in pid ${child.pid}), ${RECORDS} records, ${CLIENTS} clients at ${RATE}/s`,
  );
  const lines = [...(await feedToOne(url)), ...(await fanOut(url)), ...(await publishHttp(url))];
  enter('end');
  await new Promise((r) => setTimeout(r, 600));
  clearInterval(sampler);
  lines.push(...rssLines());
  console.log('');
  for (const line of lines) console.log(line);
  await ask('exit');
  clearTimeout(guard);
}

main().catch((e: unknown) => {
  console.error(e);
  child.kill('SIGKILL');
  process.exit(1);
});
