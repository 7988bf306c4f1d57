import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { openRedisStore } from '../../adapters/redis/index.js';
import { isEventyError } from '../../engine/errors.js';
import { draft } from '../contract/log-store-contract.js';
import {
  deletePrefix,
  freePort,
  keysUnder,
  killServer,
  REDIS_URL,
  startRedisServer,
  uniquePrefix,
} from '../support/redis.js';
import { tempDir } from '../support/temp.js';

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

describe('redis store: database selection, deadlines, authentication', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('refuses a database index the server does not have before writing anything (not db 0)', async () => {
    const keyPrefix = uniquePrefix();
    cleanups.push(() => deletePrefix(keyPrefix));
    const refused = await failure(openRedisStore(`${REDIS_URL}/99?prefix=${keyPrefix}`));
    expect(isEventyError(refused, 'invalid-argument'), refused.message).toBe(true);
    expect(refused.message).toMatch(/refuses database 99/);
    expect(await keysUnder(keyPrefix)).toEqual([]);
  });

  it('gives up on a server that accepts connections and never answers, at the connect deadline', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      silent.close();
      await once(silent, 'close');
    });
    const { port } = silent.address() as { port: number };
    const started = performance.now();
    const refused = await failure(openRedisStore(`redis://127.0.0.1:${port}?connectTimeout=300`));
    expect(isEventyError(refused, 'unavailable'), refused.message).toBe(true);
    expect(refused.message).toMatch(/no answer within 300 ms/);
    // Bounded by the deadline, not by the test's timeout (generous: the machine is shared).
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('fails a call to a frozen server (SIGSTOP) with unavailable at the command deadline, and goes on once it thaws', async () => {
    const port = await freePort();
    const server: ChildProcess = await startRedisServer(port, await tempDir(), 'none');
    cleanups.push(async () => {
      server.kill('SIGCONT');
      await killServer(server);
    });
    await using store = await openRedisStore(`redis://127.0.0.1:${port}?commandTimeout=300`);
    await store.append([draft(0)]);
    server.kill('SIGSTOP');
    const refused = await failure(store.append([draft(1)]));
    expect(isEventyError(refused, 'unavailable'), refused.message).toBe(true);
    await expect(store.head()).rejects.toMatchObject({ code: 'unavailable' });
    server.kill('SIGCONT');
    for (;;) {
      // The calls that timed out are answered once the server runs again; then new ones go through.
      const result = await store.append([draft(2)]).catch((e: unknown) => e as Error);
      if (!(result instanceof Error)) break;
      expect(isEventyError(result, 'unavailable'), result.message).toBe(true);
    }
    expect(await store.head()).toBeGreaterThanOrEqual(2);
  });

  it('says that authentication failed for a wrong password (not "Connection is closed.")', async () => {
    const port = await freePort();
    const server = await startRedisServer(port, await tempDir(), 'none', ['--requirepass', 'right-one']);
    cleanups.push(() => killServer(server));
    const refused = await failure(openRedisStore(`redis://:wrong-one@127.0.0.1:${port}?connectTimeout=2000`));
    expect(isEventyError(refused, 'invalid-argument'), refused.message).toBe(true);
    expect(refused.message).toMatch(/authentication failed/);
    expect(refused.message).not.toContain('wrong-one');
    const none = await failure(openRedisStore(`redis://127.0.0.1:${port}?connectTimeout=2000`));
    expect(none.message).toMatch(/authentication failed|NOAUTH/);
    await using store = await openRedisStore(`redis://:right-one@127.0.0.1:${port}`);
    expect((await store.append([draft(0)])).positions).toEqual([0]);
  });
});
