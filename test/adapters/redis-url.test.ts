import { describe, expect, it } from 'vitest';
import { openStore } from '../../adapters/open-store.js';
import { openRedisStore, parseRedisUrl } from '../../adapters/redis/index.js';
import { isEventyError } from '../../engine/errors.js';
import { freePort } from '../support/redis.js';

function invalid(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(isEventyError(e, 'invalid-argument'), String(e)).toBe(true);
    return (e as Error).message;
  }
  throw new Error('expected an invalid-argument error');
}

describe('redis store URL', () => {
  it('reads host, port, db, user, password and the log options', () => {
    const p = parseRedisUrl(
      'redis://alice:s%40cret@example.test:6380/3?prefix=app&log=orders&segmentRecords=100&connectTimeout=500&commandTimeout=700',
    );
    expect(p.redis).toMatchObject({
      host: 'example.test',
      port: 6380,
      db: 3,
      username: 'alice',
      password: 's@cret',
    });
    expect(p.redis.tls).toBeUndefined();
    expect(p.config).toEqual({
      keyPrefix: 'app',
      log: 'orders',
      segmentRecords: 100,
      segmentExplicit: true,
      connectTimeout: 500,
      commandTimeout: 700,
    });
    expect(p.display).not.toContain('s%40cret');
    expect(p.display).toContain('***');
  });

  it('has defaults, and rediss:// turns TLS on', () => {
    const p = parseRedisUrl('rediss://cache.test');
    expect(p.redis).toMatchObject({
      host: 'cache.test',
      port: 6379,
      db: 0,
      tls: { servername: 'cache.test' },
    });
    expect(p.config).toEqual({
      keyPrefix: 'eventy',
      log: 'default',
      segmentRecords: 65_536,
      segmentExplicit: false,
      connectTimeout: 10_000,
      commandTimeout: 10_000,
    });
    expect(parseRedisUrl('redis://[::1]:7000/').redis).toMatchObject({ host: '::1', port: 7000, db: 0 });
  });

  it('options in code win over the query', () => {
    const p = parseRedisUrl('redis://h/0?prefix=a&log=b', { log: 'c' });
    expect(p.config).toMatchObject({ keyPrefix: 'a', log: 'c' });
  });

  it('refuses a deadline that is not a number of milliseconds', () => {
    expect(invalid(() => parseRedisUrl('redis://h/0?commandTimeout=soon'))).toMatch(
      /commandTimeout .* got: "soon"/,
    );
    expect(invalid(() => parseRedisUrl('redis://h/0', { connectTimeout: 0 }))).toMatch(/connectTimeout/);
  });

  it('names what is wrong, with the value', () => {
    expect(invalid(() => parseRedisUrl('not a url'))).toContain('not a url');
    expect(invalid(() => parseRedisUrl('http://h:1'))).toContain('http://h:1');
    expect(invalid(() => parseRedisUrl('redis://h/abc'))).toContain('/abc');
    expect(invalid(() => parseRedisUrl('redis://h/0?colour=red'))).toContain('colour');
    expect(invalid(() => parseRedisUrl('redis://h/0?log=a&log=b'))).toContain('log');
    expect(invalid(() => parseRedisUrl('redis://h/0?segmentRecords=lots'))).toContain('lots');
    expect(invalid(() => parseRedisUrl('redis://h/0?segmentRecords=0'))).toContain('segmentRecords');
    expect(invalid(() => parseRedisUrl('redis://h/0?log=a{b}'))).toContain('a{b}');
    expect(invalid(() => parseRedisUrl('redis://h', { keyPrefix: '' }))).toContain('keyPrefix');
    expect(invalid(() => parseRedisUrl('redis://h', { log: 42 } as never))).toContain('42');
    expect(invalid(() => parseRedisUrl('redis://h', { segmentRecords: 1.5 }))).toContain('1.5');
    expect(invalid(() => parseRedisUrl('redis://h', { prefix: 'x' } as never))).toContain('prefix');
  });

  it('never prints a password in an error', () => {
    expect(invalid(() => parseRedisUrl('redis://u:hunter2@h/x'))).not.toContain('hunter2');
  });

  it('rejects a bad URL before any I/O, and an unreachable server with unavailable', async () => {
    await expect(openRedisStore('redis://h/0?nope=1')).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(openStore('rediss://h/0?nope=1')).rejects.toMatchObject({ code: 'invalid-argument' });
    const port = await freePort();
    await expect(openRedisStore(`redis://u:hunter2@127.0.0.1:${port}`)).rejects.toSatisfy(
      (e: Error) => isEventyError(e, 'unavailable') && !e.message.includes('hunter2'),
    );
  });
});
