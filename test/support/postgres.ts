import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** The PostgreSQL server the tests use; every test keeps to a schema it creates and drops. */
export const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A schema name no other test (or run) uses. */
export function uniqueSchema(): string {
  return `eventy_test_${randomBytes(6).toString('hex')}`;
}

/** The tests' server URL with these store parameters in its query. */
export function pgUrl(params: Record<string, string | number>, base = POSTGRES_URL): string {
  const url = new URL(base);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, String(v));
  return url.toString();
}

/** Runs `fn` on a client of its own, closed after. */
export async function withClient<T>(fn: (c: pg.Client) => Promise<T>, url = POSTGRES_URL): Promise<T> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Drops a schema the test created (and only such a one: the name must be a test schema's). */
export async function dropSchema(schema: string, url = POSTGRES_URL): Promise<void> {
  if (!schema.startsWith('eventy_test_')) throw new Error(`not a test schema: ${schema}`);
  await withClient((c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`), url);
}

/** A throw-away PostgreSQL server in a temp dir, on its own port, stopped by its pid. */
export interface Cluster {
  readonly port: number;
  /** The URL of database `postgres` as user `postgres` with the cluster's password (or another one). */
  url(params?: Record<string, string | number>, password?: string): string;
  start(): Promise<void>;
  /** Immediate shutdown (SIGQUIT to the postmaster): like a crash, recovery runs at the next start. */
  stop(): Promise<void>;
  /** Stops the server and removes its directory. */
  destroy(): Promise<void>;
}

function pgBin(name: string): string {
  if (process.env.PG_BIN !== undefined) return join(process.env.PG_BIN, name);
  try {
    return join(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim(), name);
  } catch {
    // Debian keeps the server's programs out of PATH, one directory per major version: the newest.
    const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
    return join('/usr/lib/postgresql', versions[0] ?? '15', 'bin', name);
  }
}

/** initdb refuses root: as root, the cluster belongs to the `postgres` system user. */
function runAs(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
  return { uid, gid };
}

/** Creates a cluster with password authentication (scram-sha-256) for user `postgres`, and starts it. */
export async function createCluster(password: string): Promise<Cluster> {
  const dir = await mkdtemp(join(tmpdir(), 'eventy-pg-'));
  const owner = runAs();
  if (owner.uid !== undefined) await chown(dir, owner.uid, owner.gid!);
  const data = join(dir, 'data');
  await writeFile(join(dir, 'pw'), password, { mode: 0o600 });
  if (owner.uid !== undefined) await chown(join(dir, 'pw'), owner.uid, owner.gid!);
  execFileSync(
    pgBin('initdb'),
    [
      '-D',
      data,
      '-U',
      'postgres',
      '--auth=scram-sha-256',
      `--pwfile=${join(dir, 'pw')}`,
      '-E',
      'UTF8',
      '--no-sync',
    ],
    { ...owner, stdio: 'ignore' },
  );
  const port = await freePort();
  let server: ChildProcess | undefined;
  const cluster: Cluster = {
    port,
    url: (params = {}, pw = password) =>
      pgUrl(params, `postgres://postgres:${encodeURIComponent(pw)}@127.0.0.1:${port}/postgres`),
    async start() {
      server = spawn(
        pgBin('postgres'),
        [
          '-D',
          data,
          '-p',
          String(port),
          '-k',
          dir,
          '-c',
          'listen_addresses=127.0.0.1',
          '-c',
          'shared_buffers=16MB',
        ],
        { ...owner, stdio: 'ignore' },
      );
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          await withClient(() => Promise.resolve(), cluster.url());
          return;
        } catch (e) {
          if (Date.now() > deadline || server.exitCode !== null) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    async stop() {
      const s = server;
      server = undefined;
      if (s === undefined || s.exitCode !== null || s.signalCode !== null) return;
      const exited = once(s, 'exit');
      s.kill('SIGQUIT');
      await exited;
    },
    async destroy() {
      await cluster.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await cluster.start();
  return cluster;
}

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  return address.port;
}
