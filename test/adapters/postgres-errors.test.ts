import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../adapters/open-store.js';
import { openPostgresStore, PostgresConnectError } from '../../adapters/postgres/index.js';
import { isEventyError, type ErrorCode } from '../../engine/errors.js';
import { pgUrl, POSTGRES_URL } from '../support/postgres.js';

async function failure(p: Promise<unknown>, code: ErrorCode): Promise<Error> {
  const e = await p.then(
    () => new Error('expected a rejection, but the call succeeded'),
    (e: unknown) => e as Error,
  );
  expect(isEventyError(e, code), `expected ${code}, got ${String(e)}`).toBe(true);
  return e;
}

function withUrl(change: (url: URL) => void): string {
  const url = new URL(POSTGRES_URL);
  change(url);
  return url.toString();
}

describe('postgres store: what a wrong URL gets', () => {
  it.each([
    ['postgres://127.0.0.1/test?nope=1', /unknown postgres store URL parameter "nope".*expected schema, log/],
    ['postgres://127.0.0.1/test?schema=Bad-Name', /schema must be .* got: "Bad-Name"/],
    ['postgres://127.0.0.1/test?log=', /log must be 1 to 40 .* got: ""/],
    ['postgres://127.0.0.1/test?timeout=0', /timeout must be an integer from 1/],
    ['postgres://127.0.0.1/test?pool=many', /pool must be an integer .* got: "many"/],
    ['postgres://127.0.0.1/test?log=a&log=b', /log is given twice/],
    ['postgres://127.0.0.1/test?sslmode=maybe', /sslmode must be one of disable, require, verify-full/],
    ['postgres://127.0.0.1/a/b', /one database name/],
    ['postgres://[::1/test', /not a valid URL/],
  ])('%s: invalid-argument naming the wrong part', async (url, message) => {
    const e = await failure(openStore(url), 'invalid-argument');
    expect(e.message).toMatch(message);
  });

  it('hides the password in messages', async () => {
    const e = await failure(openStore('postgres://me:s3cret@wh@127.0.0.1/test?nope=1'), 'invalid-argument');
    expect(e.message).not.toContain('s3cret');
    expect(e.message).toContain('me:***@127.0.0.1');
  });

  it('a database that does not exist: PostgresConnectError (database), naming it', async () => {
    const name = `eventy_missing_${randomBytes(4).toString('hex')}`;
    const e = await failure(
      openStore(
        withUrl((u) => {
          u.pathname = `/${name}`;
        }),
      ),
      'invalid-argument',
    );
    expect(e instanceof PostgresConnectError && e.problem).toBe('database');
    expect(e.message).toContain(name);
    expect(e.message).toMatch(/expected an existing database/);
  });

  it('a user the server does not know: PostgresConnectError (credentials)', async () => {
    const e = await failure(
      openStore(
        withUrl((u) => {
          u.username = `nobody_${randomBytes(4).toString('hex')}`;
        }),
      ),
      'invalid-argument',
    );
    expect(e instanceof PostgresConnectError && e.problem).toBe('credentials');
    expect(e.message).toMatch(/refused the credentials of user "nobody_/);
  });

  it('nothing listening: unavailable', async () => {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    server.close();
    await once(server, 'close');
    const e = await failure(openPostgresStore(`postgres://postgres@127.0.0.1:${port}/test`), 'unavailable');
    expect(e.message).toContain(`127.0.0.1:${port}`);
  });

  it('a server that accepts and never answers: unavailable once the deadline passes', async () => {
    const sockets: Socket[] = [];
    const server = createServer((s) => sockets.push(s));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    try {
      await failure(
        openPostgresStore(pgUrl({ timeout: 300 }, `postgres://postgres@127.0.0.1:${port}/test`)),
        'unavailable',
      );
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });
});
