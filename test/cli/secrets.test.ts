import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maskUrl } from '../../index.js';
import { freePort, killServer, uniquePrefix } from '../support/redis.js';
import { Cli, ensureBuilt, root } from '../support/cli.js';

// A password with the character that broke masking before: "@".
const SECRET = 's3cretPW';
const PASSWORD = `${SECRET}@x`;
const WORKER = join(root, 'test/fixtures/cli-worker.ts');

/** A private redis-server on its own port that requires PASSWORD (nothing on disk). */
async function startAuthServer(port: number): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const child = spawn('redis-server', [...args, '--requirepass', PASSWORD], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}):\n${output}`)));
  });
  return child;
}

/** Every process's command line, as `ps` shows it to any user. */
function commandLines(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      out.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' '));
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

describe('store URLs with a password are never printed or passed on a command line', () => {
  let cli: Cli;
  let server: ChildProcess;
  let url: string;
  let dir: string;

  beforeAll(async () => {
    ensureBuilt();
    const port = await freePort();
    server = await startAuthServer(port);
    url = `redis://default:${PASSWORD}@127.0.0.1:${port}/0?prefix=${uniquePrefix()}`;
    dir = await mkdtemp(join(tmpdir(), 'eventy-secrets-'));
    cli = new Cli(dir);
  });
  afterAll(async () => {
    await cli.killAll();
    await killServer(server);
    await rm(dir, { recursive: true, force: true });
  });

  it('maskUrl hides the whole userinfo, whatever it holds', () => {
    expect(maskUrl(url)).toBe(url.replace(`default:${PASSWORD}@`, '***@'));
    expect(maskUrl('redis://:p@ss@h:1/?log=a@b')).toBe('redis://***@h:1/?log=a@b');
    expect(maskUrl('postgres://u:p%40ss@h/db')).toBe('postgres://***@h/db');
    expect(maskUrl('file:.eventy')).toBe('file:.eventy');
    expect(maskUrl('redis://127.0.0.1:6379/2')).toBe('redis://127.0.0.1:6379/2');
  });

  it('no command prints it: demo, publish, tail, stats, replay, verify, --help, errors', async () => {
    const outputs: string[] = [];
    const run = async (args: string[], env: NodeJS.ProcessEnv = {}): Promise<number | null> => {
      const r = await cli.run(args, { env });
      outputs.push(`$ eventy ${args[0] ?? ''}\n${r.stdout}${r.stderr}`);
      return r.code;
    };
    expect(await run(['demo', '--count', '20', '--processes', '1', '--store', url])).toBe(0);
    expect(await run(['publish', 'jobs', '{"n":1}', '--store', url])).toBe(0);
    for (const args of [['stats'], ['replay', '--view', 'subscribers'], ['verify']]) {
      expect(await run([...args, '--store', url])).toBe(0);
    }
    expect(await run(['tail', '-n', '3'], { EVENTY_STORE: url })).toBe(0);
    for (const command of ['tail', 'run', 'demo']) {
      expect(await run([command, '--help'], { EVENTY_STORE: url })).toBe(0);
    }
    const wrong = url.replace(PASSWORD, `${SECRET}-wrong`);
    expect(await run(['stats', '--store', wrong])).not.toBe(0);
    expect(await run(['tail', '--store', url.replace('redis:', 'nope:')])).not.toBe(0);
    const all = outputs.join('\n');
    expect(all).toContain('***@127.0.0.1'); // the URL is shown, masked
    expect(all).not.toContain(SECRET);
  });

  it('eventy run hands the URL to its workers in the environment, not on their command line', async () => {
    const running = new Cli(root).spawn(['run', WORKER, '--processes', '2'], {
      env: { EVENTY_STORE: url },
      nodeArgs: ['--import', 'tsx'],
    });
    await running.waitForStderr(/worker 2 ready/);
    await running.waitForStderr(/worker 1 ready/);
    const lines = commandLines().filter((l) => l.includes('worker'));
    expect(lines.some((l) => l.includes(WORKER))).toBe(true); // the workers are there
    expect(commandLines().filter((l) => l.includes(SECRET))).toEqual([]);
    running.proc.kill('SIGTERM');
    const end = await running.exited;
    expect(end.code, end.stderr).toBe(0);
    expect(`${end.stdout}${end.stderr}`).not.toContain(SECRET);
    expect(end.stderr).toContain('***@127.0.0.1');
  });
});
