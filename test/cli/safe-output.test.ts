import { describe, expect, it } from 'vitest';
import { createQueueManager, openStore, type RecordDraft } from '../../index.js';
import { cliTestbed } from '../support/cli.js';

const CLEAR = '\u001b[2J';
const TITLE = '\u001b]0;pwned\u0007';

describe('human output escapes what came from records', () => {
  const { cli, store } = cliTestbed();

  /** A log written by something that did not check names (an older release, another tool). */
  async function hostileLog(): Promise<string> {
    const s = await openStore(store.url);
    const queue = `evil${CLEAR}q`;
    const drafts: RecordDraft[] = [
      {
        type: 'subscriber.registered',
        queue,
        subscriberId: `${queue}/s${TITLE}`,
        name: `s${TITLE}`,
        delivery: 'competing',
        retry: { limit: 0, minBackoff: 10, maxBackoff: 10 },
        timeout: 0,
        startPosition: 0,
      },
      {
        type: 'event.published',
        queue,
        eventId: `id${CLEAR}`,
        payload: { text: `p${TITLE}\u009b31m` },
        headers: { correlationId: `c${TITLE}`, key: `k${CLEAR}`, [`h${CLEAR}`]: `v${TITLE}\nline` },
      },
      {
        type: 'claim.acquired',
        queue,
        eventId: `id${CLEAR}`,
        eventPosition: 1,
        subscriberId: `${queue}/s${TITLE}`,
        workerId: `w${CLEAR}`,
        attempt: 1,
        leaseMs: 60_000,
      },
      {
        type: 'result.recorded',
        queue,
        eventId: `id${CLEAR}`,
        eventPosition: 1,
        subscriberId: `${queue}/s${TITLE}`,
        workerId: `w${CLEAR}`,
        attempt: 1,
        status: 'failed',
        durationMs: 1,
        error: { name: 'Error', message: `boom${CLEAR}${TITLE}\nsecond line` },
      },
    ];
    await s.append(drafts);
    await s.close();
    return `id${CLEAR}`;
  }

  it('tail, inspect, stats and replay print control characters escaped', async () => {
    const id = await hostileLog();
    const outputs: string[] = [];
    for (const args of [
      ['tail'],
      ['inspect', id],
      ['stats'],
      ['replay', '--view', 'subscribers'],
      ['replay', '--view', 'results'],
      ['replay', '--view', 'workers'],
      ['replay', '--view', 'events'],
    ]) {
      const r = await cli.run([...args, '--store', store.url], { env: { FORCE_COLOR: '0' } });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      outputs.push(r.stdout, r.stderr);
    }
    const all = outputs.join('\n');
    // eslint-disable-next-line no-control-regex -- what must not reach a terminal
    expect(all).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(all).toContain('\\u001b[2J');
    expect(all).toContain('\\u001b]0;pwned\\u0007');
  });

  it('--json output stays JSON with the values as they are', async () => {
    const id = await hostileLog();
    const r = await cli.run(['tail', '--json', '--store', store.url]);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { eventId?: string });
    expect(lines.some((l) => l.eventId === id)).toBe(true);
  });

  it('queue and subscriber names are checked at the API edge', async () => {
    await using m = await createQueueManager({ store: 'memory:', handleSignals: false });
    for (const name of ['a\nb', 'nul\u0000', `x${CLEAR}`, 'c1\u009b', '', 'x'.repeat(201)]) {
      expect(() => m.queue(name)).toThrow(expect.objectContaining({ code: 'invalid-argument' }) as Error);
    }
    expect(m.queue('ok name: ünïcode ✓').name).toBe('ok name: ünïcode ✓');
    await expect(m.queue('jobs').subscribe(() => undefined, { name: `s${TITLE}` })).rejects.toMatchObject({
      code: 'invalid-argument',
    });
  });
});
