import { afterEach, describe, expect, it } from 'vitest';
import { unbatched } from '../../engine/records.js';
import { Children } from '../support/children.js';
import { readAll } from '../support/log.js';
import { tempDir } from '../support/temp.js';

const children = new Children();
afterEach(() => children.killAll());

type Rec = { type: string; pid?: number };

describe('examples/eventide-app (Eventide order processing under eventy run)', () => {
  it('handles every order once in 3 processes, with the expected retries, timeout and hook calls', async () => {
    const store = `file:${await tempDir()}`;
    const app = children.spawn('examples/eventide-app/main.ts', [], { env: { EVENTY_STORE: store } });
    const exit = await app.exited;
    expect(exit, app.stderr()).toEqual({ code: 0, signal: null });
    expect(app.stderr()).toMatch(/every worker process finished/);

    // Each handler's outcome per event, from the log (skipped: its filter turned the order down).
    expect(app.lines.filter((l) => l.startsWith('summary '))).toEqual([
      'summary processNewOrder: #1 ok, #2 ok, #3 ok, #4 ok (skipped 8)',
      'summary processPayment: #5 failed→ok, #6 failed→ok, #7 ok, #8 failed (skipped 8)',
      'summary handleShippedOrder: #9 ok, #10 ok (skipped 10)',
      'summary buildReport: #12 timeout→ok (skipped 11)',
    ]);

    // Lines from the worker processes: `[pid] text`.
    const lines = app.lines.flatMap((l) => {
      const m = /^\[(\d+)\] (.*)$/.exec(l);
      return m ? [{ pid: Number(m[1]), text: m[2]! }] : [];
    });
    const texts = lines.map((l) => l.text);
    const count = (re: RegExp) => texts.filter((t) => re.test(t)).length;
    // Every order a handler took ran once per attempt that succeeded: never twice.
    const runs = texts.filter((t) =>
      /^(processNewOrder|processPayment|handleShippedOrder|buildReport) #/.test(t),
    );
    expect(new Set(runs).size).toBe(runs.length);
    expect(runs.sort()).toEqual(
      [
        'buildReport #12 attempt 2',
        'handleShippedOrder #10',
        'handleShippedOrder #9',
        'processNewOrder #1',
        'processNewOrder #2',
        'processNewOrder #3',
        'processNewOrder #4',
        'processPayment #5 attempt 2',
        'processPayment #6 attempt 2',
        'processPayment #7 attempt 1',
      ].sort(),
    );
    // Hooks: one received per attempt, then exactly one of success / failure with the framework's verdict.
    const received = texts.filter((t) => t.startsWith('received ')).map((t) => t.slice('received '.length));
    const verdicts = texts
      .filter((t) => /^(success|failure) /.test(t))
      .map((t) => t.replace(/^(success|failure) /, '').replace(/ \w+Error$/, ''));
    expect(new Set(received).size).toBe(received.length);
    expect(verdicts.sort()).toEqual([...received].sort());
    expect(received).toHaveLength(14);
    expect(count(/^success /)).toBe(10);
    expect(texts.filter((t) => t.startsWith('failure ')).sort()).toEqual([
      'failure buildReport #12 attempt 1 TimeoutError',
      'failure processPayment #5 attempt 1 TransientError',
      'failure processPayment #6 attempt 1 TransientError',
      'failure processPayment #8 attempt 1 RangeError',
    ]);
    // on_start and on_shutdown once in each of the 3 processes.
    const pidsOf = (text: string) => lines.filter((l) => l.text === text).map((l) => l.pid);
    expect(new Set(pidsOf('on_start orders')).size).toBe(3);
    expect(pidsOf('on_start orders')).toHaveLength(3);
    expect(pidsOf('on_shutdown orders').sort()).toEqual(pidsOf('on_start orders').sort());

    const joined = (await readAll(store))
      .flatMap((r) => unbatched(r) as unknown as Rec[])
      .filter((r) => r.type === 'worker.joined');
    expect(new Set(joined.map((r) => r.pid))).toEqual(new Set(pidsOf('on_start orders')));
  }, 60_000);
});
