import { afterEach, describe, expect, it } from 'vitest';
import { unbatched } from '../../engine/records.js';
import { Children } from '../support/children.js';
import { readAll } from '../support/log.js';
import { tempDir } from '../support/temp.js';

const children = new Children();
afterEach(() => children.killAll());

type Rec = { type: string; queue?: string; status?: string; error?: { name?: string } };

describe('examples/ezq', () => {
  it('returns after an End published before the consumer, fails on an Interrupt, drains on a stop signal', async () => {
    const store = `file:${await tempDir()}`;
    const app = children.spawn('examples/ezq/main.ts', [], { env: { EVENTY_STORE: store } });
    const exit = await app.exited;
    expect(exit, app.stderr()).toEqual({ code: 0, signal: null });
    expect(app.stderr()).toBe('');
    // The End: exactly the three users before it, then the consumer returned.
    expect(app.lines.slice(0, 3).sort()).toEqual([
      'New user ada created!',
      'New user grace created!',
      'New user linus created!',
    ]);
    expect(app.lines.slice(3)).toEqual([
      'Exiting main... (End)',
      'Slow handler aborted',
      'Slow handler aborted',
      'Consumer interrupted: InterruptedError',
      'Critical error: disk full',
      'Consumer stopped',
    ]);
    const results = (await readAll(store))
      .flatMap((r) => unbatched(r) as unknown as Rec[])
      .filter((r) => r.type === 'result.recorded');
    const of = (queue: string) => results.filter((r) => r.queue === queue);
    expect(of('users').map((r) => r.status)).toEqual(['ok', 'ok', 'ok']); // not the one after the End
    expect(of('slow').map((r) => [r.status, r.error?.name])).toEqual([
      ['failed', 'InterruptedError'],
      ['failed', 'InterruptedError'],
    ]);
    expect(of('alerts').map((r) => r.status)).toEqual(['ok']);
  });
});
