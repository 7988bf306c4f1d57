import { describe, expect, it } from 'vitest';
import { openStore, type RecordDraft } from '../../index.js';
import { cliTestbed } from '../support/cli.js';

describe('duplicate results', () => {
  const { cli, store } = cliTestbed();

  it('inspect labels a repeated result as a duplicate of the first, not as fenced', async () => {
    const s = await openStore(store.url);
    const skip = (): RecordDraft => ({
      type: 'result.recorded',
      queue: 'q',
      subscriberId: 'q/s',
      workerId: 'w1',
      eventId: 'evt-12345678',
      eventPosition: 1,
      attempt: 0,
      status: 'skipped',
      durationMs: 0,
    });
    await s.append([
      {
        type: 'subscriber.registered',
        queue: 'q',
        subscriberId: 'q/s',
        name: 's',
        delivery: 'competing',
        retry: { limit: 0, minBackoff: 0, maxBackoff: 0 },
        timeout: 0,
        startPosition: 0,
      },
    ]);
    await s.append([
      { type: 'event.published', queue: 'q', eventId: 'evt-12345678', payload: 1, headers: {} },
    ]);
    await s.append([skip()]);
    await s.append([skip()]);
    await s.close();
    const out = await cli.run(['inspect', 'evt-12345678', '--store', store.url]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain('duplicate of the result at position 2');
    expect(out.stdout).not.toContain('fenced');
  });
});
