// Soak scenario: a private redis-server (its own port and temp dir, AOF with fsync always) restarted under
// running publishers, by turns gracefully (SHUTDOWN) and with SIGKILL. The publishers retry appends that
// fail `unavailable` while it is down, each try a new batch. Afterwards the log is read back: an
// acknowledged batch that is missing is lost, one with part of its records visible is partial.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { batchOutcome, readLog } from './soak-log.js';
import { kill, randomInt, script, sleep, start, stop, type Proc } from './soak-procs.js';

/** One row of the Redis restart table. */
export interface RestartRow {
  readonly store: string;
  readonly 'graceful restarts': number;
  readonly 'kill -9 restarts': number;
  readonly acknowledged: number;
  /** Appends refused with `unavailable` while the server was down (tried again as new batches). */
  readonly retries: number;
  readonly lost: number;
  readonly partial: number;
  /** Publishers that ended on their own, restarts after which no publisher got an acknowledgement again. */
  readonly errors: number;
}

/** Starts redis-server on `port` with its files in `dir`; resolves once it accepts connections. */
function startRedis(port: number, dir: string): Promise<Proc> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''];
  const aof = ['--appendonly', 'yes', '--appendfsync', 'always'];
  return start(
    'redis-server',
    [...args, ...aof],
    () => undefined,
    (l) => l.includes('Ready to accept'),
  );
}

/** `preferred` when nothing listens there, else a port the system picks. */
async function freePort(preferred: number): Promise<number> {
  for (const port of [preferred, 0]) {
    const server = createServer();
    server.listen(port, '127.0.0.1');
    const ok = await Promise.race([
      once(server, 'listening').then(() => true),
      once(server, 'error').then(() => false),
    ]);
    if (!ok) continue;
    const address = server.address();
    server.close();
    await once(server, 'close');
    if (address !== null && typeof address !== 'string') return address.port;
  }
  throw new Error('no free TCP port');
}

/** Asks the server to shut down (it syncs its AOF first) and waits until its process is gone. */
async function shutdown(port: number, server: Proc): Promise<void> {
  const cli = spawn('redis-cli', ['-p', String(port), 'SHUTDOWN'], { stdio: 'ignore', timeout: 10_000 });
  await once(cli, 'close');
  if (!(await stop(server, 'SIGTERM', 10_000))) throw new Error('redis-server did not shut down');
}

/** Runs `publishers` publishers while the server restarts `restarts` times each way, and counts. */
export async function redisRestarts(
  restarts: number,
  publishers = 2,
  preferredPort = 6391,
): Promise<RestartRow> {
  const dir = await mkdtemp(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'eventy-soak-redis-'));
  const port = await freePort(preferredPort);
  const url = `redis://127.0.0.1:${port}/?prefix=soak&segmentRecords=256`;
  const acked = new Set<string>();
  const errors: string[] = [];
  let retries = 0;
  let started = 0;
  let server = await startRedis(port, dir);
  const procs: Proc[] = [];
  const publisher = (slot: number): Promise<Proc> => {
    const [node, file] = script('soak-publisher');
    const onLine = (line: string): void => {
      if (line.startsWith('ack ')) acked.add(line.slice(4));
      else if (line === 'retry') retries++;
    };
    return start(node, [file, url, `restart-${slot}-${started++}`, 'retry'], onLine, (l) => l === 'ready');
  };
  try {
    procs.push(...(await Promise.all(Array.from({ length: publishers }, (_, slot) => publisher(slot)))));
    const kinds = Array.from({ length: 2 * restarts }, (_, i) => (i % 2 === 0 ? 'graceful' : 'kill'));
    for (const kind of kinds) {
      await sleep(randomInt(500, 1500));
      if (kind === 'graceful') await shutdown(port, server);
      else await kill(server);
      await sleep(randomInt(100, 1000));
      server = await startRedis(port, dir);
      // The publishers must get acknowledgements again once the server is back.
      const before = acked.size;
      const deadline = Date.now() + 30_000;
      while (acked.size === before && Date.now() < deadline) await sleep(50);
      if (acked.size === before) errors.push(`no acknowledgement within 30 s after a ${kind} restart`);
      for (const [slot, p] of procs.entries()) {
        if (p.child.exitCode === null) continue;
        errors.push(`publisher ended with ${p.child.exitCode}: ${p.stderr()}`);
        procs[slot] = await publisher(slot);
      }
    }
    await sleep(500);
    await Promise.all(procs.map(kill));
    const outcome = batchOutcome(await readLog(url), acked);
    for (const e of errors) console.error(e);
    return {
      store: 'redis AOF',
      'graceful restarts': restarts,
      'kill -9 restarts': restarts,
      acknowledged: acked.size,
      retries,
      lost: outcome.lost,
      partial: outcome.partial,
      errors: errors.length + outcome.gaps,
    };
  } finally {
    await Promise.all(procs.map(kill));
    await stop(server, 'SIGTERM', 10_000);
    await rm(dir, { recursive: true, force: true });
  }
}
