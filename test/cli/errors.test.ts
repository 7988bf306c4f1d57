import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../index.js';
import { Cli, ensureBuilt, tempStore } from '../support/cli.js';

const COMMANDS = [
  'demo',
  'tail',
  'replay',
  'inspect',
  'stats',
  'publish',
  'run',
  'verify',
  'export',
  'import',
];

describe('eventy: help, bad input and failures', () => {
  const cli = new Cli();
  let store: Awaited<ReturnType<typeof tempStore>>;

  beforeAll(async () => {
    ensureBuilt();
    store = await tempStore();
    const s = await openStore(store.url);
    await s.append([{ type: 'event.published', queue: 'q', eventId: 'e0', payload: 1, headers: {} }]);
    await s.close();
  });
  afterAll(async () => {
    await cli.killAll();
    await store.cleanup();
  });

  it.each(COMMANDS)('%s --help prints usage with examples and exits 0', async (command) => {
    const r = await cli.run([command, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: eventy ${command}`);
    expect(r.stdout).toContain('--store <url>');
    expect(r.stdout).toContain('Examples:');
  });

  it('the program lists its commands and prints its version', async () => {
    const help = await cli.run(['--help']);
    expect(help.code).toBe(0);
    for (const c of COMMANDS) expect(help.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    const version = await cli.run(['--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it.each([
    [['tail', '--bogus'], /^eventy: unknown option '--bogus'$/],
    [['frobnicate'], /^eventy: unknown command 'frobnicate'$/],
    [
      ['replay', '--view', 'nope'],
      /^eventy: option '--view <view>' argument 'nope' is invalid\. Allowed choices are claims, workers/,
    ],
    [
      ['replay', '--to', 'yesterday'],
      /^eventy: option '--to <point>' argument 'yesterday' is invalid\. expected a position/,
    ],
    [
      ['tail', '-n', '-3'],
      /^eventy: option '-n, --lines <n>' argument '-3' is invalid\. expected an integer ≥ 0\.$/,
    ],
    [['run', 'x.js', '--processes', '0'], /argument '0' is invalid\. expected an integer ≥ 1\.$/],
    [['tail', '--from', '3', '-n', '2'], /^eventy: give either --from or -n, not both$/],
    [['inspect'], /^eventy: missing required argument 'event-id'$/],
    [['inspect', 'abc'], /^eventy: event id must have at least 6 characters, got: "abc"$/],
    [['export'], /^eventy: required option '--to <url>' not specified$/],
    [['publish', 'q', '{nope'], /^eventy: payload is not valid JSON/],
    [
      ['publish', 'q', '1', '--header', 'novalue'],
      /^eventy: --header must look like name=value, got: "novalue"$/,
    ],
    [['replay', '--to', '5'], /^eventy: --to 5 is past the end of the log \(last position 0\)$/],
  ])('%j: exit 2 with one clear line', async (args, message) => {
    const r = await cli.run([...args, '--store', store.url]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  });

  it('a bad store URL is a bad value: exit 2', async () => {
    const r = await cli.run(['tail', '--store', 'ftp://x']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/^eventy: unknown store URL "ftp:\/\/x": expected memory:/);
  });

  it('a runtime failure exits 1 with one line, and the stack only with DEBUG', async () => {
    const r = await cli.run(['inspect', 'not-an-event', '--store', store.url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('eventy: event not found: not-an-event\n');
    const debug = await cli.run(['inspect', 'not-an-event', '--store', store.url], { env: { DEBUG: '1' } });
    expect(debug.code).toBe(1);
    expect(debug.stderr.split('\n').length).toBeGreaterThan(3);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });

  it('commands that only read do not create a log where there is none', async () => {
    const missing = `file:${store.dir}/nothing-here`;
    for (const command of [
      ['tail'],
      ['replay'],
      ['verify'],
      ['stats'],
      ['inspect', 'abcdef'],
      ['export', '--to', `${missing}-2`],
    ]) {
      const r = await cli.run([...command, '--store', missing]);
      expect(r.code, command.join(' ')).toBe(1);
      expect(r.stderr).toBe(`eventy: log not found: ${missing}\n`);
    }
  });

  it('run and demo need a store that processes can share', async () => {
    const r = await cli.run(['demo', '--store', 'memory:']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^eventy: eventy demo runs worker processes: memory: lives in one process/);
  });

  it('EVENTY_STORE is the default store', async () => {
    const r = await cli.run(['tail', '--json'], { env: { EVENTY_STORE: store.url } });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ eventId: 'e0', position: 0 });
  });
});
